package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

func TestApplyScriptChangesNothingOnError(t *testing.T) {
	cat := NewMem()
	if _, errs := ApplyScript(readmeObjects, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	before := catalogText(cat)
	_, errs := ApplyScript("DROP SINK orders_enriched; DROP SOURCE nope;", cat)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, `unknown source "nope"`) {
		t.Fatalf("errors = %v", errs)
	}
	if after := catalogText(cat); after != before {
		t.Fatalf("catalog changed:\n%s", after)
	}
	steps, errs := ApplyScript(readmePipeline, cat)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := Changes(steps); len(got) != 1 || got[0].Op != OpCreate || got[0].Name != "enrich_orders" {
		t.Fatalf("changes = %v", got)
	}
	if users := cat.UsedBy("USERS"); len(users) != 1 || users[0] != "enrich_orders" {
		t.Fatalf("UsedBy(users) = %v", users)
	}
	o, ok := cat.Lookup("Enrich_Orders")
	if !ok || !o.Pipeline.Running || o.Pipeline.Graph.Name != "enrich_orders" {
		t.Fatalf("pipeline = %+v", o)
	}
	if o.Canonical == "" || !strings.HasPrefix(o.SQL, "CREATE PIPELINE") {
		t.Fatalf("SQL %q, canonical %q", o.SQL, o.Canonical)
	}
}

func TestPlanPreviewSQL(t *testing.T) {
	cat := NewMem()
	if _, errs := ApplyScript(readmeObjects, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	g, errs := PlanPreviewSQL("SELECT order_id, amount * 2 AS twice FROM orders LIMIT 5", cat)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	last := g.Nodes[len(g.Nodes)-1]
	if last.Kind != dag.KindLimit || last.Limit != 5 || g.Name != "" {
		t.Fatalf("last node %+v", last)
	}
	if got := last.Schema.String(); got != "(order_id Nullable(String), twice Nullable(Float64))" {
		t.Fatalf("schema %s", got)
	}
	if err := validateGraph(g); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"DROP SOURCE orders", "SELECT 1 FROM orders; SELECT 2 FROM orders", "SELECT nope FROM orders"} {
		if _, errs := PlanPreviewSQL(bad, cat); len(errs) == 0 {
			t.Errorf("%q: expected an error", bad)
		}
	}
	if _, ok := cat.Lookup("orders"); !ok {
		t.Fatal("a preview changed the catalog")
	}
}

func TestExplainScriptReportsEveryError(t *testing.T) {
	src := "SELECT a FROM orders;\nSELECT b FROM users;"
	cat := NewMem()
	if _, errs := ApplyScript(readmeObjects, cat); len(errs) > 0 {
		t.Fatal(errs)
	}
	_, errs := ExplainScript(src, cat)
	if len(errs) != 2 || errs[0].Pos.Line != 1 || errs[1].Pos.Line != 2 {
		t.Fatalf("errors:\n%s", errs.Render(src))
	}
}

// Deep expressions bind in roughly linear time: texts and key matching
// are not recomputed per level. A quadratic or worse planner would make a
// submitted script an easy way to stall the server.
func TestDeepExpressions(t *testing.T) {
	cat := fixtureCatalog(t)
	const n = 1000
	e := "qty"
	for range n {
		e = "(" + e + " + 1)"
	}
	src := "SELECT status, SUM(" + e + ") AS s, " + strings.Repeat("UPPER(", n) + "status" + strings.Repeat(")", n) +
		" AS u FROM orders GROUP BY TUMBLE(created_at, INTERVAL 1 MINUTE), status"
	start := time.Now()
	if _, errs := ExplainScript(src, cat); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("planning a %d-deep expression took %v", n, d)
	}
}
