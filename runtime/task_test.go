package runtime

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

func TestTaskNamesAndOwnership(t *testing.T) {
	// A pipeline of one task keeps the names it always had.
	for _, one := range []Task{{}, {Index: 0, Count: 1}, {Index: 3, Count: 0}} {
		if one.Split() || TaskName("orders", one) != "orders" {
			t.Errorf("%+v: Split %v, name %q; want the whole pipeline", one, one.Split(), TaskName("orders", one))
		}
		for p := int32(0); p < 8; p++ {
			if !one.Owns(p) {
				t.Errorf("%+v does not own partition %d", one, p)
			}
		}
	}
	tasks := []Task{{0, 3}, {1, 3}, {2, 3}}
	for p := int32(0); p < 12; p++ {
		owners := 0
		for _, tk := range tasks {
			if tk.Owns(p) {
				owners++
				if int(p)%3 != tk.Index {
					t.Errorf("task %d owns partition %d", tk.Index, p)
				}
			}
		}
		if owners != 1 {
			t.Errorf("partition %d has %d owners, want 1", p, owners)
		}
	}
	if got := TaskName("orders", Task{Index: 2, Count: 3}); got != "orders#2" {
		t.Errorf("TaskName = %q, want orders#2", got)
	}
}

func TestMergeStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := Stats{
		RecordsIn: 10, RowsWritten: 8, BatchesWritten: 2, SinkTime: 2 * time.Second,
		LastSinkLatency: time.Second, LastBatchRows: 4, Checkpoints: 2, LastCheckpoint: t0,
		Operators: []OperatorSnapshot{{ID: 1, RowsIn: 10, StateEntries: 5}},
		Sources:   []SourceSnapshot{{Name: "events", Lag: 3, Watermark: 50}},
	}
	b := Stats{
		RecordsIn: 5, RowsWritten: 5, BatchesWritten: 2, SinkTime: 4 * time.Second,
		LastSinkLatency: 3 * time.Second, LastBatchRows: 1, Checkpoints: 1, LastCheckpoint: t0.Add(time.Second),
		LastDeadLetter: "bad json",
		Operators:      []OperatorSnapshot{{ID: 1, RowsIn: 5, StateEntries: 2}},
		Sources:        []SourceSnapshot{{Name: "events", Lag: 4, Watermark: math.MinInt64}},
	}
	m := MergeStats(MergeStats(Stats{}, a), b)
	if m.RecordsIn != 15 || m.RowsWritten != 13 || m.BatchesWritten != 4 || m.Checkpoints != 3 {
		t.Errorf("sums: %+v", m)
	}
	if m.SinkLatency != 1500*time.Millisecond || m.SinkTime != 6*time.Second {
		t.Errorf("sink latency %v, time %v; want 1.5s, 6s", m.SinkLatency, m.SinkTime)
	}
	if !m.LastCheckpoint.Equal(t0.Add(time.Second)) || m.LastSinkLatency != 3*time.Second || m.LastBatchRows != 1 {
		t.Errorf("latest: checkpoint %v, last latency %v, last rows %d", m.LastCheckpoint, m.LastSinkLatency, m.LastBatchRows)
	}
	if m.LastDeadLetter != "bad json" {
		t.Errorf("LastDeadLetter = %q", m.LastDeadLetter)
	}
	if len(m.Operators) != 1 || m.Operators[0].RowsIn != 15 || m.Operators[0].StateEntries != 7 {
		t.Errorf("operators: %+v", m.Operators)
	}
	if len(m.Sources) != 1 || m.Sources[0].Lag != 7 || m.Sources[0].Watermark != math.MinInt64 {
		t.Errorf("sources: %+v", m.Sources)
	}
	// a is not modified.
	if a.Operators[0].RowsIn != 10 || a.Sources[0].Lag != 3 {
		t.Errorf("MergeStats modified its argument: %+v %+v", a.Operators, a.Sources)
	}
}

