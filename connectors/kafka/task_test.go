package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// openTaskSrc opens a source of pipeline "p" as the given task.
func openTaskSrc(ctx context.Context, brokers, topic string, task runtime.Task, extra ...string) (*Source, error) {
	opts := map[string]string{"brokers": brokers, "topic": topic}
	for i := 0; i+1 < len(extra); i += 2 {
		opts[extra[i]] = extra[i+1]
	}
	src, err := OpenSource(ctx, runtime.SourceConfig{
		Spec:     &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: opts},
		Pipeline: "p", GroupID: "sluice", Task: task,
	})
	if err != nil {
		return nil, err
	}
	return src.(*Source), nil
}

// A task reads only the partitions it owns, including partitions added
// to the topic after it opened, and reports every partition's count.
func TestSourceReadsOwnedPartitions(t *testing.T) {
	defer func(d time.Duration) { partitionCheckEvery = d }(partitionCheckEvery)
	partitionCheckEvery = 50 * time.Millisecond
	brokers := cluster(t, kfake.SeedTopics(4, "orders"))
	produce(t, brokers, "orders", 40, 4)

	src, err := openTaskSrc(ctxT(t), brokers, "orders", runtime.Task{Index: 1, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Partitions(); !slices.Equal(got, []int32{1, 3}) {
		t.Errorf("Partitions = %v, want [1 3]", got)
	}
	if n := src.TotalPartitions(); n != 4 {
		t.Errorf("TotalPartitions = %d, want 4", n)
	}
	for _, r := range pollN(t, src, 20) {
		if r.Partition%2 != 1 {
			t.Errorf("task 1 of 2 read partition %d", r.Partition)
		}
	}
	pollNone(t, src)
	if lag := src.Lag(); lag != 0 {
		t.Errorf("Lag = %d after reading every owned record, want 0 (partitions of other tasks do not count)", lag)
	}

	// Two partitions more: 5 is the task's, 4 is not.
	adm := kadm.NewClient(newClient(t, brokers))
	if _, err := adm.CreatePartitions(ctxT(t), 2, "orders"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, p := range []int32{4, 5} {
		rec := &kgo.Record{Topic: "orders", Partition: p, Value: fmt.Appendf(nil, `{"p":%d}`, p)}
		if err := cl.ProduceSync(ctxT(t), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := pollN(t, src, 1)
	if got[0].Partition != 5 || string(got[0].Value) != `{"p":5}` {
		t.Errorf("after adding partitions read %d: %s, want partition 5", got[0].Partition, got[0].Value)
	}
	pollNone(t, src)
	if parts := src.Partitions(); !slices.Equal(parts, []int32{1, 3, 5}) {
		t.Errorf("Partitions = %v, want [1 3 5]", parts)
	}
	if n := src.TotalPartitions(); n != 6 {
		t.Errorf("TotalPartitions = %d, want 6", n)
	}

	// A task with no partition to read is an error, not a task that waits
	// for ever.
	_, err = openTaskSrc(ctxT(t), brokers, "orders", runtime.Task{Index: 7, Count: 8})
	want := `open kafka source "orders": parallelism 8 is more than the 6 partitions of topic "orders": task 7 has none to read`
	if err == nil || err.Error() != want {
		t.Errorf("task 7 of 8: %v, want %s", err, want)
	}
}

func newClient(t *testing.T, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// read_committed (the default) never returns the records of an aborted
// transaction; read_uncommitted returns every record.
func TestSourceIsolationLevel(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "orders"))
	txn := newClient(t, brokers, kgo.TransactionalID("test-txn"), kgo.DefaultProduceTopic("orders"))
	for _, commit := range []bool{false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		v := fmt.Appendf(nil, `{"committed":%v}`, commit)
		if err := txn.ProduceSync(ctxT(t), &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		level string
		want  []string
	}{
		{"", []string{`{"committed":true}`}},
		{"read_committed", []string{`{"committed":true}`}},
		{"read_uncommitted", []string{`{"committed":false}`, `{"committed":true}`}},
	} {
		var extra []string
		if tc.level != "" {
			extra = []string{"isolation_level", tc.level}
		}
		src, err := openTaskSrc(ctxT(t), brokers, "orders", runtime.Task{}, extra...)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range pollN(t, src, len(tc.want)) {
			got = append(got, string(r.Value))
		}
		pollNone(t, src)
		src.Close()
		if !slices.Equal(got, tc.want) {
			t.Errorf("isolation_level %q: read %q, want %q", tc.level, got, tc.want)
		}
	}
	_, err := openTaskSrc(ctxT(t), brokers, "orders", runtime.Task{}, "isolation_level", "dirty")
	if err == nil || !strings.Contains(err.Error(), "isolation_level") {
		t.Errorf("isolation_level 'dirty': %v", err)
	}
}

// Each task of a split pipeline has its own transactional id; a pipeline
// of one task keeps the id it always had.
func TestTransactionalIDPerTask(t *testing.T) {
	for _, tc := range []struct {
		group string
		task  runtime.Task
		want  string
	}{
		{"", runtime.Task{}, "sluice.orders.sink"},
		{"acme", runtime.Task{Index: 0, Count: 1}, "acme.orders.sink"},
		{"acme", runtime.Task{Index: 0, Count: 3}, "acme.orders.sink.0"},
		{"acme", runtime.Task{Index: 2, Count: 3}, "acme.orders.sink.2"},
	} {
		if got := TransactionalID(tc.group, "Orders", tc.task); got != tc.want {
			t.Errorf("TransactionalID(%q, Orders, %+v) = %q, want %q", tc.group, tc.task, got, tc.want)
		}
	}
}

func openTestSink(ctx context.Context, brokers string, schema dag.Schema, opts map[string]string) (runtime.Sink, error) {
	o := map[string]string{"brokers": brokers}
	maps.Copy(o, opts)
	return OpenSink(ctx, runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "out", Connector: "kafka", Options: o},
		Schema: schema, Pipeline: "p", GroupID: "sluice",
	})
}

// Option partitions creates a missing topic with that many partitions and
// refuses an existing topic with another count; without it, a missing
// topic is an error, as it always was.
func TestSinkPartitionsOption(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(3, "three"))
	if _, err := openTestSink(ctxT(t), brokers, idSchema, map[string]string{"topic": "fresh"}); err == nil || !strings.Contains(err.Error(), `topic "fresh" does not exist`) {
		t.Errorf("missing topic without partitions: %v", err)
	}
	// Two tasks open the sink at once: one creates the topic.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			s, err := openTestSink(ctxT(t), brokers, idSchema, map[string]string{"topic": "fresh", "partitions": "12"})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, brokers))
	td, err := adm.ListTopics(ctxT(t), "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["fresh"].Partitions); n != 12 {
		t.Errorf("created topic has %d partitions, want 12", n)
	}
	s, err := openTestSink(ctxT(t), brokers, idSchema, map[string]string{"topic": "three", "partitions": "3"})
	if err != nil {
		t.Errorf("existing topic with the same count: %v", err)
	} else {
		s.Close()
	}
	_, err = openTestSink(ctxT(t), brokers, idSchema, map[string]string{"topic": "three", "partitions": "12"})
	want := `open kafka sink "out": topic "three" has 3 partitions, not the 12 of option partitions: delete it, or set partitions = 3`
	if err == nil || err.Error() != want {
		t.Errorf("existing topic with another count: %v, want %s", err, want)
	}
}

// A source with option partitions creates its missing topic, as a
// repartition stage's reader does when it starts before the stage's
// writers: reading then waits for records instead of failing.
func TestSourcePartitionsOption(t *testing.T) {
	brokers := cluster(t)
	if _, err := openTaskSrc(ctxT(t), brokers, "internal", runtime.Task{Index: 1, Count: 3}); err == nil || !strings.Contains(err.Error(), `topic "internal" does not exist`) {
		t.Errorf("missing topic without partitions: %v", err)
	}
	src, err := openTaskSrc(ctxT(t), brokers, "internal", runtime.Task{Index: 1, Count: 3}, "partitions", "3")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Partitions(); !slices.Equal(got, []int32{1}) {
		t.Errorf("Partitions = %v, want [1]", got)
	}
	if n := src.TotalPartitions(); n != 3 {
		t.Errorf("TotalPartitions = %d, want 3", n)
	}
}

// Option key with several columns keys each record with the JSON array of
// their values: equal values give equal keys, so one partition.
func TestSinkCompositeKey(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(4, "out"))
	schema := dag.Schema{
		{Name: "user", Type: dag.T(dag.String).WithNull(true)},
		{Name: "n", Type: dag.T(dag.Int64)},
		{Name: "v", Type: dag.T(dag.Float64)},
	}
	snk, err := openTestSink(ctxT(t), brokers, schema, map[string]string{"topic": "out", "key": "user, n"})
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	b := runtime.NewBatch(schema)
	for i, u := range []string{"a", `q"u`, "", "a", "a"} {
		if u == "" {
			b.Vecs[0].AppendNull()
		} else {
			b.Vecs[0].AppendString(u)
		}
		b.Vecs[1].AppendInt(int64(i % 3))
		b.Vecs[2].AppendFloat(float64(i))
		b.Len++
	}
	if err := snk.Write(ctxT(t), b, ""); err != nil {
		t.Fatal(err)
	}
	if err := snk.(runtime.Flusher).Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, brokers, kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	byKey := map[string][]int32{}
	for n := 0; n < 5; {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			byKey[string(r.Key)] = append(byKey[string(r.Key)], r.Partition)
			n++
		})
	}
	keys := slices.Sorted(maps.Keys(byKey))
	want := []string{`["a",0]`, `["a",1]`, `["q\"u",1]`, `[null,2]`}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if ps := byKey[`["a",0]`]; len(ps) != 2 || ps[0] != ps[1] {
		t.Errorf("equal keys went to partitions %v, want one", ps)
	}
	if _, err := openTestSink(ctxT(t), brokers, schema, map[string]string{"topic": "out", "key": "user,nope"}); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("unknown key column: %v", err)
	}
}

