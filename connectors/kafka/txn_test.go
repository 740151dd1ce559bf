package kafka

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var idSchema = dag.Schema{{Name: "id", Type: dag.T(dag.String)}}

// idBatch is a batch of one String column with the given values.
func idBatch(ids ...string) *runtime.Batch {
	b := runtime.NewBatch(idSchema)
	offs := []uint32{0}
	var data []byte
	for _, id := range ids {
		data = append(data, id...)
		offs = append(offs, uint32(len(data)))
	}
	b.Vecs[0].Data, b.Vecs[0].Offs, b.Len = data, offs, len(ids)
	return b
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("r%d", i))
	}
	return out
}

// openTxnSink opens an exactly-once sink of pipeline "p" on topic out.
func openTxnSink(t *testing.T, brokers string, restored, pending uint64) *TxnSink {
	t.Helper()
	s, err := OpenSink(ctxT(t), runtime.SinkConfig{
		Spec:     &dag.SinkSpec{Name: "out", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "out", "key": "id", "delivery": "exactly_once"}},
		Schema:   idSchema,
		Pipeline: "P", GroupID: "sluice", CheckpointInterval: time.Second,
		Restored: restored, Pending: pending,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*TxnSink)
}

func write(t *testing.T, s runtime.Sink, rows []string) {
	t.Helper()
	if err := s.Write(ctxT(t), idBatch(rows...), ""); err != nil {
		t.Fatal(err)
	}
}

// readCommitted reads topic out with kcat (librdkafka) as a
// read_committed consumer, to its end, and returns the ids.
func readCommitted(t *testing.T, brokers string) []string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	out, err := exec.CommandContext(ctxT(t), kcat, "-C", "-b", brokers, "-t", "out", "-o", "beginning", "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", "%k\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	return got
}

// readUncommitted counts every record in topic out, aborted ones too.
func readUncommitted(t *testing.T, brokers string, atLeast int) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for n < atLeast {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += len(fs.Records())
	}
	return n
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// The rows of an epoch are invisible to read_committed readers until
// Commit; a transaction left open by a crashed producer is aborted when
// the pipeline's next producer starts (same transactional id), and its
// rows are never seen.
func TestExactlyOnceCommitAndFence(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "out"))
	s := openTxnSink(t, brokers, 0, 0)
	write(t, s, ids(0, 10))
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, brokers); len(got) != 0 {
		t.Fatalf("read_committed saw %v before the commit", got)
	}
	if err := s.Commit(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, brokers); !slices.Equal(got, sorted(ids(0, 10))) {
		t.Fatalf("after commit read_committed saw %v", got)
	}
	// Epoch 2 is written and flushed, then the process dies (no Commit,
	// no Close): a zombie with an open transaction.
	write(t, s, ids(10, 20))
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The next run fences it.
	s2 := openTxnSink(t, brokers, 1, 0)
	if err := s.Commit(ctxT(t), 2); err == nil {
		t.Fatal("the fenced producer committed")
	}
	write(t, s2, ids(10, 20))
	if err := s2.Commit(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, brokers); !slices.Equal(got, sorted(ids(0, 20))) {
		t.Fatalf("read_committed saw %v, want r0..r19 once", got)
	}
	if n := readUncommitted(t, brokers, 30); n != 30 {
		t.Fatalf("%d records in the log, want 30 (10 of them aborted)", n)
	}
}

// A crash between the Kafka commit of an epoch and its checkpoint: the
// next run replays the same rows under the same epoch (Pending); the sink
// aborts them instead of committing them twice. A replay that differs is
// committed (possible duplicates, never a loss).
func TestExactlyOnceReplayOfCommittedEpoch(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "out"))
	s := openTxnSink(t, brokers, 0, 0)
	write(t, s, ids(0, 5))
	if err := s.Commit(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, s, ids(5, 10))
	if err := s.Commit(ctxT(t), 2); err != nil { // its checkpoint is never stored
		t.Fatal(err)
	}
	s.Close()

	s2 := openTxnSink(t, brokers, 1, 2)
	// The replay may interleave partitions differently: same rows, another
	// order, in other writes.
	replay := ids(5, 10)
	slices.Reverse(replay)
	write(t, s2, replay[:2])
	write(t, s2, replay[2:])
	if err := s2.Commit(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	write(t, s2, ids(10, 15))
	if err := s2.Commit(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, brokers); !slices.Equal(got, sorted(ids(0, 15))) {
		t.Fatalf("read_committed saw %v, want r0..r14 once", got)
	}
	s2.Close()

	// Epoch 3 committed, its checkpoint lost, and the replay differs (one
	// row more): committed, not dropped.
	s3 := openTxnSink(t, brokers, 2, 3)
	write(t, s3, ids(10, 16))
	if err := s3.Commit(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	got := readCommitted(t, brokers)
	slices.Sort(got)
	if !slices.Equal(slices.Compact(slices.Clone(got)), sorted(ids(0, 16))) || len(got) != 21 {
		t.Fatalf("read_committed saw %v, want r0..r15 with r10..r14 twice", got)
	}
	s3.Close()

	// An epoch committed by another history (the pipeline dropped and
	// created again: no checkpoint, no intent) is not trusted: epoch 1 of
	// the new history is committed.
	s4 := openTxnSink(t, brokers, 0, 0)
	write(t, s4, ids(100, 102))
	if err := s4.Commit(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, brokers); !slices.Contains(got, "r100") || !slices.Contains(got, "r101") {
		t.Fatalf("read_committed saw %v, want r100 and r101", got)
	}
}

func TestDeliveryOption(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "out"))
	_, err := OpenSink(context.Background(), runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "out", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "out", "delivery": "exactly-once"}},
		Schema: idSchema, Pipeline: "p",
	})
	if err == nil || !strings.Contains(err.Error(), "delivery") {
		t.Fatalf("bad delivery value: %v", err)
	}
	s, err := OpenSink(context.Background(), runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "out", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "out", "flush_interval": "5ms", "batch_size": "100"}},
		Schema: idSchema, Pipeline: "p",
	})
	if err != nil {
		t.Fatalf("flush_interval and batch_size: %v", err)
	}
	if _, ok := s.(runtime.Committer); ok {
		t.Error("the at-least-once sink is a Committer")
	}
	s.Close()
}

// A run killed after its write intent and before its first commit leaves
// a pending epoch for a transactional id that never committed anything:
// the next run opens its sink (the broker may answer GROUP_ID_NOT_FOUND
// for the id's offsets) and writes the replay once.
func TestExactlyOncePendingWithoutCommit(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "out"))
	s := openTxnSink(t, brokers, 0, 1)
	write(t, s, ids(0, 5))
	if err := s.Commit(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got := readCommitted(t, brokers)
	slices.Sort(got)
	if want := ids(0, 5); !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
}