// TestSplitPipelineRefusesSourcesNotCoPartitioned: a task of a split
// pipeline joins partition p of one source with partition p of the other,
// which pairs equal keys only when both have as many partitions.
func TestSplitPipelineRefusesSourcesNotCoPartitioned(t *testing.T) {
	_, lid := newTestTopic(t, 4)
	_, rid := newTestTopic(t, 2, "/right")
	_, sid := newTestSink(t)
	src := func(id int, name, topic string) *dag.Node { return ordersSource(id, name, topic, 50*time.Millisecond) }
	j := joinNode(ordersSchema, ordersSchema, dag.Inner, time.Minute, 2, 2, 0, 0)
	out := dag.Schema{{Name: "id", Type: dag.T(dag.String)}}
	p := &dag.Node{ID: 4, Kind: dag.KindProject, Inputs: []int{3}, Schema: out, TimeCol: -1,
		Exprs: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "id")}}
	s := &dag.Node{ID: 5, Kind: dag.KindSink, Inputs: []int{4}, Schema: out, TimeCol: -1,
		Sink: &dag.SinkSpec{Name: "out", Connector: "memtest", Options: map[string]string{"id": sid}}}
	g := &dag.Graph{Name: "j", Nodes: []*dag.Node{src(1, "orders", lid), src(2, "users", rid), j, p, s}}

	pl, err := NewPipeline(g, Options{Task: Task{Index: 1, Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = pl.Run(ctx)
	want := `pipeline "j#1": sources "orders" (4 partitions) and "users" (2 partitions) are not co-partitioned: every source of a pipeline with parallelism 2 needs the same number of partitions`
	if err == nil || err.Error() != want {
		t.Fatalf("Run = %v, want %s", err, want)
	}

	// The whole pipeline, one task, reads them as it always did.
	whole, err := NewPipeline(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := whole.Run(ctx); err != nil {
		t.Fatalf("unsplit run: %v", err)
	}
}

// TestSplitPipelineTasks runs the two tasks of a split pipeline side by
// side on one checkpoint store: each reads its own partitions, keeps its
// own checkpoints and write tokens, and together they write what the whole
// pipeline writes.
func TestSplitPipelineTasks(t *testing.T) {
	topic, tid := newTestTopic(t, 4)
	sink, sid := newTestSink(t)
	var want []string
	for i := 0; i < 400; i++ {
		// Equal ids share a partition, as a keyed producer makes them.
		id := fmt.Sprintf("o%03d", i%200)
		topic.add(i%200%4, t0, order(id, float64(i%200+1), time.Duration(i)*100*time.Millisecond))
		if i < 200 {
			want = append(want, fmt.Sprintf("%s,%d", id, i+1))
		}
	}
	store := &FileCheckpointStore{Dir: t.TempDir()}
	var tasks []*Pipeline
	for i := range 2 {
		p, err := NewPipeline(dedupGraph("p", tid, sid), Options{Store: store, Task: Task{Index: i, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, len(tasks))
	for _, p := range tasks {
		go func() { errs <- p.Run(ctx) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for MergeStats(tasks[0].Stats(), tasks[1].Stats()).RowsWritten < int64(len(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("rows written: %d of %d", MergeStats(tasks[0].Stats(), tasks[1].Stats()).RowsWritten, len(want))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for range tasks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := sink.snapshot()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("rows written: got %d %v…, want %d", len(got), got[:min(5, len(got))], len(want))
	}
	for i, p := range tasks {
		if st := p.Stats(); st.RecordsIn != 200 {
			t.Errorf("task %d read %d records, want the 200 of its two partitions", i, st.RecordsIn)
		}
	}
	for _, name := range []string{"p#0", "p#1"} {
		chain, err := store.Load(context.Background(), name)
		if err != nil || len(chain) == 0 {
			t.Fatalf("checkpoint of %s: %v, %d", name, err, len(chain))
		}
		cp := chain[len(chain)-1]
		for _, offs := range cp.Offsets {
			for part := range offs {
				if idx := int(name[2] - '0'); int(part)%2 != idx {
					t.Errorf("checkpoint of %s holds partition %d", name, part)
				}
			}
		}
	}
	if chain, _ := store.Load(context.Background(), "p"); len(chain) != 0 {
		t.Errorf("a checkpoint under the pipeline's own name: %d", len(chain))
	}
	for _, tok := range sink.tokens {
		if !strings.HasPrefix(tok, "p#0-") && !strings.HasPrefix(tok, "p#1-") {
			t.Errorf("write token %q is not a task's", tok)
		}
	}
	// The tasks share the pipeline's consumer group, each committing its
	// own partitions.
	topic.mu.Lock()
	committed := maps.Clone(topic.committed["sluice.p"])
	topic.mu.Unlock()
	for part := range int32(4) {
		if committed[part] != int64(len(topic.parts[part])) {
			t.Errorf("partition %d: committed %d, want %d", part, committed[part], len(topic.parts[part]))
		}
	}
}
