package sql

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestParse runs the golden files in testdata/parse (go test -rewrite regenerates
// them):
//
//	parse        the canonical form of the script; also checks that parsing
//	             the canonical form gives the same AST and the same text
//	parse-error  the rendered errors, each with its range and fixes
//	positions    every positioned node with line:col and the text there
func TestParse(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "parse"), func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				script, errs := Parse(d.Input)
				if len(errs) > 0 {
					d.Fatalf(t, "unexpected errors:\n%s", errs.Render(d.Input))
				}
				out := FormatScript(script)
				if msg := checkRoundTrip(script, out); msg != "" {
					d.Fatalf(t, "%s", msg)
				}
				return out
			case "parse-error":
				_, errs := Parse(d.Input)
				if len(errs) == 0 {
					d.Fatalf(t, "expected an error")
				}
				return renderErrors(t, d.Input, errs)
			case "positions":
				script, errs := Parse(d.Input)
				if len(errs) > 0 {
					d.Fatalf(t, "unexpected errors:\n%s", errs.Render(d.Input))
				}
				return positions(d.Input, script)
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}

// checkRoundTrip parses the canonical text again and compares.
func checkRoundTrip(script *Script, canonical string) string {
	again, errs := Parse(canonical)
	if len(errs) > 0 {
		return fmt.Sprintf("the canonical form does not parse:\n%s\n%s", canonical, errs.Render(canonical))
	}
	if d := astDiff(script.Stmts, again.Stmts); d != "" {
		return fmt.Sprintf("the canonical form parses to another AST (%s):\n%s", d, canonical)
	}
	if twice := FormatScript(again); twice != canonical {
		return fmt.Sprintf("formatting is not stable:\n%s\nthen:\n%s", canonical, twice)
	}
	return ""
}

func positions(src string, script *Script) string {
	var b strings.Builder
	visitPositions(script, func(what string, p Pos) {
		rest := src[p.Offset:]
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[:i]
		}
		if len(rest) > 24 {
			rest = rest[:24]
		}
		fmt.Fprintf(&b, "%d:%d %s %q\n", p.Line, p.Col, what, rest)
	})
	return b.String()
}

// renderErrors renders each error as users see it, then its range and
// its fixes as the API reports them, and checks that every position agrees
// with PosAt on the text.
func renderErrors(t *testing.T, src string, errs ErrorList) string {
	t.Helper()
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Render(src))
		from, to := e.Span(src)
		for _, p := range []Pos{from, to} {
			if p != PosAt(src, p.Offset) {
				t.Errorf("%s: position %+v, PosAt says %+v", e.Msg, p, PosAt(src, p.Offset))
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

// TestUnparsedNames: the names of CREATE statements that do not parse are
// kept, so that checking the rest does not report their uses as unknown.
func TestUnparsedNames(t *testing.T) {
	src := "CREATE OR REPLACE SOURCE a (x Int64 y) WITH (connector = 'kafka');\n" +
		"CREATE SINK IF NOT EXISTS `b c` WITH (connector = 'file' path = 'p');\n" +
		"CREATE PIPELINE p AS INSERT INTO b SELECT FROM a;\n" +
		"DROP SOURCE;\n" +
		"CREATE SINK ok WITH (connector = 'file', path = 'p');\n" +
		"CREATE SINK z WITH (path = 'unterminated"
	script, errs := Parse(src)
	if len(errs) != 5 || len(script.Stmts) != 1 {
		t.Fatalf("%d statements, errors:\n%s", len(script.Stmts), errs.Render(src))
	}
	var got []string
	for _, id := range script.Unparsed {
		got = append(got, fmt.Sprintf("%s@%d:%d", id.Name, id.P.Line, id.P.Col))
	}
	if g := strings.Join(got, " "); g != "a@1:26 b c@2:27 p@3:17 z@6:13" {
		t.Errorf("unparsed %s", g)
	}
}
