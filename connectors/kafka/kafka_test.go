package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
)

func cluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produce writes n records "k<i>" / {"i":<i>} to topic, to partition i%parts.
func produce(t *testing.T, brokers, topic string, n, parts int, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{
			Topic: topic, Partition: int32(i % parts),
			Key:       fmt.Appendf(nil, "k%d", i),
			Value:     fmt.Appendf(nil, `{"i":%d}`, i),
			Timestamp: time.UnixMilli(int64(1_700_000_000_000 + i)),
		})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// openSrc opens a source of pipeline (none: a preview) with the default
// group prefix "sluice".
func openSrc(t *testing.T, opts map[string]string, pipeline string, resume runtime.Offsets) *Source {
	t.Helper()
	src, err := OpenSource(ctxT(t), runtime.SourceConfig{
		Spec:     &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: opts},
		Pipeline: pipeline,
		GroupID:  "sluice",
		Resume:   resume,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*Source)
}

// pollN polls until n records arrived and returns copies of them.
func pollN(t *testing.T, s *Source, n int) []runtime.Record {
	t.Helper()
	ctx := ctxT(t)
	var out []runtime.Record
	for len(out) < n {
		recs, err := s.Poll(ctx)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", len(out), n, err)
		}
		for _, r := range recs {
			r.Key = append([]byte(nil), r.Key...)
			r.Value = append([]byte(nil), r.Value...)
			out = append(out, r)
		}
	}
	if len(out) != n {
		t.Fatalf("got %d records, want %d", len(out), n)
	}
	return out
}

// pollNone checks that nothing arrives for a while.
func pollNone(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	recs, err := s.Poll(ctx)
	if len(recs) != 0 || err == nil {
		t.Fatalf("got %d records (err %v), want none", len(recs), err)
	}
}

func TestConsumeCommitReopen(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(4, "orders"))
	// Three of four partitions get records: Partitions must still list all.
	produce(t, brokers, "orders", 30, 3)
	opts := map[string]string{"brokers": brokers, "topic": "orders", "format": "json"}

	s := openSrc(t, opts, "p1", nil)
	if got := fmt.Sprint(s.Partitions()); got != "[0 1 2 3]" {
		t.Fatalf("partitions %s, want [0 1 2 3]", got)
	}
	recs := pollN(t, s, 30)
	next := map[int32]int64{}
	for _, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d (out of order)", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
		var v struct{ I int }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != fmt.Sprintf("k%d", v.I) || r.Topic != "orders" || int(r.Partition) != v.I%3 {
			t.Fatalf("record %+v does not match what was produced", r)
		}
		if want := time.UnixMilli(int64(1_700_000_000_000 + v.I)).UnixNano(); r.Timestamp != want {
			t.Fatalf("timestamp %d, want %d", r.Timestamp, want)
		}
	}
	// Commit part of what was read; the reopened source starts there.
	if err := s.Commit(ctxT(t), runtime.Offsets{0: 4, 1: 10, 2: 10}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openSrc(t, opts, "p1", nil)
	recs = pollN(t, s, 6)
	for _, r := range recs {
		if r.Partition != 0 || r.Offset < 4 {
			t.Fatalf("after reopen got partition %d offset %d, want partition 0 from offset 4", r.Partition, r.Offset)
		}
	}
	pollNone(t, s)
}

func TestResumeWinsOverCommitted(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "orders"))
	produce(t, brokers, "orders", 20, 2)
	opts := map[string]string{"brokers": brokers, "topic": "orders"}
	s := openSrc(t, opts, "g", nil)
	pollN(t, s, 20)
	if err := s.Commit(ctxT(t), runtime.Offsets{0: 10, 1: 10}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The checkpoint is behind the commit: its offsets win.
	s = openSrc(t, opts, "g", runtime.Offsets{0: 7, 1: 9})
	recs := pollN(t, s, 4)
	got := map[int32][]int64{}
	for _, r := range recs {
		got[r.Partition] = append(got[r.Partition], r.Offset)
	}
	if fmt.Sprint(got) != "map[0:[7 8 9] 1:[9]]" {
		t.Fatalf("resumed at %v, want map[0:[7 8 9] 1:[9]]", got)
	}
}

