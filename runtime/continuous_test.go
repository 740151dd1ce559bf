package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
)

// contSink is a continuous test sink: Write keeps rows in memory, Flush
// makes them durable. With twoPhase it is also a Committer: rows become
// visible at Commit, and an epoch committed before is dropped.
type contSink struct {
	mu       sync.Mutex
	written  []string // every row Write got
	durable  []string // rows flushed (and, with twoPhase, committed)
	staged   []string
	flushes  int
	twoPhase bool
	epochs   []uint64
	// failFlush makes the n-th Flush fail, as a crash would.
	failFlush int
}

type contCommitSink struct{ *contSink }

func (s *contSink) Write(_ context.Context, b *Batch, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rowsOf(b)
	s.written = append(s.written, r...)
	s.staged = append(s.staged, r...)
	return nil
}

func (s *contSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	if s.flushes == s.failFlush {
		s.staged = nil // lost with the crashed process
		return errors.New("injected crash in flush")
	}
	if !s.twoPhase {
		s.durable = append(s.durable, s.staged...)
		s.staged = nil
	}
	return nil
}

func (s contCommitSink) Commit(_ context.Context, epoch uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.epochs, epoch) {
		s.staged = nil
		return nil
	}
	s.epochs = append(s.epochs, epoch)
	s.durable = append(s.durable, s.staged...)
	s.staged = nil
	return nil
}

func (s *contSink) Close() error { return nil }

func (s *contSink) snap() (written, durable []string, flushes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.written), slices.Clone(s.durable), s.flushes
}

var contSinks sync.Map // id → *contSink

func init() {
	Register(Connector{
		Declaration: connector.Connector{Name: "memcont", Kinds: []connector.Kind{connector.Sink}, Continuous: true,
			Options: []connector.Option{{Name: "id", Type: connector.String}, connector.ContinuousBatchSize, connector.ContinuousFlushInterval}},
		OpenSink: func(_ context.Context, cfg SinkConfig) (Sink, error) {
			v, ok := contSinks.Load(cfg.Spec.Options["id"])
			if !ok {
				return nil, errors.New("no such sink")
			}
			s := v.(*contSink)
			if s.twoPhase {
				return contCommitSink{s}, nil
			}
			return s, nil
		},
	})
}

func newContSink(t *testing.T, twoPhase bool) (*contSink, string) {
	id := t.Name()
	s := &contSink{twoPhase: twoPhase}
	contSinks.Store(id, s)
	t.Cleanup(func() { contSinks.Delete(id) })
	return s, id
}

// continuous makes g's sink the continuous test sink id.
func continuous(g *dag.Graph, id string) *dag.Graph {
	s := g.Nodes[len(g.Nodes)-1].Sink
	s.Connector = "memcont"
	s.Options = map[string]string{"id": id}
	return g
}

// ckptWatch checks, at every checkpoint saved, that every row derived
// from the records before its offsets is durable in the sink.
type ckptWatch struct {
	*MemoryCheckpointStore
	t     *testing.T
	topic *memTopic
	sink  *contSink
	mu    sync.Mutex
	saves int
	bad   []string
}

func (c *ckptWatch) Save(ctx context.Context, name string, cp *Checkpoint) error {
	_, durable, _ := c.sink.snap()
	c.topic.mu.Lock()
	for _, offs := range cp.Offsets {
		for p, end := range offs {
			for _, r := range c.topic.parts[p][:end] {
				id := strings.SplitN(string(r.Value), `"`, 5)[3]
				if !slices.ContainsFunc(durable, func(row string) bool { return strings.HasPrefix(row, id+",") }) {
					c.mu.Lock()
					c.bad = append(c.bad, fmt.Sprintf("epoch %d: row %s not durable", cp.Epoch, id))
					c.mu.Unlock()
				}
			}
		}
	}
	c.topic.mu.Unlock()
	c.mu.Lock()
	c.saves++
	c.mu.Unlock()
	return c.MemoryCheckpointStore.Save(ctx, name, cp)
}

