package sql

import (
	"strings"
	"testing"
)

// TestPositions checks exact line:col of nodes in a script with tabs,
// multi-byte characters, comments and several statements, and that every
// position of every node agrees with PosAt on the submitted text.
func TestPositions(t *testing.T) {
	src := "-- header; with a semicolon\n" +
		"CREATE SOURCE café (\n" +
		"\tx\tString,\n" +
		"\tts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECONDS\n" +
		") WITH (connector = 'kafka');\n" +
		"/* two\nlines */ CREATE PIPELINE p AS INSERT INTO s\n" +
		"SELECT é.x AS \"y\", CAST(é.x AS VARCHAR) FROM café AS é\n" +
		"\tLEFT JOIN b ON é.x = b.x WITHIN INTERVAL 1 HOUR\n" +
		"WHERE é.x <> 'ü' DEDUPLICATE BY é.x WITHIN INTERVAL 2 MINUTE;"
	script, errs := Parse(src)
	if len(errs) > 0 {
		t.Fatal(errs.Render(src))
	}
	src1 := script.Stmts[0].(*CreateSource)
	pipe := script.Stmts[1].(*CreatePipeline)
	sel := pipe.Insert.Query
	cast := sel.Items[1].Expr.(*Cast)
	where := sel.Where.(*Binary)
	for _, c := range []struct {
		what      string
		got       Pos
		line, col int
	}{
		{"CREATE SOURCE", src1.Pos(), 2, 1},
		{"source name", src1.Name.P, 2, 15},
		{"column after a tab", src1.Columns[0].Name.P, 3, 2},
		{"type after two tabs", src1.Columns[0].Type.P, 3, 4},
		{"watermark", src1.Watermark.P, 4, 20},
		{"watermark delay", src1.Watermark.Delay.P, 4, 45},
		{"option key", src1.Options[0].Key.P, 5, 9},
		{"option value", src1.Options[0].ValuePos, 5, 21},
		{"pipeline after a block comment", pipe.Pos(), 7, 10},
		{"INSERT", pipe.Insert.P, 7, 31},
		{"sink", pipe.Insert.Sink.P, 7, 43},
		{"SELECT", sel.P, 8, 1},
		{"qualified column", sel.Items[0].Expr.Pos(), 8, 8},
		{"quoted alias", sel.Items[0].Alias.P, 8, 15},
		{"CAST", cast.P, 8, 20},
		{"CAST operand", cast.X.Pos(), 8, 25},
		{"CAST type", cast.Type.P, 8, 32},
		{"FROM source", sel.From.Name.P, 8, 46},
		{"source alias", sel.From.Alias.P, 8, 54},
		{"LEFT JOIN after a tab", sel.Join.P, 9, 2},
		{"joined source", sel.Join.Right.Name.P, 9, 12},
		{"ON condition", sel.Join.On.Pos(), 9, 17},
		{"ON operator", sel.Join.On.(*Binary).OpPos, 9, 21},
		{"WITHIN interval", sel.Join.Within.P, 9, 34},
		{"WHERE", where.P, 10, 7},
		{"<> operator", where.OpPos, 10, 11},
		{"string after ü", where.R.Pos(), 10, 14},
		{"DEDUPLICATE", sel.Dedups[0].P, 10, 18},
		{"dedup key", sel.Dedups[0].Keys[0].Pos(), 10, 33},
		{"dedup interval", sel.Dedups[0].Within.P, 10, 44},
	} {
		if c.got.Line != c.line || c.got.Col != c.col {
			t.Errorf("%s: at %d:%d, want %d:%d", c.what, c.got.Line, c.got.Col, c.line, c.col)
		}
	}
	if got, want := script.Stmts[0].Text(), src[strings.Index(src, "CREATE SOURCE"):strings.Index(src, ";\n/*")]; got != want {
		t.Errorf("statement text %q, want %q", got, want)
	}
	checkPositions(t, src, script)
}

// checkPositions asserts that every node's Pos is inside src and agrees
// with PosAt on its offset.
func checkPositions(t testing.TB, src string, script *Script) {
	t.Helper()
	visitPositions(script, func(what string, p Pos) {
		if p.Offset < 0 || p.Offset > len(src) {
			t.Fatalf("%s: offset %d outside the script (%d bytes)", what, p.Offset, len(src))
		}
		if want := PosAt(src, p.Offset); want != p {
			t.Fatalf("%s: Pos %+v, PosAt says %+v", what, p, want)
		}
	})
}