// Rows written by the sink (format json) and read back by the source with
// the same column types have the same values, for every type, its edges
// and NULL.
func TestJSONRoundTrip(t *testing.T) {
	registerOnce()
	brokers := cluster(t, kfake.SeedTopics(1, "rt"))
	dt64 := func(p uint8) dag.Type { return dag.Type{Kind: dag.DateTime64, Precision: p, Nullable: true} }
	dec := func(p, s uint8) dag.Type { return dag.Type{Kind: dag.Decimal, Precision: p, Scale: s, Nullable: true} }
	n := func(k dag.Kind) dag.Type { return dag.T(k).WithNull(true) }
	schema := dag.Schema{
		{Name: "s", Type: n(dag.String)},
		{Name: "i8", Type: n(dag.Int8)}, {Name: "i16", Type: n(dag.Int16)},
		{Name: "i32", Type: n(dag.Int32)}, {Name: "i64", Type: n(dag.Int64)},
		{Name: "u8", Type: n(dag.UInt8)}, {Name: "u16", Type: n(dag.UInt16)},
		{Name: "u32", Type: n(dag.UInt32)}, {Name: "u64", Type: n(dag.UInt64)},
		{Name: "f32", Type: n(dag.Float32)}, {Name: "f64", Type: n(dag.Float64)},
		{Name: "b", Type: n(dag.Bool)}, {Name: "d", Type: n(dag.Date)},
		{Name: "dt", Type: n(dag.DateTime)},
		{Name: "ts3", Type: dt64(3)}, {Name: "ts6", Type: dt64(6)}, {Name: "ts9", Type: dt64(9)},
		{Name: "dec", Type: dec(18, 4)}, {Name: "dec0", Type: dec(9, 0)},
		{Name: "nn", Type: dag.T(dag.String)}, // NOT NULL
	}
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC).UnixNano()
	rows := [][]any{
		{"plain", -128, -32768, math.MinInt32, int64(math.MinInt64), 0, 0, 0, uint64(0), float32(0.1), 0.1, true, 65535, int64(0), ts / 1e6 * 1e6, ts / 1e3 * 1e3, ts, -12345678, 0, "x"},
		{"ü \"q\" \\ \n\t\u0001 😀", 127, 32767, math.MaxInt32, int64(math.MaxInt64), 255, 65535, math.MaxUint32, uint64(math.MaxUint64), float32(-3.4028235e38), 1e-300, false, 19782, ts / 1e9 * 1e9, -ts / 1e6 * 1e6, ts / 1e3 * 1e3, -ts, 999999999999999999, -999999999, ""},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "null row"},
		{"", 0, 0, 0, int64(0), 1, 1, 1, uint64(1) << 63, float32(1.5e-45), math.MaxFloat64, true, 0, int64(4102444799) * 1e9, int64(0), int64(1000), int64(-1), -1, 1, "0"},
	}
	b := runtime.NewBatch(schema)
	for _, row := range rows {
		for c, v := range row {
			vec := &b.Vecs[c]
			switch v := v.(type) {
			case nil:
				vec.AppendNull()
			case string:
				vec.AppendString(v)
			case int:
				vec.AppendInt(int64(v))
			case int64:
				vec.AppendInt(v)
			case uint64:
				vec.AppendUint(v)
			case float32:
				vec.AppendFloat(float64(v))
			case float64:
				vec.AppendFloat(v)
			case bool:
				if v {
					vec.AppendInt(1)
				} else {
					vec.AppendInt(0)
				}
			}
			if k := schema[c].Type.Kind; k.Storage() == dag.StoreUint64 {
				if x, ok := v.(int); ok { // small literals of unsigned columns
					vec.I64 = vec.I64[:len(vec.I64)-1]
					vec.AppendUint(uint64(x))
				}
			}
		}
		b.Len++
	}
	snk, err := openTestSink(ctxT(t), brokers, schema, map[string]string{"topic": "rt"})
	if err != nil {
		t.Fatal(err)
	}
	if err := snk.Write(ctxT(t), b, ""); err != nil {
		t.Fatal(err)
	}
	if err := snk.(runtime.Flusher).Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	snk.Close()

	// Read back as a preview of the source alone, whose schema is the
	// declared columns and the time attribute.
	out := append(slices.Clone(schema), dag.Column{Name: "_timestamp", Type: dag.Timestamp, Pseudo: true})
	g := &dag.Graph{Name: "rt", Nodes: []*dag.Node{{ID: 1, Kind: dag.KindSource, Schema: out, TimeCol: len(schema),
		Source: &dag.SourceSpec{Name: "rt", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "rt"},
			Declared: schema, IdleTimeout: time.Second}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := runtime.NewBatch(out)
	counters := &runtime.PreviewCounters{}
	err = runtime.PreviewCounted(ctx, g, runtime.Options{}, counters, func(rb *runtime.Batch) error {
		got.AppendBatch(rb)
		if got.Len >= len(rows) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Len != len(rows) {
		t.Fatalf("read %d rows back, want %d (dead letters %d: %s)", got.Len, len(rows), counters.Stats().DeadLettered, counters.Stats().LastDeadLetter)
	}
	for c, col := range schema {
		w, g := &b.Vecs[c], &got.Vecs[c]
		for r := range rows {
			if w.IsNull(r) != g.IsNull(r) {
				t.Errorf("row %d column %s: NULL %v, read back NULL %v", r, col.Name, w.IsNull(r), g.IsNull(r))
				continue
			}
			if w.IsNull(r) {
				continue
			}
			var wv, gv any
			switch col.Type.Kind.Storage() {
			case dag.StoreBytes:
				wv, gv = string(w.Bytes(r)), string(g.Bytes(r))
			case dag.StoreUint64:
				wv, gv = w.U64[r], g.U64[r]
			case dag.StoreFloat64:
				wv, gv = w.F64[r], g.F64[r]
			default:
				wv, gv = w.I64[r], g.I64[r]
			}
			if wv != gv {
				t.Errorf("row %d column %s (%s): wrote %v, read back %v", r, col.Name, col.Type, wv, gv)
			}
		}
	}
}

// collectSink gathers the rows of every task of a pipeline.
type collectSink struct {
	mu     sync.Mutex
	rows   []string
	tokens []string
}

var collected sync.Map // sink id → *collectSink

func (s *collectSink) Write(_ context.Context, b *runtime.Batch, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range b.Len {
		s.rows = append(s.rows, b.Vecs[0].Str(i))
	}
	s.tokens = append(s.tokens, token)
	return nil
}

func (s *collectSink) DeduplicatesTokens() bool { return true }
func (s *collectSink) Close() error             { return nil }

var registerCollect sync.Once

// Two tasks of one pipeline over a topic of four partitions, run side by
// side on one checkpoint store: each reads its own two partitions and
// keeps its own checkpoints, and together they write exactly the rows of
// a run of the whole pipeline (deduplicated by _key: equal keys share a
// partition, so a task sees all of a key's records).
func TestSplitPipelineOverKafka(t *testing.T) {
	registerOnce()
	registerCollect.Do(func() {
		runtime.RegisterSink("collect", func(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
			v, _ := collected.LoadOrStore(cfg.Spec.Options["id"], &collectSink{})
			return v.(*collectSink), nil
		})
	})
	brokers := cluster(t, kfake.SeedTopics(4, "events"))
	cl := newClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const keys = 400
	var recs []*kgo.Record
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 * keys { // every key three times, in its partition
		k := i % keys
		recs = append(recs, &kgo.Record{Topic: "events", Partition: int32(k % 4), Key: fmt.Appendf(nil, "k%03d", k),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: base.Add(time.Duration(i) * 10 * time.Millisecond)})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	graph := func(sinkID string) *dag.Graph {
		nCol := dag.Column{Name: "n", Type: dag.T(dag.Int64).WithNull(true)}
		key := dag.Column{Name: "_key", Type: dag.T(dag.String).WithNull(true), Pseudo: true}
		stamp := dag.Column{Name: "_timestamp", Type: dag.Timestamp, Pseudo: true}
		schema := dag.Schema{nCol, key, stamp}
		out := dag.Schema{{Name: "k", Type: key.Type}}
		return &dag.Graph{Name: "p", Nodes: []*dag.Node{
			{ID: 1, Kind: dag.KindSource, Schema: schema, TimeCol: 2,
				Source: &dag.SourceSpec{Name: "events", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "events"},
					Declared: dag.Schema{nCol}, IdleTimeout: 200 * time.Millisecond}},
			{ID: 2, Kind: dag.KindDedup, Inputs: []int{1}, Schema: schema, TimeCol: 2, StateTTL: time.Hour,
				Dedup: &dag.DedupSpec{Keys: []*dag.Expr{dag.ColRef(1, key.Type, "_key")}, Within: time.Hour}},
			{ID: 3, Kind: dag.KindProject, Inputs: []int{2}, Schema: out, TimeCol: -1,
				Exprs: []*dag.Expr{dag.ColRef(1, key.Type, "_key")}},
			{ID: 4, Kind: dag.KindSink, Inputs: []int{3}, Schema: out, TimeCol: -1,
				Sink: &dag.SinkSpec{Name: "out", Connector: "collect", Options: map[string]string{"id": sinkID, "flush_interval": "50ms"}}},
		}}
	}
	run := func(sinkID string, store runtime.CheckpointStore, tasks ...runtime.Task) ([]*runtime.Pipeline, *collectSink) {
		t.Helper()
		var ps []*runtime.Pipeline
		for _, task := range tasks {
			p, err := runtime.NewPipeline(graph(sinkID), runtime.Options{Store: store, Task: task, GroupID: sinkID})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, len(ps))
		for _, p := range ps {
			go func() { errs <- p.Run(ctx) }()
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var st runtime.Stats
			for _, p := range ps {
				st = runtime.MergeStats(st, p.Stats())
			}
			if st.RecordsIn >= 3*keys && st.RowsWritten >= keys && st.Checkpoints >= int64(len(ps)) {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("not done in 30 s: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		for range ps {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		v, _ := collected.Load(sinkID)
		return ps, v.(*collectSink)
	}

	_, whole := run("whole", &runtime.MemoryCheckpointStore{}, runtime.Task{})
	store := &runtime.FileCheckpointStore{Dir: t.TempDir()}
	tasks, split := run("split", store, runtime.Task{Index: 0, Count: 2}, runtime.Task{Index: 1, Count: 2})

	slices.Sort(whole.rows)
	slices.Sort(split.rows)
	if len(whole.rows) != keys || !slices.Equal(split.rows, whole.rows) {
		t.Fatalf("the tasks wrote %d rows, the whole pipeline %d (want %d); equal: %v",
			len(split.rows), len(whole.rows), keys, slices.Equal(split.rows, whole.rows))
	}
	for i, p := range tasks {
		if n := p.Stats().RecordsIn; n != 3*keys/2 {
			t.Errorf("task %d read %d records, want the %d of its two partitions", i, n, 3*keys/2)
		}
	}
	for i, name := range []string{"p#0", "p#1"} {
		chain, err := store.Load(ctxT(t), name)
		if err != nil || len(chain) == 0 {
			t.Fatalf("checkpoints of %s: %d, %v", name, len(chain), err)
		}
		for _, offs := range chain[len(chain)-1].Offsets {
			parts := slices.Sorted(maps.Keys(offs))
			if want := []int32{int32(i), int32(i + 2)}; !slices.Equal(parts, want) {
				t.Errorf("checkpoint of %s holds partitions %v, want %v", name, parts, want)
			}
		}
	}
	if chain, _ := store.Load(ctxT(t), "p"); len(chain) != 0 {
		t.Errorf("a checkpoint under the pipeline's own name")
	}
	for _, tok := range split.tokens {
		if !strings.HasPrefix(tok, "p#0-") && !strings.HasPrefix(tok, "p#1-") {
			t.Errorf("write token %q is no task's", tok)
		}
	}
	// Both tasks commit to the pipeline's one consumer group, each its
	// own partitions: together, every partition to its end.
	adm := kadm.NewClient(newClient(t, brokers))
	committed, err := adm.FetchOffsets(ctxT(t), "split.p")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		if o, ok := committed.Lookup("events", p); !ok || o.At != 3*keys/4 {
			t.Errorf("group split.p, partition %d: committed %+v, want %d", p, o, 3*keys/4)
		}
	}
}