func TestStartLatestAndNoGroup(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "orders"))
	produce(t, brokers, "orders", 5, 1)
	s := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders", "start": "latest"}, "g", nil)
	pollNone(t, s)
	produce(t, brokers, "orders", 2, 1)
	if recs := pollN(t, s, 2); recs[0].Offset != 5 {
		t.Fatalf("start=latest read offset %d first, want 5", recs[0].Offset)
	}

	// Without a group (a preview) the source reads from start and Commit
	// changes nothing.
	p := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders"}, "", runtime.Offsets{0: 3})
	if recs := pollN(t, p, 4); recs[0].Offset != 3 {
		t.Fatalf("resume without group read offset %d first, want 3", recs[0].Offset)
	}
	if err := p.Commit(ctxT(t), runtime.Offsets{0: 7}); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLetter(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "orders"))
	produce(t, brokers, "orders", 2, 2)
	s := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders"}, "g", nil)
	recs := pollN(t, s, 2)
	bad := recs[1]
	if err := s.DeadLetter(ctxT(t), &bad, "not a JSON object"); err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("orders.dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollFetches(ctxT(t))
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	dl := fs.Records()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	h := map[string]string{}
	for _, x := range dl[0].Headers {
		h[x.Key] = string(x.Value)
	}
	want := map[string]string{
		"sluice.error": "not a JSON object", "sluice.topic": "orders",
		"sluice.partition": fmt.Sprint(bad.Partition), "sluice.offset": fmt.Sprint(bad.Offset),
	}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	if string(dl[0].Key) != string(bad.Key) || string(dl[0].Value) != string(bad.Value) {
		t.Fatalf("dead letter %q=%q, want the original %q=%q", dl[0].Key, dl[0].Value, bad.Key, bad.Value)
	}
}

func TestSASL(t *testing.T) {
	brokers := cluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "sluice", "s3cret"),
		kfake.Superuser("SCRAM-SHA-256", "sluice", "s3cret"), kfake.Superuser("SCRAM-SHA-512", "sluice", "s3cret"),
		kfake.SeedTopics(1, "orders"))
	produce(t, brokers, "orders", 3, 1, kgo.SASL(plainAuth("sluice", "s3cret")))
	t.Setenv("SLUICE_TEST_KAFKA_PASSWORD", "s3cret")
	opts := map[string]string{
		"brokers": brokers, "topic": "orders", "security_protocol": "SASL_PLAINTEXT",
		"sasl_username": "sluice", "sasl_password": "env:SLUICE_TEST_KAFKA_PASSWORD",
	}
	for _, mech := range []string{"PLAIN", "scram-sha-256", "SCRAM-SHA-512"} {
		opts["sasl_mechanism"] = mech
		s := openSrc(t, opts, "g."+mech, nil)
		pollN(t, s, 3)
		s.Close()
	}
	// A password the server sealed for its catalog opens here.
	secret.SetKey([]byte("test key"))
	sealed, err := secret.Seal("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	opts["sasl_password"], opts["sasl_mechanism"] = sealed, "PLAIN"
	pollN(t, openSrc(t, opts, "g.sealed", nil), 3)

	// kfake drops the connection on a failed authentication (a real broker
	// answers with an error), so the client retries until ctx ends.
	opts["sasl_password"] = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = OpenSource(ctx, runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "orders", Options: opts}, Pipeline: "g"})
	if err == nil {
		t.Fatal("a wrong password opened the source")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error repeats the password: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"topic": "t"}, "option brokers is required"},
		{map[string]string{"brokers": "x:1", "topic": "t", "format": "avro"}, "option format = 'avro': want one of 'json'"},
		{map[string]string{"brokers": "x:1", "topic": "t", "start": "beginning"}, "want one of 'earliest', 'latest'"},
		{map[string]string{"brokers": "x:1", "topic": "t", "idle_timeout": "5"}, "option idle_timeout = '5': want a duration"},
		{map[string]string{"brokers": "x:1", "topic": "t", "bogus": "1"}, `unknown option "bogus" (known: brokers, dlq_topic, format, group_id`},
		{map[string]string{"brokers": "x:1", "topic": "t", "sasl_password": "env:SLUICE_NOT_SET_ANYWHERE"}, "environment variable SLUICE_NOT_SET_ANYWHERE is not set"},
		{map[string]string{"brokers": "x:1", "topic": "t", "security_protocol": "SASL_SSL"}, "option sasl_username is required"},
		{map[string]string{"brokers": "x:1", "topic": "t", "security_protocol": "SSL", "tls_ca": "/nonexistent.pem"}, "option tls_ca = '/nonexistent.pem': cannot read the CA file"},
	} {
		_, err := OpenSource(ctxT(t), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "o", Options: tc.opts}, Pipeline: "g"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `open kafka source "o": `) {
			t.Errorf("options %v: error %v, want one containing %q", tc.opts, err, tc.want)
		}
	}
}

