package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

// The supervisor tests run pipelines on a connector double: its source
// makes rows of (id, ts) at the clock, or, by its mode option, panics in
// Poll ('panic') or fails to open ('fail'); its sink counts rows.
var (
	supOpens sync.Map // pipeline → *atomic.Int64: source opens
	supRows  sync.Map // sink name → *atomic.Int64: rows written
)

func supCounter(m *sync.Map, key string) *atomic.Int64 {
	v, _ := m.LoadOrStore(key, &atomic.Int64{})
	return v.(*atomic.Int64)
}

type supSource struct {
	mode string
	next int64
	recs []runtime.Record
}

func (s *supSource) Poll(ctx context.Context) ([]runtime.Record, error) {
	if s.mode == "panic" && s.next > 0 {
		panic("connector bug")
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Millisecond):
	}
	s.recs = s.recs[:0]
	now := time.Now().UTC()
	for i := 0; i < 10; i++ {
		s.recs = append(s.recs, runtime.Record{Partition: 0, Offset: s.next, Timestamp: now.UnixNano(),
			Value: fmt.Appendf(nil, `{"id":%d,"ts":%q}`, s.next, now.Format(time.RFC3339Nano))})
		s.next++
	}
	return s.recs, nil
}
func (s *supSource) Partitions() []int32                                       { return []int32{0} }
func (s *supSource) Commit(context.Context, runtime.Offsets) error             { return nil }
func (s *supSource) DeadLetter(context.Context, *runtime.Record, string) error { return nil }
func (s *supSource) Close() error                                              { return nil }
func (s *supSink) Write(_ context.Context, b *runtime.Batch, _ string) error {
	s.rows.Add(int64(b.Len))
	return nil
}
func (s *supSink) Close() error { return nil }

type supSink struct{ rows *atomic.Int64 }

