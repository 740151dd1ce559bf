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

// A window, a LEFT join without WHERE (its ON residual pushed below the
// join) and a SELECT *: every node still points at its SQL.
func TestNodeSpansWindowAndJoin(t *testing.T) {
	cat := NewMem()
	if _, errs := ApplyScript(readmeObjects, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	src := `CREATE SINK w WITH (connector = 'file', path = '/tmp/w.jsonl');
CREATE PIPELINE win AS INSERT INTO w
SELECT user_id, window_end, COUNT(*) AS n
FROM orders
GROUP BY TUMBLE(created_at, INTERVAL 1 MINUTE), user_id
HAVING COUNT(*) > 1;
CREATE PIPELINE lj AS INSERT INTO w
SELECT o.*, u.email FROM orders AS o LEFT JOIN users AS u ON o.user_id = u.user_id AND u.email <> '' WITHIN INTERVAL 1 MINUTE;`
	if _, errs := ApplyScript(src, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]map[dag.NodeKind]string{
		"win": {dag.KindSource: "orders", dag.KindWindow: "TUMBLE(created_at, INTERVAL 1 MINUTE), user_id\nHAVING COUNT(*) > 1",
			dag.KindProject: "SELECT user_id, window_end, COUNT(*) AS n", dag.KindSink: "INSERT INTO w"},
		"lj": {dag.KindJoin: "LEFT JOIN users AS u ON o.user_id = u.user_id AND u.email <> '' WITHIN INTERVAL 1 MINUTE",
			dag.KindProject: "SELECT o.*, u.email", dag.KindFilter: "o.user_id = u.user_id AND u.email <> ''"},
	} {
		o, _ := cat.Lookup(name)
		spans, err := NodeSpans(o.SQL, o.Pipeline.Graph, cat)
		if err != nil {
			t.Fatal(name, err)
		}
		var kinds []string
		for _, n := range o.Pipeline.Graph.Nodes {
			kinds = append(kinds, string(n.Kind))
		}
		t.Logf("%s: %v", name, kinds)
		for _, n := range o.Pipeline.Graph.Nodes {
			sp, ok := spans[n.ID]
			if !ok {
				t.Errorf("%s: node %d (%s) has no span", name, n.ID, n.Kind)
				continue
			}
			got := o.SQL[sp.From.Offset:sp.To.Offset]
			if w, ok := want[n.Kind]; ok && got != w && !(n.Kind == dag.KindProject && n.ID != len(o.Pipeline.Graph.Nodes)-2) {
				t.Errorf("%s: %s span %q, want %q", name, n.Kind, got, w)
			}
		}
	}
	// A plan that no longer matches its SQL is refused, not mislabelled.
	o, _ := cat.Lookup("win")
	other, _ := cat.Lookup("lj")
	if _, err := NodeSpans(o.SQL, other.Pipeline.Graph, cat); err == nil {
		t.Error("spans of another pipeline's plan")
	}
}
