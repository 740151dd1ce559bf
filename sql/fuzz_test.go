package sql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every position it reports
// lies in the input and agrees with PosAt, and that every statement it
// accepts formats to text that parses back to the same AST and formats
// the same again. The seeds are the golden inputs and the README example.
func FuzzParse(f *testing.F) {
	f.Add(readmeExample)
	files, _ := filepath.Glob(filepath.Join("testdata", "parse", "*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, in := range goldenInputs(string(data)) {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		script, errs := Parse(src)
		for _, e := range errs {
			if e.Pos.Offset < 0 || e.Pos.Offset > len(src) || PosAt(src, e.Pos.Offset) != e.Pos {
				t.Fatalf("error %q at %+v: bad position", e.Msg, e.Pos)
			}
			if e.End.Offset < e.Pos.Offset || e.End.Offset > len(src) || PosAt(src, e.End.Offset) != e.End {
				t.Fatalf("error %q at %+v: bad end %+v", e.Msg, e.Pos, e.End)
			}
		}
		_ = errs.Render(src)
		checkPositions(t, src, script)
		if len(script.Stmts) == 0 {
			return
		}
		if msg := checkRoundTrip(script, FormatScript(script)); msg != "" {
			t.Fatalf("%s", msg)
		}
	})
}

// goldenInputs returns the inputs of the directives of a datadriven file.
func goldenInputs(file string) []string {
	var out []string
	var cur []string
	in := false
	for _, line := range strings.Split(file, "\n") {
		switch {
		case !in && (line == "parse" || line == "parse-error" || line == "positions"):
			in, cur = true, cur[:0]
		case in && line == "----":
			out = append(out, strings.Join(cur, "\n"))
			in = false
		case in:
			cur = append(cur, line)
		}
	}
	return out
}