func init() {
	runtime.Register(runtime.Connector{
		Declaration: connector.Connector{
			Name: "supervisortest", Doc: "a test double", Kinds: []connector.Kind{connector.Source, connector.Sink},
			Options: []connector.Option{{Name: "mode", Type: connector.String, Doc: "ok, panic, fail, or fail_task1 (task 1 of a split pipeline fails to open)"}},
		},
		OpenSource: func(_ context.Context, cfg runtime.SourceConfig) (runtime.Source, error) {
			supCounter(&supOpens, cfg.Pipeline).Add(1)
			if mode := cfg.Spec.Options["mode"]; mode == "fail" || (mode == "fail_task1" && cfg.Task.Split() && cfg.Task.Index == 1) {
				return nil, errors.New("broker unreachable")
			}
			src := &supSource{mode: cfg.Spec.Options["mode"]}
			if cfg.Resume != nil {
				src.next = cfg.Resume[0]
			}
			return src, nil
		},
		OpenSink: func(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
			return &supSink{rows: supCounter(&supRows, cfg.Spec.Name)}, nil
		},
	})
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	// Counters are per name; a test run starts them from zero.
	supOpens.Clear()
	supRows.Clear()
	dir := t.TempDir()
	cat, err := catalog.OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	s, err := New(Config{Catalog: cat, StateDir: dir, RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func supPipeline(name, mode string) string {
	return fmt.Sprintf(`
CREATE SOURCE %[1]s_in (id UInt64, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (connector = 'supervisortest', mode = '%[2]s');
CREATE SINK %[1]s_out (id UInt64) WITH (connector = 'supervisortest');
CREATE PIPELINE %[1]s AS INSERT INTO %[1]s_out SELECT id FROM %[1]s_in;
`, name, mode)
}

func apply(t *testing.T, s *Server, src string) {
	t.Helper()
	_, errs, err := s.Apply(context.Background(), src, ApplyOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("apply: %v %s", err, errs.Render(src))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: the machine may be busy
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A pipeline whose source panics is marked failed with the error and
// retried with growing waits, while the server and a second pipeline run
// on as if nothing happened.
func TestPanickingPipelineFailsAlone(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, supPipeline("steady", "ok")+supPipeline("boom", "panic"))
	rows := supCounter(&supRows, "steady_out")
	var boom Object
	waitFor(t, "boom to fail", func() bool {
		boom, _ = s.Object(sql.ObjPipeline, "boom")
		return boom.State == "failed" && boom.NextRetry != nil
	})
	if !strings.Contains(boom.Error, "connector bug") || !strings.Contains(boom.Error, "internal error in poll") {
		t.Errorf("error %q does not say what panicked", boom.Error)
	}
	// It is started again, and fails again, with the count of failures.
	waitFor(t, "a second failure", func() bool {
		boom, _ = s.Object(sql.ObjPipeline, "boom")
		return boom.Attempts >= 2
	})
	before := rows.Load()
	waitFor(t, "steady to write on", func() bool { return rows.Load() > before+100 })
	st, _ := s.Object(sql.ObjPipeline, "steady")
	if st.State != "running" || st.Error != "" {
		t.Errorf("steady: state %s, error %q", st.State, st.Error)
	}
	// STOP ends the retries.
	apply(t, s, "STOP PIPELINE boom;")
	opens := supCounter(&supOpens, "boom").Load()
	time.Sleep(600 * time.Millisecond)
	if n := supCounter(&supOpens, "boom").Load(); n != opens {
		t.Errorf("a stopped pipeline was started %d more times", n-opens)
	}
	if o, _ := s.Object(sql.ObjPipeline, "boom"); o.State != "stopped" || o.NextRetry != nil {
		t.Errorf("after STOP: state %s, next retry %v", o.State, o.NextRetry)
	}
}

// A pipeline that cannot start is retried with waits that double up to
// the limit — never in a tight loop — and shows when it tries next.
func TestFailingStartBacksOff(t *testing.T) {
	s := newTestServer(t)
	start := time.Now()
	apply(t, s, supPipeline("down", "fail"))
	opens := supCounter(&supOpens, "down")
	// Waits of 100, 200, 400, 400 ms: the fifth start comes after 1.1 s.
	waitFor(t, "four retries", func() bool { return opens.Load() >= 5 })
	if d := time.Since(start); d < 1100*time.Millisecond {
		t.Errorf("five starts within %v: the waits do not grow", d)
	}
	time.Sleep(500 * time.Millisecond)
	if n := opens.Load(); n > 8 {
		t.Errorf("%d starts in %v", n, time.Since(start))
	}
	// Between two attempts the pipeline shows as failed, with the error,
	// the attempts so far and when the next one comes. An attempt in
	// progress shows as starting, and a busy machine may be in one at any
	// given moment, so the test waits for a moment between two.
	var o Object
	waitFor(t, "the failed state between two attempts", func() bool {
		o, _ = s.Object(sql.ObjPipeline, "down")
		return o.State == "failed" && o.NextRetry != nil
	})
	if !strings.Contains(o.Error, "broker unreachable") || o.Attempts < 4 {
		t.Fatalf("state %s, error %q, attempts %d, next %v", o.State, o.Error, o.Attempts, o.NextRetry)
	}
	if wait := time.Until(*o.NextRetry); wait > 400*time.Millisecond {
		t.Errorf("next retry in %v, beyond the 400ms limit", wait)
	}
}

// With FailFast (`sluice run`), a pipeline that fails to start or fails
// while running is reported once and not started again; the others run
// on. With KeepDropped a DROP leaves the pipeline's checkpoints where they
// are. The catalog is in memory and the secret key is the caller's.
func TestFailFastAndKeepDropped(t *testing.T) {
	supOpens.Clear()
	supRows.Clear()
	cat, err := catalog.OpenMemory(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var mu sync.Mutex
	failed := map[string][]string{}
	s, err := New(Config{
		Catalog: cat, Checkpoints: &runtime.FileCheckpointStore{Dir: dir}, SecretKey: []byte("0123456789abcdef0123456789abcdef"),
		KeepDropped: true, RetryMin: 10 * time.Millisecond,
		FailFast: func(name string, err error, started bool) {
			mu.Lock()
			defer mu.Unlock()
			failed[name] = append(failed[name], fmt.Sprintf("%v %v", started, err))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	apply(t, s, supPipeline("steady", "ok")+supPipeline("boom", "panic")+supPipeline("down", "fail"))
	waitFor(t, "both failures", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failed["boom"]) > 0 && len(failed["down"]) > 0
	})
	rows := supCounter(&supRows, "steady_out")
	before := rows.Load()
	waitFor(t, "steady to write on", func() bool { return rows.Load() > before+100 })
	time.Sleep(300 * time.Millisecond) // 30 retry waits
	mu.Lock()
	if len(failed["boom"]) != 1 || !strings.Contains(failed["boom"][0], "true") || !strings.Contains(failed["boom"][0], "connector bug") {
		t.Errorf("boom: %q", failed["boom"])
	}
	if len(failed["down"]) != 1 || !strings.Contains(failed["down"][0], "broker unreachable") {
		t.Errorf("down: %q", failed["down"])
	}
	if len(failed["steady"]) != 0 {
		t.Errorf("steady: %q", failed["steady"])
	}
	mu.Unlock()
	for _, name := range []string{"boom", "down"} {
		if n := supCounter(&supOpens, name).Load(); n != 1 {
			t.Errorf("%s was opened %d times, want once", name, n)
		}
	}
	if st, ok := s.PipelineStats("steady"); !ok || st.RowsWritten == 0 {
		t.Errorf("steady's stats: %v %+v", ok, st)
	}
	// STOP writes a final checkpoint; DROP keeps it.
	apply(t, s, "STOP PIPELINE steady;")
	cps, err := (&runtime.FileCheckpointStore{Dir: dir}).Load(context.Background(), "steady")
	if err != nil || len(cps) == 0 {
		t.Fatalf("no checkpoint after STOP: %v", err)
	}
	apply(t, s, "DROP PIPELINE steady;")
	if cps, err := (&runtime.FileCheckpointStore{Dir: dir}).Load(context.Background(), "steady"); err != nil || len(cps) == 0 {
		t.Errorf("DROP with KeepDropped removed the checkpoints: %v, %d left", err, len(cps))
	}
}

// Of a pipeline split into tasks, a task that fails is retried on its own
// while the others run on; the pipeline shows as failed with the error
// naming the task, and STOP stops every task and ends the retries.
func TestOneFailingTaskRetriesAlone(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, supPipeline("split", "fail_task1")+"STOP PIPELINE split;")
	// The planner splits only Kafka sources: the test double's pipeline is
	// given two tasks behind its back, which the supervisor takes as
	// planned.
	obj, _ := s.cat.Lookup("split")
	obj.Pipeline.Graph.Parallelism = 2
	apply(t, s, "START PIPELINE split;")
	var o Object
	waitFor(t, "task split#1 to fail twice", func() bool {
		o, _ = s.Object(sql.ObjPipeline, "split")
		return o.State == "failed" && o.Attempts >= 2 && o.NextRetry != nil
	})
	if !strings.HasPrefix(o.Error, "task split#1: ") || !strings.Contains(o.Error, "broker unreachable") {
		t.Errorf("error %q does not name the failed task", o.Error)
	}
	rows := supCounter(&supRows, "split_out")
	before := rows.Load()
	waitFor(t, "task split#0 to write on", func() bool { return rows.Load() > before+100 })
	o, _ = s.Object(sql.ObjPipeline, "split")
	if len(o.Tasks) != 2 || o.Tasks[0].Task != "split#0" || !o.Tasks[0].RunningHere || o.Tasks[1].Task != "split#1" || o.Tasks[1].RunningHere || o.Metrics == nil {
		t.Errorf("tasks %+v, metrics %v", o.Tasks, o.Metrics)
	}
	if st, ok := s.PipelineStats("split"); !ok || st.RowsWritten == 0 {
		t.Errorf("the pipeline's stats: %v %+v", ok, st)
	}
	apply(t, s, "STOP PIPELINE split;")
	opens := supCounter(&supOpens, "split").Load()
	time.Sleep(600 * time.Millisecond)
	if n := supCounter(&supOpens, "split").Load(); n != opens {
		t.Errorf("a task of a stopped pipeline was started %d more times", n-opens)
	}
	if o, _ := s.Object(sql.ObjPipeline, "split"); o.State != "stopped" || o.NextRetry != nil || len(s.runsOf("split")) != 0 {
		t.Errorf("after STOP: state %s, next retry %v, %d runs", o.State, o.NextRetry, len(s.runsOf("split")))
	}
	// Task split#0 checkpointed under its own name when it stopped.
	if cps, err := (&runtime.FileCheckpointStore{Dir: filepath.Join(s.cfg.StateDir, "checkpoints")}).Load(context.Background(), "split#0"); err != nil || len(cps) == 0 {
		t.Errorf("no checkpoint of task split#0: %v", err)
	}
}

// The tasks of a split pipeline running here show as one pipeline: the
// API's metrics, the live graph and the Prometheus series merge their
// counters, one series per pipeline.
func TestSplitPipelineShowsAsOne(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, supPipeline("pair", "ok")+"STOP PIPELINE pair;")
	obj, _ := s.cat.Lookup("pair")
	obj.Pipeline.Graph.Parallelism = 2 // as in TestOneFailingTaskRetriesAlone
	apply(t, s, "START PIPELINE pair;")
	waitFor(t, "both tasks to write", func() bool {
		runs := s.runsOf("pair")
		return len(runs) == 2 && runs[0].p.Stats().RowsWritten > 0 && runs[1].p.Stats().RowsWritten > 0
	})
	runs := s.runsOf("pair")
	// The counters only grow: the merged ones, read later, are at least
	// the sums read now.
	var sum, sourceOut int64
	for _, r := range runs {
		st := r.p.Stats()
		sum += st.RecordsIn
		for _, op := range st.Operators {
			if op.ID == 0 {
				sourceOut += op.RowsOut
			}
		}
	}
	o, _ := s.Object(sql.ObjPipeline, "pair")
	if o.Metrics == nil || o.Metrics.RecordsIn < sum || o.State != "running" || len(o.Tasks) != 2 {
		t.Fatalf("metrics %+v for tasks that read %d records; state %s, tasks %+v", o.Metrics, sum, o.State, o.Tasks)
	}
	var tr LiveTracker
	l, err := s.Live("pair", &tr)
	if err != nil || len(l.Nodes) != len(obj.Pipeline.Graph.Nodes) || l.Nodes[0].RowsOut < sourceOut || sourceOut == 0 {
		t.Fatalf("live: %v, %d nodes for %d, %+v", err, len(l.Nodes), len(obj.Pipeline.Graph.Nodes), l.Nodes)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err) // a series twice would be an error
	}
	found := false
	for _, f := range fams {
		if f.GetName() != "sluice_pipeline_records_in_total" {
			continue
		}
		found = true
		if len(f.Metric) != 1 || f.Metric[0].GetCounter().GetValue() < float64(sum) {
			t.Errorf("records in: %v, want one series of at least %d", f.Metric, sum)
		}
	}
	if !found {
		t.Error("no sluice_pipeline_records_in_total")
	}
}