func TestMissingTopic(t *testing.T) {
	brokers := cluster(t)
	_, err := OpenSource(ctxT(t), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "o", Options: map[string]string{"brokers": brokers, "topic": "nope"}}, Pipeline: "g"})
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Fatalf("error %v, want topic does not exist", err)
	}
}

// TestKcatProducer reads records written by a third-party client
// (librdkafka's kcat), as users' producers would write them.
func TestKcatProducer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	brokers := cluster(t, kfake.SeedTopics(1, "orders"))
	cmd := exec.CommandContext(ctxT(t), kcat, "-P", "-b", brokers, "-t", "orders", "-K", ":")
	cmd.Stdin = strings.NewReader("a:{\"id\":1}\nb:{\"id\":2}\nc:{\"id\":3}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	s := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders"}, "g", nil)
	recs := pollN(t, s, 3)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Key)+"="+string(r.Value))
		if r.Timestamp < time.Now().Add(-time.Minute).UnixNano() {
			t.Fatalf("timestamp %d is not the produce time", r.Timestamp)
		}
	}
	if fmt.Sprint(got) != `[a={"id":1} b={"id":2} c={"id":3}]` {
		t.Fatalf("got %v", got)
	}
}

func TestSink(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(3, "out"))
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.String)},
		{Name: "n", Type: dag.T(dag.Int64).WithNull(true)},
		{Name: "at", Type: dag.Timestamp},
	}
	snk, err := OpenSink(ctxT(t), runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "out", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "out", "key": "id"}},
		Schema: schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	b := &runtime.Batch{Len: 2, Vecs: []runtime.Vector{
		{Type: schema[0].Type, Data: []byte("ab"), Offs: []uint32{0, 1, 2}},
		{Type: schema[1].Type, I64: []int64{5, 0}, Nulls: []bool{false, true}},
		{Type: schema[2].Type, I64: []int64{1_700_000_000_123_000_000, 0}},
	}}
	for range 2 { // the buffers are reused by the second Write
		if err := snk.Write(ctxT(t), b, "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if err := snk.(runtime.Flusher).Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int{}
	for n := 0; n < 4; {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			got[string(r.Key)+" "+string(r.Value)]++
			n++
		}
	}
	want := map[string]int{
		`a {"id":"a","n":5,"at":"2023-11-14 22:13:20.123"}`:    2,
		`b {"id":"b","n":null,"at":"1970-01-01 00:00:00.000"}`: 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestLag(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "orders"))
	produce(t, brokers, "orders", 40, 2)
	opts := map[string]string{"brokers": brokers, "topic": "orders", "format": "json"}

	// Resumed at offset 5 of partition 0 and 15 of partition 1: 20 + 20
	// records produced, so 15 + 5 are left to read.
	s := openSrc(t, opts, "g", runtime.Offsets{0: 5, 1: 15})
	// Known before any fetch, from the end offsets listed at open: the
	// runtime counts no partition idle while the source is behind.
	if got := s.Lag(); got != 20 {
		t.Fatalf("lag before any fetch = %d, want 20", got)
	}
	pollN(t, s, 20)
	if got := s.Lag(); got != 0 {
		t.Fatalf("lag after reading everything = %d, want 0", got)
	}
	produce(t, brokers, "orders", 10, 2)
	pollN(t, s, 10)
	if got := s.Lag(); got != 0 {
		t.Fatalf("lag after reading the new records = %d, want 0", got)
	}
	// Behind by 5 in partition 0; partition 1 started at 'latest' and has
	// read nothing yet, so it counts as caught up.
	s.hwm, s.next = map[int32]int64{0: 50, 1: 30}, map[int32]int64{0: 45, 1: -1}
	if got := s.Lag(); got != 5 {
		t.Fatalf("lag = %d, want 5", got)
	}
}

