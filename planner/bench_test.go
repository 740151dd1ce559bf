package planner

import (
	"os"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/sql"
)

// readmeObjects and readmePipeline split the README example
// (examples/orders.sql) into its sources and sink, and its pipeline.
var readmeObjects, readmePipeline = func() (string, string) {
	b, err := os.ReadFile("../examples/orders.sql")
	if err != nil {
		panic(err)
	}
	i := strings.Index(string(b), "CREATE PIPELINE")
	if i < 0 {
		panic("examples/orders.sql has no pipeline")
	}
	return string(b[:i]), strings.TrimSpace(string(b[i:]))
}()

func loadScript(tb testing.TB, cat *Mem, src string) {
	tb.Helper()
	script, errs := sql.Parse(src)
	if len(errs) > 0 {
		tb.Fatal(errs.Render(src))
	}
	steps, errs := Check(script, cat)
	if len(errs) > 0 {
		tb.Fatal(errs.Render(src))
	}
	if err := cat.Apply(Changes(steps)); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkParsePlanExample(b *testing.B) {
	cat := NewMem()
	loadScript(b, cat, readmeObjects)
	b.ReportAllocs()
	for b.Loop() {
		script, errs := sql.Parse(readmePipeline)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		steps, errs := Check(script, cat)
		if len(errs) > 0 || len(steps) != 1 || len(steps[0].Changes) != 1 {
			b.Fatal(errs)
		}
	}
}