// A continuous sink gets the rows as they are produced, long before a
// checkpoint; they are flushed at the checkpoint, before it is stored and
// before the offsets are committed.
func TestContinuousSinkWritesBeforeCheckpoint(t *testing.T) {
	topic, tid := newTestTopic(t, 2)
	sink, sid := newContSink(t, false)
	for i := 0; i < 40; i++ {
		topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
	}
	g := continuous(dedupGraph("cont", tid, sid), sid)
	store := &ckptWatch{MemoryCheckpointStore: &MemoryCheckpointStore{}, t: t, topic: topic, sink: sink}
	p, err := NewPipeline(g, Options{Store: store, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var before Stats
	var commitsBefore, flushesBefore int
	err = runUntil(t, p, func() bool {
		w, _, f := sink.snap()
		if len(w) < 40 {
			return false
		}
		before, flushesBefore = p.Stats(), f
		topic.mu.Lock()
		commitsBefore = topic.commits
		topic.mu.Unlock()
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if before.Checkpoints != 0 || flushesBefore != 0 || commitsBefore != 0 {
		t.Errorf("rows were written only at a checkpoint: checkpoints %d, flushes %d, commits %d when all 40 rows were written",
			before.Checkpoints, flushesBefore, commitsBefore)
	}
	if before.RowsWritten != 40 {
		t.Errorf("RowsWritten %d, want 40", before.RowsWritten)
	}
	// The stop flushed, checkpointed and committed.
	_, durable, flushes := sink.snap()
	if len(durable) != 40 || flushes != 1 {
		t.Errorf("after the stop: %d durable rows, %d flushes; want 40, 1", len(durable), flushes)
	}
	if store.saves != 1 || len(store.bad) > 0 {
		t.Errorf("%d checkpoints saved (want 1); %v", store.saves, store.bad)
	}
	topic.mu.Lock()
	c := topic.committed["sluice.cont"]
	topic.mu.Unlock()
	if c[0]+c[1] != 40 {
		t.Errorf("committed %v, want 40 records", c)
	}
}

// Checkpoints come every CheckpointInterval while rows flow, and each is
// stored only once every row before its offsets is durable.
func TestContinuousCheckpointInterval(t *testing.T) {
	topic, tid := newTestTopic(t, 2)
	sink, sid := newContSink(t, false)
	g := continuous(dedupGraph("interval", tid, sid), sid)
	store := &ckptWatch{MemoryCheckpointStore: &MemoryCheckpointStore{}, t: t, topic: topic, sink: sink}
	p, _ := NewPipeline(g, Options{Store: store, CheckpointInterval: 30 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for i := 0; i < 200; i++ {
		topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
		time.Sleep(2 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().RowsWritten < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, durable, flushes := sink.snap()
	if len(durable) != 200 {
		t.Errorf("%d durable rows, want 200", len(durable))
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.saves < 3 || flushes < 3 {
		t.Errorf("%d checkpoints, %d flushes while rows flowed for 400ms at a 30ms interval; want several", store.saves, flushes)
	}
	if len(store.bad) > 0 {
		t.Errorf("checkpoints stored before their rows were durable: %v", store.bad)
	}
}

// Window results leave as soon as the watermark passes their end, not at
// a checkpoint.
func TestContinuousWindowIsPrompt(t *testing.T) {
	topic, tid := newTestTopic(t, 1)
	sink, sid := newContSink(t, false)
	for _, s := range []int{1, 2, 3, 11} {
		topic.add(0, t0, order("x", 1, time.Duration(s)*time.Second))
	}
	g := continuous(windowGraph("winprompt", tid, sid), sid)
	p, _ := NewPipeline(g, Options{Store: &MemoryCheckpointStore{}, CheckpointInterval: time.Hour})
	var ckpts int64 = -1
	err := runUntil(t, p, func() bool {
		if w, _, _ := sink.snap(); len(w) < 1 {
			return false
		}
		ckpts = p.Stats().Checkpoints
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if ckpts != 0 {
		t.Errorf("the window was written with checkpoint %d; want it before any checkpoint", ckpts)
	}
	if w, _, _ := sink.snap(); len(w) != 1 || !strings.HasSuffix(w[0], ",3") {
		t.Errorf("wrote %v, want the window [0,10) with 3 rows", w)
	}
}

// An idle partition holds a window back only until idle_timeout; then
// the window leaves at once, without waiting for a checkpoint.
func TestContinuousWindowAfterIdleTimeout(t *testing.T) {
	topic, tid := newTestTopic(t, 2)
	sink, sid := newContSink(t, false)
	for _, s := range []int{1, 2, 11} {
		topic.add(0, t0, order("x", 1, time.Duration(s)*time.Second))
	}
	g := continuous(windowGraph("winidle", tid, sid), sid)
	g.Nodes[0].Source.IdleTimeout = 150 * time.Millisecond
	p, _ := NewPipeline(g, Options{Store: &MemoryCheckpointStore{}, CheckpointInterval: time.Hour})
	var ckpts int64 = -1
	err := runUntil(t, p, func() bool {
		if w, _, _ := sink.snap(); len(w) < 1 {
			return false
		}
		ckpts = p.Stats().Checkpoints
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if ckpts != 0 {
		t.Errorf("the window was written with checkpoint %d; want it before any checkpoint", ckpts)
	}
	if w, _, _ := sink.snap(); len(w) != 1 || !strings.HasSuffix(w[0], ",2") {
		t.Errorf("wrote %v, want the window [0,10) with 2 rows once partition 1 is idle", w)
	}
}

// A crash after a flush but before the checkpoint: the restart replays
// the rows; nothing is lost. An at-least-once sink writes them again
// (counted as possible duplicates); a Committer sink gets the same epoch
// again and drops it: every row exactly once.
func TestContinuousCrashReplay(t *testing.T) {
	for _, twoPhase := range []bool{false, true} {
		t.Run(fmt.Sprint("twoPhase=", twoPhase), func(t *testing.T) {
			topic, tid := newTestTopic(t, 2)
			sink, sid := newContSink(t, twoPhase)
			for i := 0; i < 40; i++ {
				topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
			}
			mem := &MemoryCheckpointStore{}
			g := continuous(dedupGraph("ccrash", tid, sid), sid)
			p, _ := NewPipeline(g, Options{Store: &crashStore{MemoryCheckpointStore: mem, crashAt: 1}, CheckpointInterval: 20 * time.Millisecond})
			err := runUntil(t, p, func() bool { return false })
			if err == nil || !strings.Contains(err.Error(), "injected crash") {
				t.Fatalf("run 1: %v", err)
			}
			_, durable, _ := sink.snap()
			first := len(durable)
			if first == 0 {
				t.Fatal("nothing durable before the crash")
			}
			in, _ := mem.LoadIntent(context.Background(), "ccrash")
			if in == nil || in.Rows != first {
				t.Fatalf("intent %+v, want %d rows", in, first)
			}
			for i := 40; i < 60; i++ {
				topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
			}
			p2, _ := NewPipeline(g, Options{Store: mem, CheckpointInterval: 20 * time.Millisecond})
			want := 60
			if !twoPhase {
				want += first
			}
			if err := runUntil(t, p2, func() bool { _, d, _ := sink.snap(); return len(d) >= want }); err != nil {
				t.Fatal(err)
			}
			_, got, _ := sink.snap()
			if len(got) != want {
				t.Errorf("%d durable rows, want %d", len(got), want)
			}
			wantDups := int64(first)
			if twoPhase {
				wantDups = 0
			}
			if d := p2.Stats().PossibleDuplicates; d != wantDups {
				t.Errorf("possible duplicates %d, want %d", d, wantDups)
			}
			slices.Sort(got)
			if got = slices.Compact(got); len(got) != 60 {
				t.Errorf("%d distinct rows, want 60: nothing lost", len(got))
			}
		})
	}
}

// A crash while rows are being flushed (the rows given to the sink since
// the last checkpoint are lost with the process) loses nothing: the
// restart replays them from the checkpoint.
func TestContinuousCrashInFlush(t *testing.T) {
	topic, tid := newTestTopic(t, 2)
	sink, sid := newContSink(t, false)
	sink.failFlush = 2
	for i := 0; i < 40; i++ {
		topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
	}
	mem := &MemoryCheckpointStore{}
	g := continuous(dedupGraph("cflush", tid, sid), sid)
	// A small batch_size splits the input into several writes and
	// checkpoints.
	g.Nodes[len(g.Nodes)-1].Sink.Options["batch_size"] = "5"
	p, _ := NewPipeline(g, Options{Store: mem, CheckpointInterval: 10 * time.Millisecond})
	go func() {
		for i := 40; i < 80; i++ {
			topic.add(i%2, t0, order(fmt.Sprintf("c%d", i), 1, time.Duration(i)*time.Second))
			time.Sleep(time.Millisecond)
		}
	}()
	err := runUntil(t, p, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "injected crash") {
		t.Fatalf("run 1: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // the producer above is done
	p2, _ := NewPipeline(g, Options{Store: mem, CheckpointInterval: 10 * time.Millisecond})
	if err := runUntil(t, p2, func() bool {
		return p2.Stats().RowsWritten >= 1 && func() bool {
			_, d, _ := sink.snap()
			slices.Sort(d)
			return len(slices.Compact(d)) >= 80
		}()
	}); err != nil {
		t.Fatal(err)
	}
	_, got, _ := sink.snap()
	slices.Sort(got)
	if got = slices.Compact(got); len(got) != 80 {
		t.Errorf("%d distinct durable rows, want 80: nothing lost", len(got))
	}
}

// LEFT-join rows without a partner leave as soon as the watermark passes
// their interval, not at a checkpoint.
func TestContinuousLeftJoinIsPrompt(t *testing.T) {
	left, lid := newTestTopic(t, 1)
	right, rid := newTestTopic(t, 1, "/right")
	sink, sid := newContSink(t, false)
	src := func(id int, name, topic string) *dag.Node { return ordersSource(id, name, topic, time.Hour) }
	j := joinNode(ordersSchema, ordersSchema, dag.Left, time.Minute, 2, 2, 0, 0)
	out := dag.Schema{{Name: "id", Type: dag.T(dag.String)}, {Name: "amount", Type: tFloat}, {Name: "ramount", Type: tFloat}}
	p := &dag.Node{ID: 4, Kind: dag.KindProject, Inputs: []int{3}, Schema: out, TimeCol: -1,
		Exprs: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "id"), dag.ColRef(1, tFloat, "amount"), dag.ColRef(4, tFloat, "amount")}}
	s := &dag.Node{ID: 5, Kind: dag.KindSink, Inputs: []int{4}, Schema: out, TimeCol: -1,
		Sink: &dag.SinkSpec{Name: "out", Connector: "memcont", Options: map[string]string{"id": sid}}}
	g := &dag.Graph{Name: "ljprompt", Nodes: []*dag.Node{src(1, "l", lid), src(2, "r", rid), j, p, s}}

	left.add(0, t0, order("b", 2, 0))
	// Later rows move the watermark of both sources past 0 + 1 min.
	left.add(0, t0, order("z", 0, 5*time.Minute))
	right.add(0, t0, order("y", 0, 5*time.Minute))
	pl, _ := NewPipeline(g, Options{Store: &MemoryCheckpointStore{}, CheckpointInterval: time.Hour})
	var ckpts int64 = -1
	err := runUntil(t, pl, func() bool {
		if w, _, _ := sink.snap(); len(w) < 1 {
			return false
		}
		ckpts = pl.Stats().Checkpoints
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if ckpts != 0 {
		t.Errorf("the LEFT row was written with checkpoint %d; want it before any checkpoint", ckpts)
	}
	if w, _, _ := sink.snap(); len(w) != 1 || w[0] != "b,2,NULL" {
		t.Errorf("wrote %v, want b,2,NULL", w)
	}
}