// TestRecordsStable checks the StableRecords promise: the keys and values
// of one Poll are unchanged after later Polls, with and without
// compression, and one Poll returns at most pollMax records.
func TestRecordsStable(t *testing.T) {
	for name, codec := range map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "snappy": kgo.SnappyCompression()} {
		t.Run(name, func(t *testing.T) {
			brokers := cluster(t, kfake.SeedTopics(2, "orders"))
			const n = 3*pollMax + 100
			produce(t, brokers, "orders", n, 2, kgo.ProducerBatchCompression(codec))
			s := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders", "format": "json"}, "", nil)
			if !s.RecordsStable() {
				t.Fatal("RecordsStable() = false")
			}
			ctx := ctxT(t)
			var kept, copies []runtime.Record
			for len(kept) < n {
				recs, err := s.Poll(ctx)
				if err != nil {
					t.Fatalf("after %d of %d records: %v", len(kept), n, err)
				}
				if len(recs) > pollMax {
					t.Fatalf("one Poll returned %d records, more than %d", len(recs), pollMax)
				}
				for _, r := range recs {
					kept = append(kept, r)
					c := r
					c.Key = append([]byte(nil), r.Key...)
					c.Value = append([]byte(nil), r.Value...)
					copies = append(copies, c)
				}
			}
			for i := range kept {
				if string(kept[i].Key) != string(copies[i].Key) || string(kept[i].Value) != string(copies[i].Value) {
					t.Fatalf("record %d (partition %d offset %d) changed after later Polls: %q / %q, was %q / %q",
						i, kept[i].Partition, kept[i].Offset, kept[i].Key, kept[i].Value, copies[i].Key, copies[i].Value)
				}
			}
		})
	}
}

// A pipeline's consumer group is <group_id>.<pipeline>: the source's own
// group_id option, else the server's default prefix.
func TestGroupOfPipeline(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "orders"))
	produce(t, brokers, "orders", 5, 1)
	for _, tc := range []struct {
		opts      map[string]string
		def, want string
	}{
		{map[string]string{"group_id": "g1"}, "", "g1.copy"},
		{map[string]string{"group_id": "g2"}, "team", "g2.copy"},
		{nil, "team", "team.copy"},
		{nil, "", "sluice.copy"},
	} {
		opts := map[string]string{"brokers": brokers, "topic": "orders"}
		for k, v := range tc.opts {
			opts[k] = v
		}
		src, err := OpenSource(ctxT(t), runtime.SourceConfig{
			Spec: &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: opts}, Pipeline: "copy", GroupID: tc.def,
		})
		if err != nil {
			t.Fatal(err)
		}
		pollN(t, src.(*Source), 5)
		if err := src.Commit(ctxT(t), runtime.Offsets{0: 5}); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if got := committedOffsets(t, brokers, tc.want); got[0] != 5 {
			t.Errorf("%v with default %q: group %s has %v, want partition 0 at 5", tc.opts, tc.def, tc.want, got)
		}
	}
}

func committedOffsets(t *testing.T, brokers, group string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == "orders" && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// ForgetSource deletes the topic's committed offsets in the pipeline's
// group: a source opened again starts where a new pipeline does, while the
// offsets of other topics in the group stay.
func TestForgetSource(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "orders"), kfake.SeedTopics(1, "users"))
	produce(t, brokers, "orders", 6, 1)
	opts := map[string]string{"brokers": brokers, "topic": "orders"}
	s := openSrc(t, opts, "copy", nil)
	pollN(t, s, 6)
	if err := s.Commit(ctxT(t), runtime.Offsets{0: 6}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	users := openSrc(t, map[string]string{"brokers": brokers, "topic": "users"}, "copy", nil)
	if err := users.Commit(ctxT(t), runtime.Offsets{0: 0}); err != nil {
		t.Fatal(err)
	}
	users.Close()

	cfg := runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: opts}, Pipeline: "copy", GroupID: "sluice"}
	if err := ForgetSource(ctxT(t), cfg); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, brokers, "sluice.copy"); len(got) != 0 {
		t.Errorf("offsets of orders after forgetting: %v", got)
	}
	if recs := pollN(t, openSrc(t, opts, "copy", nil), 6); recs[0].Offset != 0 {
		t.Errorf("after forgetting the source starts at offset %d, want 0", recs[0].Offset)
	}
	// Forgetting twice, or a group that never committed, is not an error.
	if err := ForgetSource(ctxT(t), cfg); err != nil {
		t.Errorf("forget again: %v", err)
	}
	cfg.Pipeline = "never"
	if err := ForgetSource(ctxT(t), cfg); err != nil {
		t.Errorf("forget a group that never committed: %v", err)
	}
}
