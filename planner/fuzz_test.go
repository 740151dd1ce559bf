package planner

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// testdataInputs returns the input of every case in testdata, as fuzz
// seeds.
func testdataInputs(t testing.TB) []string {
	var out []string
	for _, f := range goldenFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur []string
		in := false
		for _, l := range strings.Split(string(data), "\n") {
			switch {
			case !in && (l == "plan" || l == "error" || l == "script" || l == "describe"):
				in, cur = true, nil
			case in && l == "----":
				out = append(out, strings.Join(cur, "\n"))
				in = false
			case in:
				cur = append(cur, l)
			}
		}
	}
	return out
}

// FuzzParsePlan feeds random and mutated scripts through the parser, the
// checker, EXPLAIN and the graph invariants: none may panic, and every
// graph the planner returns must be well formed for the runtime.
func FuzzParsePlan(f *testing.F) {
	for _, s := range testdataInputs(f) {
		f.Add(s)
	}
	f.Add(fixture)
	cat := fixtureCatalog(f)
	f.Fuzz(func(t *testing.T, src string) {
		script, errs := sql.Parse(src)
		if script == nil {
			return
		}
		steps, cerrs := Check(script, cat)
		_ = errs.Render(src)
		_ = cerrs.Render(src)
		for _, e := range cerrs {
			if e.Pos.Offset < 0 || e.Pos.Offset > len(src) {
				t.Fatalf("error %q points outside the source: %+v", e.Msg, e.Pos)
			}
			if e.End.Offset < e.Pos.Offset || e.End.Offset > len(src) || sql.PosAt(src, e.End.Offset) != e.End {
				t.Fatalf("error %q at %+v: bad end %+v", e.Msg, e.Pos, e.End)
			}
		}
		for _, st := range steps {
			for _, g := range graphsOf(st) {
				if err := validateGraph(g); err != nil {
					t.Fatalf("invalid graph for %q: %v\n%s", src, err, Explain(g))
				}
				_ = Explain(g)
			}
			if st.Result != nil {
				_ = st.Result.String()
			}
		}
	})
}

func graphsOf(st Step) []*dag.Graph {
	var out []*dag.Graph
	if st.Preview != nil {
		out = append(out, st.Preview)
	}
	for _, c := range st.Changes {
		if c.Object != nil && c.Object.Pipeline != nil && c.Object.Pipeline.Graph != nil {
			out = append(out, c.Object.Pipeline.Graph)
			for _, st := range c.Object.Pipeline.Graph.Stages {
				out = append(out, st.Graph)
			}
		}
	}
	return out
}

