package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// panicSource is a memtest source whose Poll panics once told to.
type panicSource struct {
	*memSource
	armed *atomic.Bool
}

func (s panicSource) Poll(ctx context.Context) ([]Record, error) {
	if s.armed.Load() {
		panic("source bug")
	}
	return s.memSource.Poll(ctx)
}

// panicSink panics in Write.
type panicSink struct{}

func (panicSink) Write(context.Context, *Batch, string) error { panic("sink bug") }
func (panicSink) Close() error                                { return nil }

var pollPanics sync.Map // topic id → *bool

func init() {
	RegisterSource("panictest", func(ctx context.Context, cfg SourceConfig) (Source, error) {
		armed, _ := pollPanics.Load(cfg.Spec.Options["id"])
		cfg.Spec.Connector = "memtest"
		src, err := OpenSource(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return panicSource{memSource: src.(*memSource), armed: armed.(*atomic.Bool)}, nil
	})
	RegisterSink("panictest", func(context.Context, SinkConfig) (Sink, error) { return panicSink{}, nil })
}

// A panic in any part of a pipeline ends that pipeline's Run with a
// PanicError naming the part, logs the stack, leaves a pipeline running
// beside it untouched, and a restart loses nothing.
func TestPipelinePanicIsContained(t *testing.T) {
	for _, where := range []string{"poll", "decode", "operators", "sink"} {
		t.Run(where, func(t *testing.T) {
			topic, tid := newTestTopic(t, 2)
			sink, sid := newTestSink(t)
			otherTopic, otid := newTestTopic(t, 1, "-other")
			otherSink, osid := &memSink{}, sid+"-other"
			memSinks.Store(osid, otherSink)
			t.Cleanup(func() { memSinks.Delete(osid) })
			for i := 0; i < 200; i++ {
				topic.add(i%2, t0, order(fmt.Sprintf("k%d", i), 1, time.Duration(i)*time.Second))
			}
			g := dedupGraph("boom", tid, sid)
			armed := &atomic.Bool{}
			pollPanics.Store(tid, armed)
			t.Cleanup(func() { pollPanics.Delete(tid) })
			switch where {
			case "poll":
				g.Nodes[0].Source.Connector = "panictest"
			case "sink":
				g.Nodes[len(g.Nodes)-1].Sink.Connector = "panictest"
			}
			var hookMu sync.Mutex
			hookArmed := false
			testPanic = func(pipeline, w string) {
				hookMu.Lock()
				defer hookMu.Unlock()
				if hookArmed && pipeline == "boom" && w == where {
					panic(where + " bug")
				}
			}
			t.Cleanup(func() { testPanic = nil })

			// The bystander: another pipeline, running throughout.
			og := dedupGraph("bystander", otid, osid)
			other, err := NewPipeline(og, Options{})
			if err != nil {
				t.Fatal(err)
			}
			octx, ocancel := context.WithCancel(context.Background())
			odone := make(chan error, 1)
			go func() { odone <- other.Run(octx) }()

			var logMu sync.Mutex
			var log strings.Builder
			store := &MemoryCheckpointStore{}
			p, err := NewPipeline(g, Options{Store: store, Logf: func(f string, a ...any) {
				logMu.Lock()
				fmt.Fprintf(&log, f+"\n", a...)
				logMu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			if where != "sink" {
				// Let the pipeline write and checkpoint first.
				deadline := time.Now().Add(10 * time.Second)
				for p.Stats().Checkpoints == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			hookMu.Lock()
			hookArmed = true
			hookMu.Unlock()
			armed.Store(where == "poll")
			for i := 200; i < 400; i++ {
				topic.add(i%2, t0, order(fmt.Sprintf("k%d", i), 1, time.Duration(i)*time.Second))
			}
			var runErr error
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the pipeline did not stop after a panic")
			}
			var pe *PanicError
			if !errors.As(runErr, &pe) || pe.Where != where {
				t.Fatalf("Run returned %v, want a panic in %s", runErr, where)
			}
			if want := map[string]string{"poll": "source bug", "sink": "sink bug"}[where]; !strings.Contains(runErr.Error(), cmp.Or(want, where+" bug")) {
				t.Errorf("error %q does not carry the panic value", runErr)
			}
			logMu.Lock()
			logged := log.String()
			logMu.Unlock()
			if !strings.Contains(logged, "panic in "+where) || !strings.Contains(logged, "goroutine") {
				t.Errorf("the log has no stack of the panic:\n%s", logged)
			}
			// The bystander still runs and still works.
			otherTopic.add(0, t0, order("late-news", 1, time.Second))
			deadline := time.Now().Add(10 * time.Second)
			for other.Stats().RowsWritten == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			ocancel()
			if err := <-odone; err != nil {
				t.Errorf("bystander: %v", err)
			}
			if other.Stats().RowsWritten != 1 {
				t.Errorf("bystander wrote %d rows, want 1", other.Stats().RowsWritten)
			}
			// A later run of the panicked pipeline starts from its last
			// checkpoint and loses nothing.
			testPanic = nil
			armed.Store(false)
			g2 := dedupGraph("boom", tid, sid)
			p2, _ := NewPipeline(g2, Options{Store: store})
			if err := runUntil(t, p2, func() bool { return len(sink.snapshot()) >= 400 }); err != nil {
				t.Fatal(err)
			}
			got := sink.snapshot()
			slices.Sort(got)
			if got = slices.Compact(got); len(got) != 400 {
				t.Errorf("%d distinct rows after the restart, want all 400", len(got))
			}
		})
	}
}

// One record dated far in the future is dead-lettered and counted and does
// not move the watermark: the records after it are still on time.
func TestPipelineMaxFuture(t *testing.T) {
	topic, tid := newTestTopic(t, 1)
	sink, sid := newTestSink(t)
	topic.add(0, t0, order("x", 1, time.Second))
	topic.add(0, t0, `{"id":"far","amount":1,"ts":"2262-01-01 00:00:00"}`)
	topic.add(0, t0, order("x", 1, 2*time.Second))
	topic.add(0, t0, order("x", 1, 11*time.Second)) // closes [0,10)
	g := windowGraph("future", tid, sid)
	p, _ := NewPipeline(g, Options{})
	if err := runUntil(t, p, func() bool { return p.Stats().RowsWritten >= 1 }); err != nil {
		t.Fatal(err)
	}
	if got := sink.snapshot(); len(got) != 1 || !strings.HasSuffix(got[0], ",2") {
		t.Errorf("wrote %v, want the window [0,10) with both of its rows", got)
	}
	st := p.Stats()
	if st.FutureRecords != 1 || st.DeadLettered != 1 || st.Operators[1].LateRows != 0 {
		t.Errorf("future %d, dead letters %d, late %d; want 1, 1, 0", st.FutureRecords, st.DeadLettered, st.Operators[1].LateRows)
	}
	topic.mu.Lock()
	dead := append([]string(nil), topic.dead...)
	topic.mu.Unlock()
	if len(dead) != 1 || !strings.Contains(dead[0], "0/1: event time 2262-01-01 00:00:00.000 is more than max_future (24h0m0s) ahead of the clock") {
		t.Errorf("dead letters %q", dead)
	}

	// max_future = '0' turns the check off: the record is decoded and its
	// time becomes the watermark.
	topic2, tid2 := newTestTopic(t, 1, "-off")
	topic2.add(0, t0, `{"id":"far","amount":1,"ts":"2262-01-01 00:00:00"}`)
	g2 := windowGraph("future-off", tid2, sid)
	g2.Nodes[0].Source.Options["max_future"] = "0"
	p2, _ := NewPipeline(g2, Options{})
	if err := runUntil(t, p2, func() bool { return p2.Stats().RowsDecoded >= 1 }); err != nil {
		t.Fatal(err)
	}
	if st := p2.Stats(); st.FutureRecords != 0 || st.DeadLettered != 0 {
		t.Errorf("with max_future 0: %+v", st)
	}
	g2.Nodes[0].Source.Options["max_future"] = "soon"
	if _, err := NewPipeline(g2, Options{}); err == nil || !strings.Contains(err.Error(), `max_future "soon" is not a duration`) {
		t.Errorf("bad max_future: %v", err)
	}
}
