package server

import (
	"strings"

	"github.com/sluice-sql/sluice/planner"
)

// foresee fills, for a dry run, the Restarted and StateKept of each
// pipeline a statement replaces: whether applying the script would restart
// it (it runs now, and its plan changes), and whether its dedup, join and
// window state would carry over, as reconcile decides when it is applied.
func (s *Server) foresee(res *ScriptResult, steps []planner.Step) {
	final := map[string]*planner.Object{}
	for _, c := range planner.Changes(steps) {
		k := strings.ToLower(c.Name)
		if c.Object != nil && c.Object.Pipeline != nil {
			final[k] = c.Object
		} else {
			delete(final, k)
		}
	}
	for i := range res.Statements {
		r := &res.Statements[i]
		if r.Kind != "pipeline" || r.Action != ActionReplaced {
			continue
		}
		k := strings.ToLower(r.Name)
		nobj, here := final[k], s.runsOf(r.Name)
		if nobj == nil || len(here) == 0 || !nobj.Pipeline.Running || here[0].def == nobj.Pipeline.Graph {
			continue
		}
		kept := stateFits(here[0].def, nobj.Pipeline.Graph)
		r.Restarted, r.StateKept = true, &kept
	}
}
