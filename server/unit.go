package server

// Units: what the server supervises.
//
// A pipeline with parallelism N runs as N tasks of its main graph, and N
// tasks of each repartition stage that feeds it (docs/scaling.md). Each
// task is a unit: one runtime.Pipeline run with its own lease, retries,
// checkpoints and sink writer. A pipeline of one task and no stages has
// exactly one unit, keyed by the pipeline's lower-case name, so its lease,
// checkpoints and consumer group keep the names they always had.

import (
	"slices"
	"strings"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// unit is one task of a pipeline.
type unit struct {
	// key is strings.ToLower(name): the key of runs, retries and leases.
	key string
	// name is runtime.TaskName(graph.Name, task): the name the task keeps
	// its checkpoints under.
	name string
	// pipeline is the name of the pipeline the unit belongs to.
	pipeline string
	// stage is the repartition stage's graph name, "" for the main graph.
	stage string
	graph *dag.Graph
	task  runtime.Task
}

// split reports whether the unit is one of several tasks of its pipeline.
func (u unit) split() bool { return u.task.Split() || u.stage != "" }

// unitsOf returns the units of a pipeline object.
func unitsOf(obj *planner.Object) []unit {
	if obj == nil || obj.Pipeline == nil {
		return nil
	}
	return unitsOfGraph(obj.Name, obj.Pipeline.Graph)
}

// unitsOfGraph returns the units of the pipeline named pipeline planned as
// g: the tasks of each stage, then those of the main graph.
func unitsOfGraph(pipeline string, g *dag.Graph) []unit {
	if g == nil || g == dropped {
		return []unit{{key: unitKey(pipeline), name: pipeline, pipeline: pipeline}}
	}
	n := max(g.Parallelism, 1)
	var out []unit
	add := func(stage string, sg *dag.Graph) {
		for i := range n {
			t := runtime.Task{Index: i, Count: n}
			if n == 1 {
				t = runtime.Task{}
			}
			name := runtime.TaskName(sg.Name, t)
			if stage == "" && !t.Split() {
				// The pipeline's one task keeps the pipeline's name as
				// the catalog spells it.
				name = pipeline
			}
			out = append(out, unit{key: unitKey(name), name: name, pipeline: pipeline, stage: stage, graph: sg, task: t})
		}
	}
	for _, st := range g.Stages {
		add(st.Graph.Name, st.Graph)
	}
	add("", g)
	return out
}

// unitKey is the key of the unit named name (runtime.TaskName).
func unitKey(name string) string { return strings.ToLower(name) }

// unitNames returns the distinct names of the units of the given lists,
// for removing their checkpoints.
func unitNames(lists ...[]unit) []string {
	var out []string
	for _, us := range lists {
		for _, u := range us {
			if !slices.ContainsFunc(out, func(n string) bool { return unitKey(n) == u.key }) {
				out = append(out, u.name)
			}
		}
	}
	return out
}

// sameKey reports whether a pipeline name is name (case-insensitive).
func sameKey(pipeline, name string) bool { return strings.EqualFold(pipeline, name) }

// runsOf returns the runs of the pipeline's units on this server, in
// unit key order.
func (s *Server) runsOf(pipeline string) []*run {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*run
	for _, r := range s.runs {
		if sameKey(r.name, pipeline) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *run) int { return strings.Compare(a.u.key, b.u.key) })
	return out
}

// mainRuns returns the runs of the pipeline's main-graph units on this
// server: those whose counters are the pipeline's (a stage's records are
// counted again by the main graph that reads them).
func mainRuns(runs []*run) []*run {
	return slices.DeleteFunc(slices.Clone(runs), func(r *run) bool { return r.u.stage != "" })
}

// mergedStats merges the counters of runs (runtime.MergeStats).
func mergedStats(runs []*run) runtime.Stats {
	var st runtime.Stats
	for i, r := range runs {
		if i == 0 {
			st = r.p.Stats()
			continue
		}
		st = runtime.MergeStats(st, r.p.Stats())
	}
	return st
}

// mainRunsByPipeline groups the runs of main-graph units on this server by
// pipeline: names lists each pipeline once, as its first run spells it, and
// byName holds its runs by lower-case name. A stage's runs are left out:
// the rows they move are counted again by the tasks that read their topic.
func (s *Server) mainRunsByPipeline() (names []string, byName map[string][]*run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byName = map[string][]*run{}
	for _, r := range s.runs {
		if r.u.stage != "" {
			continue
		}
		k := strings.ToLower(r.name)
		if byName[k] == nil {
			names = append(names, r.name)
		}
		byName[k] = append(byName[k], r)
	}
	return names, byName
}
