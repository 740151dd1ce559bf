package planner

import (
	"fmt"
	"strings"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// Explain renders a graph as an indented tree rooted at its last node (the
// sink of a pipeline, the rows of a preview). Each node shows its kind, the
// keys and intervals of stateful operators, predicates, the projected
// expressions as written, its time attribute and its output schema.
func Explain(g *dag.Graph) string {
	var b strings.Builder
	if g.Name != "" {
		fmt.Fprintf(&b, "pipeline %s\n", g.Name)
	} else {
		b.WriteString("preview\n")
	}
	if g.Parallelism > 1 {
		fmt.Fprintf(&b, "parallelism: %d tasks\n", g.Parallelism)
	}
	if len(g.Nodes) == 0 {
		return b.String()
	}
	stages := map[string]*dag.Stage{}
	for _, st := range g.Stages {
		stages[st.Topic] = st
	}
	newExplainer(&b, g, stages).node(g.Nodes[len(g.Nodes)-1], "", "", 0)
	return b.String()
}

type explainer struct {
	b    *strings.Builder
	byID map[int]*dag.Node
	// stages are the repartition stages by their topic: a source node
	// reading one shows the stage under it.
	stages map[string]*dag.Stage
	tasks  int
}

func newExplainer(b *strings.Builder, g *dag.Graph, stages map[string]*dag.Stage) explainer {
	byID := make(map[int]*dag.Node, len(g.Nodes))
	for _, n := range g.Nodes {
		byID[n.ID] = n
	}
	return explainer{b: b, byID: byID, stages: stages, tasks: g.Tasks()}
}

// stageOf returns the stage whose topic a source node reads.
func (e explainer) stageOf(n *dag.Node) *dag.Stage {
	if n.Kind != dag.KindSource || n.Source == nil || n.Source.Connector != "kafka" {
		return nil
	}
	return e.stages[n.Source.Options["topic"]]
}

// stage writes a repartition stage as the one input of the source node
// that reads its topic: its title line, then its own graph from its sink.
func (e explainer) stage(st *dag.Stage, rest string) {
	fmt.Fprintf(e.b, "%s└── Repartition %s BY (%s) THROUGH TOPIC %s (%d partitions)\n", rest, st.Source, strings.Join(st.Keys, ", "), st.Topic, st.Graph.Tasks())
	inner := rest + "    "
	fmt.Fprintf(e.b, "%s│ stage: %s, %d tasks\n", inner, st.Graph.Name, st.Graph.Tasks())
	if len(st.Graph.Nodes) == 0 {
		return
	}
	sub := newExplainer(e.b, st.Graph, nil)
	sub.node(st.Graph.Nodes[len(st.Graph.Nodes)-1], inner+"└── ", inner+"    ", 0)
}

// node writes n with first as the prefix of its title line and rest as
// the prefix of everything under it.
func (e explainer) node(n *dag.Node, first, rest string, depth int) {
	fmt.Fprintf(e.b, "%s%s\n", first, title(n))
	st := e.stageOf(n)
	inner := rest + "│ "
	if len(n.Inputs) == 0 && st == nil {
		inner = rest + "  "
	}
	var in dag.Schema
	if len(n.Inputs) > 0 {
		if x, ok := e.byID[n.Inputs[0]]; ok {
			in = x.Schema
		}
	}
	for _, l := range details(n, in) {
		fmt.Fprintf(e.b, "%s%s\n", inner, l)
	}
	if st != nil {
		e.stage(st, rest)
		return
	}
	if depth > len(e.byID) {
		// Inputs precede their node, so a graph cannot nest deeper than
		// its node count; this guards against malformed graphs.
		return
	}
	for i, id := range n.Inputs {
		in, ok := e.byID[id]
		if !ok {
			fmt.Fprintf(e.b, "%s└── ? node %d\n", rest, id)
			continue
		}
		if i == len(n.Inputs)-1 {
			e.node(in, rest+"└── ", rest+"    ", depth+1)
		} else {
			e.node(in, rest+"├── ", rest+"│   ", depth+1)
		}
	}
}

func title(n *dag.Node) string {
	switch n.Kind {
	case dag.KindSource:
		if n.Source != nil {
			return "source " + n.Source.Name
		}
	case dag.KindSink:
		if n.Sink != nil {
			return "sink " + n.Sink.Name
		}
	case dag.KindJoin:
		if n.Join != nil {
			return "join " + string(n.Join.Type)
		}
	case dag.KindWindow:
		if n.Window != nil {
			return "window " + string(n.Window.Kind)
		}
	case dag.KindLimit:
		return fmt.Sprintf("limit %d", n.Limit)
	}
	return string(n.Kind)
}

func exprTexts(es []*dag.Expr) string {
	ts := make([]string, len(es))
	for i, x := range es {
		ts[i] = x.Text
	}
	return strings.Join(ts, ", ")
}

func colName(s dag.Schema, i int) string {
	if i >= 0 && i < len(s) {
		return s[i].Name
	}
	return "none"
}

// details lists what a node does; in is its first input's schema.
func details(n *dag.Node, in dag.Schema) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch n.Kind {
	case dag.KindSource:
		if s := n.Source; s != nil {
			add("connector: %s (%s)", s.Connector, maskOptions(s.Options))
			wm := s.Watermark
			if wm == "" {
				wm = "_timestamp"
			}
			if s.WatermarkDelay > 0 {
				wm += " - " + durText(s.WatermarkDelay)
			}
			add("watermark: %s, idle after %s", wm, durText(s.IdleTimeout))
			var reads []string
			for _, c := range n.Schema {
				r := c.Name
				switch {
				case c.Pseudo:
					r += " (pseudo)"
				case len(c.Path) > 0 && (len(c.Path) != 1 || c.Path[0] != c.Name):
					r += " ← $." + strings.Join(c.Path, ".")
				}
				reads = append(reads, r)
			}
			add("reads: %s of %d declared", strings.Join(reads, ", "), len(s.Declared))
		}
	case dag.KindDedup:
		if d := n.Dedup; d != nil {
			add("keys: %s", exprTexts(d.Keys))
			add("within: %s", durText(d.Within))
		}
	case dag.KindFilter:
		if n.Predicate != nil {
			add("predicate: %s", n.Predicate.Text)
		}
	case dag.KindJoin:
		if j := n.Join; j != nil {
			pairs := make([]string, len(j.LeftKeys))
			for i := range j.LeftKeys {
				r := "?"
				if i < len(j.RightKeys) {
					r = j.RightKeys[i].Text
				}
				pairs[i] = j.LeftKeys[i].Text + " = " + r
			}
			add("keys: %s", strings.Join(pairs, ", "))
			if j.Residual != nil {
				add("residual: %s", j.Residual.Text)
			}
			add("within: %s", durText(j.Within))
		}
	case dag.KindWindow:
		if w := n.Window; w != nil {
			if w.Kind == dag.Hop {
				add("size: %s, slide: %s", durText(w.Size), durText(w.Slide))
			} else {
				add("size: %s", durText(w.Size))
			}
			add("on: %s", colName(in, w.TimeCol))
			if len(w.Keys) > 0 {
				add("keys: %s", exprTexts(w.Keys))
			}
			if len(w.Aggs) > 0 {
				as := make([]string, len(w.Aggs))
				for i, a := range w.Aggs {
					as[i] = a.Text
				}
				add("aggregates: %s", strings.Join(as, ", "))
			}
			if w.Having != nil {
				add("having: %s", w.Having.Text)
			}
		}
	case dag.KindProject:
		for i, x := range n.Exprs {
			name := colName(n.Schema, i)
			if x.Text == name {
				add("%s", name)
			} else {
				add("%s := %s", name, x.Text)
			}
		}
	case dag.KindSink:
		if s := n.Sink; s != nil {
			add("connector: %s (%s)", s.Connector, maskOptions(s.Options))
			if len(s.Declared) == 0 {
				add("columns: from the pipeline")
			}
		}
	}
	if n.StateTTL > 0 {
		add("state ttl: %s", durText(n.StateTTL))
	}
	if n.TimeCol >= 0 {
		add("time: %s", colName(n.Schema, n.TimeCol))
	}
	add("schema: %s", n.Schema)
	return out
}

// ExplainScript parses a script, checks it against cat (without changing
// cat) and renders the plan of every pipeline it creates, every EXPLAIN and
// every preview SELECT, in order. It is what `sluice explain -f file.sql`
// prints.
func ExplainScript(src string, cat Catalog) (string, sql.ErrorList) {
	script, errs := sql.Parse(src)
	if len(errs) > 0 {
		return "", errs
	}
	steps, errs := Check(script, cat)
	if len(errs) > 0 {
		return "", errs
	}
	var b strings.Builder
	for _, st := range steps {
		var text string
		switch {
		case st.Result != nil && isExplain(st.Stmt):
			text = st.Result.String()
		case st.Preview != nil:
			text = Explain(st.Preview)
		default:
			for _, c := range st.Changes {
				if c.Kind == sql.ObjPipeline && (c.Op == OpCreate || c.Op == OpReplace) && c.Object.Pipeline.Graph != nil {
					text += Explain(c.Object.Pipeline.Graph)
				}
			}
		}
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

func isExplain(s sql.Stmt) bool {
	_, ok := s.(*sql.Explain)
	return ok
}
