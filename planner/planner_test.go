package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluice-sql/sluice/sql"
)

// fixture is the catalog every test file starts from (reset restores it).
const fixture = `
CREATE SOURCE orders (
    order_id   String NOT NULL,
    user_id    UInt64,
    amount     Float64,
    status     String,
    qty        Int32,
    price      Decimal(10, 2),
    meta       String,
    city       String PATH '$.address.city',
    created_at DateTime64(3),
    WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'orders', format = 'json');

CREATE SOURCE users (
    user_id    UInt64,
    email      String,
    name       String,
    signup     Date,
    updated_at DateTime
) WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'users');

CREATE SOURCE payments (
    payment_id String,
    order_id   String,
    paid       Float64,
    paid_at    DateTime64(3),
    WATERMARK FOR paid_at AS paid_at - INTERVAL 2 SECOND
) WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'payments');

CREATE SOURCE clicks (
    page    String,
    user_id Int64,
    ts      DateTime64(3),
    WATERMARK FOR ts AS ts
) WITH (connector = 'datagen', rows_per_second = '1000', 'fields.page.values' = 'a,b,c');

CREATE SINK ch WITH (connector = 'clickhouse', url = 'clickhouse://localhost:9000/default', table = 'out');
CREATE SINK typed (order_id String NOT NULL, amount Float64, email String, created_at DateTime64(3))
    WITH (connector = 'clickhouse', url = 'clickhouse://localhost:9000/default', password = 'hunter2');
CREATE SINK pg WITH (connector = 'postgres', url = 'postgres://localhost/test', table = 't');
CREATE SINK out WITH (connector = 'file', path = '/tmp/out.jsonl');
`

func fixtureCatalog(t testing.TB) *Mem {
	t.Helper()
	m := NewMem()
	script, errs := sql.Parse(fixture)
	if len(errs) > 0 {
		t.Fatalf("fixture does not parse:\n%s", errs.Render(fixture))
	}
	steps, errs := Check(script, m)
	if len(errs) > 0 {
		t.Fatalf("fixture does not check:\n%s", errs.Render(fixture))
	}
	if err := m.Apply(Changes(steps)); err != nil {
		t.Fatal(err)
	}
	return m
}

// goldenFiles lists the datadriven files: the regular files directly in
// testdata (testdata/fuzz holds the fuzzer's corpus).
func goldenFiles(t testing.TB) []string {
	paths, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no golden files in testdata")
	}
	return out
}

func TestDataDriven(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) { runGolden(t, path) })
	}
}

func runGolden(t *testing.T, path string) {
	{
		cat := fixtureCatalog(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			src := td.Input
			switch td.Cmd {
			case "reset":
				cat = NewMem()
				if !td.HasArg("empty") {
					cat = fixtureCatalog(t)
				}
				return "ok"
			case "plan":
				out, errs := ExplainScript(src, cat)
				if len(errs) > 0 {
					t.Errorf("%s: unexpected errors:\n%s", td.Pos, errs.Render(src))
					return errs.Render(src)
				}
				script, _ := sql.Parse(src)
				steps, _ := Check(script, cat)
				for _, st := range steps {
					for _, g := range graphsOf(st) {
						if err := validateGraph(g); err != nil {
							t.Errorf("%s: invalid graph: %v", td.Pos, err)
						}
					}
				}
				return out
			case "error":
				script, errs := sql.Parse(src)
				if len(errs) == 0 {
					_, errs = Check(script, cat)
				}
				if len(errs) == 0 {
					t.Errorf("%s: expected an error", td.Pos)
					return "no error\n"
				}
				return renderErrors(t, src, errs)
			case "script":
				return runScript(t, src, cat)
			case "catalog":
				return catalogText(cat)
			case "describe":
				script, errs := sql.Parse(src)
				if len(errs) > 0 {
					return errs.Render(src)
				}
				steps, errs := Check(script, cat)
				if len(errs) > 0 {
					return errs.Render(src)
				}
				var b strings.Builder
				for _, s := range steps {
					if s.Result != nil {
						b.WriteString(s.Result.String())
					}
				}
				return b.String()
			}
			t.Fatalf("%s: unknown command %s", td.Pos, td.Cmd)
			return ""
		})
	}
}

