package server

import (
	"slices"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// A pipeline of one task keeps its one unit under its own name (the
// lease, checkpoints and consumer group it always had); a split one has a
// unit per task of each stage, then of its own graph, named as the
// runtime names their checkpoints.
func TestUnitsOfAPipeline(t *testing.T) {
	one := unitsOfGraph("Copy", &dag.Graph{Name: "Copy"})
	if len(one) != 1 || one[0].key != "copy" || one[0].name != "Copy" || one[0].split() || one[0].task != (runtime.Task{}) {
		t.Errorf("units of a pipeline of one task: %+v", one)
	}
	stage := &dag.Graph{Name: "copy.events.repartition", Parallelism: 3}
	g := &dag.Graph{Name: "Copy", Parallelism: 3, Stages: []*dag.Stage{{Graph: stage, Topic: "sluice.copy.events.repartition"}}}
	var keys, names, stages []string
	for i, u := range unitsOfGraph("Copy", g) {
		keys, names, stages = append(keys, u.key), append(names, u.name), append(stages, u.stage)
		if u.task.Count != 3 || u.task.Index != i%3 || u.name != runtime.TaskName(u.graph.Name, u.task) || u.pipeline != "Copy" {
			t.Errorf("unit %d: %+v", i, u)
		}
	}
	if want := []string{"copy.events.repartition#0", "copy.events.repartition#1", "copy.events.repartition#2", "copy#0", "copy#1", "copy#2"}; !slices.Equal(keys, want) {
		t.Errorf("unit keys %v, want %v", keys, want)
	}
	if want := []string{"copy.events.repartition", "copy.events.repartition", "copy.events.repartition", "", "", ""}; !slices.Equal(stages, want) {
		t.Errorf("unit stages %v, want %v", stages, want)
	}
	if names[3] != "Copy#0" {
		t.Errorf("main task name %q, want Copy#0", names[3])
	}
	// A dropped pipeline's plan, unknown: its one unit by name.
	if us := unitsOfGraph("gone", nil); len(us) != 1 || us[0].key != "gone" {
		t.Errorf("units of an unknown plan: %+v", us)
	}
	// Checkpoints of an old and a new plan are removed once per name.
	if got := unitNames(unitsOfGraph("p", &dag.Graph{Name: "p", Parallelism: 2}), unitsOfGraph("p", &dag.Graph{Name: "p", Parallelism: 3})); !slices.Equal(got, []string{"p#0", "p#1", "p#2"}) {
		t.Errorf("unit names %v", got)
	}
}

// Another number of tasks, or other stages, keeps no state: each task's
// checkpoint holds the state of the partitions it read.
func TestStateDoesNotFitAnotherParallelism(t *testing.T) {
	src := &dag.Node{ID: 0, Kind: dag.KindSource, Source: &dag.SourceSpec{Name: "events", Connector: "kafka"}}
	g := func(par int) *dag.Graph { return &dag.Graph{Name: "p", Nodes: []*dag.Node{src}, Parallelism: par} }
	if !stateFits(g(0), g(1)) || !stateFits(g(4), g(4)) {
		t.Error("the same plan, parallelism 0 and 1 are one task: the state fits")
	}
	if stateFits(g(1), g(4)) || stateFits(g(4), g(2)) {
		t.Error("state kept across a change of parallelism")
	}
	staged := g(4)
	staged.Stages = []*dag.Stage{{Graph: g(4), Topic: "t"}}
	if stateFits(g(4), staged) {
		t.Error("state kept across a new repartition stage")
	}
}