// validateGraph checks what the runtime relies on: nodes in topological
// order with sequential IDs, every column reference inside the schema it
// refers to, every expression typed, time columns in range.
func validateGraph(g *dag.Graph) error {
	if len(g.Nodes) == 0 {
		return fmt.Errorf("no nodes")
	}
	for i, n := range g.Nodes {
		if n.ID != i {
			return fmt.Errorf("node %d has ID %d", i, n.ID)
		}
		var ins []dag.Schema
		for _, in := range n.Inputs {
			if in < 0 || in >= i {
				return fmt.Errorf("node %d: input %d does not precede it", i, in)
			}
			ins = append(ins, g.Nodes[in].Schema)
		}
		if n.TimeCol < -1 || n.TimeCol >= len(n.Schema) {
			return fmt.Errorf("node %d: time column %d out of range", i, n.TimeCol)
		}
		want := map[dag.NodeKind]int{dag.KindSource: 0, dag.KindJoin: 2}
		nin, ok := want[n.Kind]
		if !ok {
			nin = 1
		}
		if len(ins) != nin {
			return fmt.Errorf("node %d (%s): %d inputs", i, n.Kind, len(ins))
		}
		check := func(what string, s dag.Schema, es ...*dag.Expr) error {
			for _, e := range es {
				if err := validateExpr(e, s); err != nil {
					return fmt.Errorf("node %d (%s) %s: %v", i, n.Kind, what, err)
				}
			}
			return nil
		}
		var err error
		switch n.Kind {
		case dag.KindSource:
			if n.Source == nil {
				return fmt.Errorf("node %d: source without spec", i)
			}
		case dag.KindDedup:
			err = check("keys", ins[0], n.Dedup.Keys...)
		case dag.KindFilter:
			err = check("predicate", ins[0], n.Predicate)
			if err == nil && n.Predicate.Type.Kind != dag.Bool {
				err = fmt.Errorf("node %d: predicate of type %s", i, n.Predicate.Type)
			}
		case dag.KindProject:
			if len(n.Exprs) != len(n.Schema) {
				return fmt.Errorf("node %d: %d exprs for %d columns", i, len(n.Exprs), len(n.Schema))
			}
			err = check("exprs", ins[0], n.Exprs...)
		case dag.KindJoin:
			j := n.Join
			if len(j.LeftKeys) == 0 || len(j.LeftKeys) != len(j.RightKeys) {
				return fmt.Errorf("node %d: join keys %d/%d", i, len(j.LeftKeys), len(j.RightKeys))
			}
			for k := range j.LeftKeys {
				if !sameType(j.LeftKeys[k].Type, j.RightKeys[k].Type) {
					return fmt.Errorf("node %d: key %d types %s and %s", i, k, j.LeftKeys[k].Type, j.RightKeys[k].Type)
				}
			}
			if j.LeftTime < 0 || j.LeftTime >= len(ins[0]) || j.RightTime < 0 || j.RightTime >= len(ins[1]) {
				return fmt.Errorf("node %d: join time columns out of range", i)
			}
			if len(n.Schema) != len(ins[0])+len(ins[1]) {
				return fmt.Errorf("node %d: join schema is not left then right", i)
			}
			err = check("left keys", ins[0], j.LeftKeys...)
			if err == nil {
				err = check("right keys", ins[1], j.RightKeys...)
			}
			if err == nil && j.Residual != nil {
				err = check("residual", n.Schema, j.Residual)
			}
		case dag.KindWindow:
			w := n.Window
			if w.TimeCol < 0 || w.TimeCol >= len(ins[0]) || !ins[0][w.TimeCol].Type.Kind.IsTime() {
				return fmt.Errorf("node %d: window time column %d", i, w.TimeCol)
			}
			if w.Size <= 0 || w.Slide <= 0 || w.Slide > w.Size {
				return fmt.Errorf("node %d: window size %v slide %v", i, w.Size, w.Slide)
			}
			if len(n.Schema) != len(w.Keys)+2+len(w.Aggs) {
				return fmt.Errorf("node %d: window schema has %d columns", i, len(n.Schema))
			}
			err = check("keys", ins[0], w.Keys...)
			for _, a := range w.Aggs {
				if err == nil && a.Arg != nil {
					err = check("aggregate", ins[0], a.Arg)
				}
			}
			if err == nil && w.Having != nil {
				err = check("having", n.Schema, w.Having)
			}
		case dag.KindSink:
			if n.Sink == nil {
				return fmt.Errorf("node %d: sink without spec", i)
			}
			if len(n.Schema) != len(ins[0]) {
				return fmt.Errorf("node %d: sink schema has %d columns, input %d", i, len(n.Schema), len(ins[0]))
			}
		}
		if err != nil {
			return err
		}
		if n.StateTTL < 0 {
			return fmt.Errorf("node %d: negative state TTL", i)
		}
	}
	return nil
}

func validateExpr(e *dag.Expr, s dag.Schema) error {
	if e == nil {
		return fmt.Errorf("nil expression")
	}
	if e.Op == dag.OpInvalid || e.Type.Kind == dag.Invalid {
		return fmt.Errorf("untyped expression %q", e.Text)
	}
	if e.Op == dag.OpColumn {
		if e.Col < 0 || e.Col >= len(s) {
			return fmt.Errorf("%q refers to column %d of %d", e.Text, e.Col, len(s))
		}
		if !sameType(e.Type, s[e.Col].Type) {
			return fmt.Errorf("%q is typed %s, its column %s", e.Text, e.Type, s[e.Col].Type)
		}
	}
	for _, a := range e.Args {
		if err := validateExpr(a, s); err != nil {
			return err
		}
	}
	return nil
}
