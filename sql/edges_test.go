package sql

import (
	"fmt"
	"testing"
)

func TestParseEdges(t *testing.T) {
	for _, c := range []struct {
		name, src string
		stmts     int
		errs      int
		errAt     string // "line:col" of the first error, "" for none
	}{
		{"empty", "", 0, 0, ""},
		{"only comments and semicolons", "-- a\n/* b */ ; ;\n-- c", 0, 0, ""},
		{"byte order mark", "\uFEFFSHOW SOURCES", 1, 0, ""},
		{"CRLF line ends", "SHOW SOURCES;\r\nSHOW SINKS;\r\nSHOW TABLES", 2, 1, "3:6"},
		{"error after a tab and a multi-byte name", "SELECT\tné FROM t WHERE é >", 0, 1, "1:27"},
		{"missing ; at the end is fine", "SHOW SOURCES", 1, 0, ""},
		{"error in one statement, next still parsed", "SHOW NOTHING; SHOW SINKS; DROP SOURCE", 1, 2, "1:6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			script, errs := Parse(c.src)
			if len(script.Stmts) != c.stmts {
				t.Errorf("%d statements, want %d", len(script.Stmts), c.stmts)
			}
			if len(errs) != c.errs {
				t.Errorf("%d errors, want %d:\n%s", len(errs), c.errs, errs.Render(c.src))
			}
			got := ""
			if len(errs) > 0 {
				got = fmt.Sprintf("%d:%d", errs[0].Pos.Line, errs[0].Pos.Col)
			}
			if got != c.errAt {
				t.Errorf("first error at %q, want %q\n%s", got, c.errAt, errs.Render(c.src))
			}
			checkPositions(t, c.src, script)
		})
	}
}