// runScript checks a script, applies it when it is clean, and prints what
// each statement did and the catalog afterwards.
func runScript(t *testing.T, src string, cat *Mem) string {
	script, errs := sql.Parse(src)
	if len(errs) > 0 {
		return errs.Render(src) + "\n" + catalogText(cat)
	}
	before := catalogText(cat)
	steps, errs := Check(script, cat)
	if len(errs) > 0 {
		after := catalogText(cat)
		if after != before {
			t.Errorf("a script with errors changed the catalog")
		}
		return errs.Render(src) + "\ncatalog unchanged:\n" + after
	}
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "%d: ", i+1)
		switch {
		case s.Notice != "":
			fmt.Fprintf(&b, "notice: %s\n", s.Notice)
		case len(s.Changes) > 0:
			parts := make([]string, len(s.Changes))
			for j, c := range s.Changes {
				parts[j] = c.String()
			}
			b.WriteString(strings.Join(parts, "; ") + "\n")
		case s.Preview != nil:
			last := s.Preview.Nodes[len(s.Preview.Nodes)-1]
			fmt.Fprintf(&b, "preview of %d nodes, rows %s\n", len(s.Preview.Nodes), last.Schema)
		case s.Result != nil:
			b.WriteString("result\n")
			for _, l := range strings.Split(strings.TrimRight(s.Result.String(), "\n"), "\n") {
				b.WriteString("   " + l + "\n")
			}
		default:
			b.WriteString("nothing\n")
		}
	}
	if err := cat.Apply(Changes(steps)); err != nil {
		t.Fatal(err)
	}
	b.WriteString("catalog:\n")
	b.WriteString(catalogText(cat))
	return b.String()
}

func catalogText(cat Catalog) string {
	var b strings.Builder
	for _, k := range []sql.ObjectKind{sql.ObjSource, sql.ObjSink, sql.ObjPipeline} {
		for _, o := range cat.List(k) {
			fmt.Fprintf(&b, "  %s %s", strings.ToLower(string(k)), o.Name)
			switch k {
			case sql.ObjSource:
				fmt.Fprintf(&b, " %s", o.Source.Declared)
			case sql.ObjSink:
				if len(o.Sink.Declared) > 0 {
					fmt.Fprintf(&b, " %s", o.Sink.Declared)
				}
			case sql.ObjPipeline:
				state := "stopped"
				if o.Pipeline.Running {
					state = "running"
				}
				fmt.Fprintf(&b, " %s: %s -> %s, %d nodes", state, strings.Join(o.Pipeline.Sources, ", "), o.Pipeline.Sink, len(o.Pipeline.Graph.Nodes))
			}
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		return "  (empty)\n"
	}
	return b.String()
}

// renderErrors renders each error as users see it, then its range and its
// fixes as the API reports them, and checks that every position agrees
// with sql.PosAt on the text and that a range is never empty.
func renderErrors(t *testing.T, src string, errs sql.ErrorList) string {
	t.Helper()
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Render(src))
		from, to := e.Span(src)
		for _, p := range []sql.Pos{from, to} {
			if p != sql.PosAt(src, p.Offset) {
				t.Errorf("%s: position %+v, PosAt says %+v", e.Msg, p, sql.PosAt(src, p.Offset))
			}
		}
		if to.Offset <= from.Offset && from.Offset < len(src) {
			t.Errorf("%s: empty range %+v-%+v", e.Msg, from, to)
		}
		fmt.Fprintf(&b, "range %d:%d-%d:%d %q\n", from.Line, from.Col, to.Line, to.Col, src[from.Offset:to.Offset])
		for _, f := range e.Fixes {
			fmt.Fprintf(&b, "fix %d:%d-%d:%d %q: %s\n", f.From.Line, f.From.Col, f.To.Line, f.To.Col, f.Insert, f.Title)
		}
	}
	return b.String()
}
