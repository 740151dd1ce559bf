package sql

import (
	"strings"
	"testing"
)

// TestExprRanges checks that an error about an expression covers all of
// it: each select item below is one expression, and its range must be
// exactly its text.
func TestExprRanges(t *testing.T) {
	items := []string{
		"o.amount",
		"`quoted name`",
		"'it''s'",
		"-x",
		"NOT (a AND b)",
		"a + b * c",
		"x IS NOT NULL",
		"x IS NULL",
		"x NOT IN (1, (2), 3)",
		"x BETWEEN 1 AND y + 2",
		"s LIKE 'a%'",
		"CASE WHEN a THEN CASE b WHEN 1 THEN 2 END ELSE 3 END",
		"CAST(x AS Decimal(10, 2))",
		"COALESCE(a, LOWER(b))",
		"COUNT(*)",
		"a || b",
		"LOWER(x) || y",
		"f(g(h(1)))",
		"t - INTERVAL '5' MINUTE",
		"( ( x ) )",
		"é.ü + 1",
		"LOWER(\n\tname\r\n)",
	}
	for _, nl := range []string{"\n", "\r\n"} {
		src := "SELECT " + strings.Join(items, ","+nl+"\t") + " FROM t"
		script, errs := Parse(src)
		if len(errs) > 0 {
			t.Fatal(errs.Render(src))
		}
		sel := script.Stmts[0].(*SelectStmt).Select
		if len(sel.Items) != len(items) {
			t.Fatalf("%d items, want %d", len(sel.Items), len(items))
		}
		var l ErrorList
		for _, it := range sel.Items {
			l.AddNode(it.Expr, "", "x")
		}
		l.SetEnds(src)
		for i, e := range l {
			if got := src[e.Pos.Offset:e.End.Offset]; got != items[i] {
				t.Errorf("range of %q is %q", items[i], got)
			}
			if e.End != PosAt(src, e.End.Offset) {
				t.Errorf("%q: end %+v, PosAt says %+v", items[i], e.End, PosAt(src, e.End.Offset))
			}
		}
	}
}

// TestRangeColumns checks the end column in characters with tabs, CRLF
// line ends and multi-byte characters before and inside the range.
func TestRangeColumns(t *testing.T) {
	for _, c := range []struct {
		src, at  string
		from, to [2]int
	}{
		{"SELECT a,\r\n\tcafé_ü FROM t", "café_ü", [2]int{2, 2}, [2]int{2, 8}},
		{"SELECT 'ü€',\tcafé FROM t", "café", [2]int{1, 14}, [2]int{1, 18}},
		{"-- ß\r\nSELECT\r\n\t\tx FROM t", "x", [2]int{3, 3}, [2]int{3, 4}},
		{"SELECT a FROM t\r\n", "t", [2]int{1, 15}, [2]int{1, 16}},
	} {
		off := strings.Index(c.src, c.at)
		var l ErrorList
		e := l.Add(PosAt(c.src, off), "", "x")
		l.SetEnds(c.src)
		if e.Pos.Line != c.from[0] || e.Pos.Col != c.from[1] || e.End.Line != c.to[0] || e.End.Col != c.to[1] {
			t.Errorf("%q: %d:%d-%d:%d, want %d:%d-%d:%d", c.src, e.Pos.Line, e.Pos.Col, e.End.Line, e.End.Col, c.from[0], c.from[1], c.to[0], c.to[1])
		}
	}
}

// TestRenderUnderline checks the underline under a range with tabs and
// multi-byte characters, and across a CRLF line end.
func TestRenderUnderline(t *testing.T) {
	src := "SELECT\tü,\tLOWER(\r\n  x) FROM t"
	var l ErrorList
	l.AddNode(&Call{P: PosAt(src, strings.Index(src, "LOWER")), Name: "LOWER"}, "", "bad")
	l.SetEnds(src)
	got := l.Render(src)
	want := "error at 1:11: bad\n" +
		"  1 | SELECT    ü,    LOWER(\n" +
		"    |                 ^^^^^^\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if e := l[0]; e.End.Line != 2 || e.End.Col != 5 {
		t.Errorf("end %d:%d, want 2:5", e.End.Line, e.End.Col)
	}
}
