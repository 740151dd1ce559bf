package planner

import (
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Each node of the README pipeline's plan points at the SQL it comes from.
func TestNodeSpansReadme(t *testing.T) {
	cat := NewMem()
	if _, errs := ApplyScript(readmeObjects, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Leading statements move the pipeline in the script: spans are in
	// its own text.
	if _, errs := ApplyScript("\n\n-- a comment\n"+readmePipeline, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	o, _ := cat.Lookup("enrich_orders")
	spans, err := NodeSpans(o.SQL, o.Pipeline.Graph, cat)
	if err != nil {
		t.Fatal(err)
	}
	text := func(id int) string {
		sp, ok := spans[id]
		if !ok {
			return "<none>"
		}
		return o.SQL[sp.From.Offset:sp.To.Offset]
	}
	var got []string
	for _, n := range o.Pipeline.Graph.Nodes {
		got = append(got, string(n.Kind)+": "+text(n.ID))
	}
	t.Logf("%s", strings.Join(got, "\n"))
	want := map[dag.NodeKind]string{
		dag.KindDedup: "DEDUPLICATE BY o.order_id WITHIN INTERVAL 10 MINUTE",
		dag.KindJoin:  "JOIN users AS u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR",
		dag.KindSink:  "INSERT INTO orders_enriched",
	}
	sources := []string{}
	for _, n := range o.Pipeline.Graph.Nodes {
		switch n.Kind {
		case dag.KindSource:
			sources = append(sources, text(n.ID))
		case dag.KindFilter:
			if got := text(n.ID); got != "o.amount > 0" {
				t.Errorf("filter span %q", got)
			}
		default:
			if w, ok := want[n.Kind]; ok && text(n.ID) != w {
				t.Errorf("%s span %q, want %q", n.Kind, text(n.ID), w)
			}
		}
	}
	if strings.Join(sources, "|") != "orders AS o|users AS u" {
		t.Errorf("source spans %q", sources)
	}
	last := o.Pipeline.Graph.Nodes[len(o.Pipeline.Graph.Nodes)-2]
	if got := text(last.ID); got != "SELECT o.order_id, o.amount, u.email, o.created_at" {
		t.Errorf("projection span %q", got)
	}
	// Lines and columns agree with the offsets.
	sp := spans[0]
	line := strings.Count(o.SQL[:sp.From.Offset], "\n") + 1
	if sp.From.Line != line {
		t.Errorf("source line %d, want %d", sp.From.Line, line)
	}
}
