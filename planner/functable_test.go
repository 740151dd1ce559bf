package planner

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestFunctionTable checks that every function the table lists binds as
// its example shows, that names are unique, and that docs/sql.md names
// each one.
func TestFunctionTable(t *testing.T) {
	cat := fixtureCatalog(t)
	docs, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range Functions() {
		if seen[strings.ToUpper(f.Name)] {
			t.Errorf("%s is listed twice", f.Name)
		}
		seen[strings.ToUpper(f.Name)] = true
		if f.Signature == "" || f.Returns == "" || f.Doc == "" || !strings.HasPrefix(f.Example, f.Name+"(") {
			t.Errorf("%s: incomplete entry %+v", f.Name, f)
		}
		var src string
		switch f.Kind {
		case FuncScalar:
			src = "SELECT " + f.Example + " AS x FROM orders"
		case FuncAggregate:
			src = "SELECT " + f.Example + " AS x FROM orders GROUP BY TUMBLE(created_at, INTERVAL 1 MINUTE)"
		case FuncWindow:
			src = "SELECT window_start FROM orders GROUP BY " + f.Example
		default:
			t.Errorf("%s: kind %q", f.Name, f.Kind)
			continue
		}
		if _, errs := PlanPreviewSQL(src, cat); len(errs) > 0 {
			t.Errorf("%s does not bind:\n%s", f.Name, errs.Render(src))
		}
		if !regexp.MustCompile(`\b` + f.Name + `\b`).Match(docs) {
			t.Errorf("docs/sql.md does not name %s", f.Name)
		}
	}
	// A name the table does not list is unknown to the binder.
	if _, errs := PlanPreviewSQL("SELECT NOSUCH(amount) FROM orders", cat); len(errs) != 1 || !strings.Contains(errs[0].Msg, "unknown function") {
		t.Errorf("NOSUCH: %v", errs)
	}
}
