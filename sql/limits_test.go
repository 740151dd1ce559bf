package sql

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRenderLongLine: an error on a very long line shows the part of the
// line around it, with the caret under the construct.
func TestRenderLongLine(t *testing.T) {
	src := "SELECT " + strings.Repeat("aé + ", 2000) + "nope( FROM s"
	_, errs := Parse(src)
	if len(errs) == 0 {
		t.Fatal("no error")
	}
	r := errs[0].Render(src)
	lines := strings.Split(r, "\n")
	if len(r) > 1024 || len(lines) < 3 {
		t.Fatalf("rendered %d bytes:\n%s", len(r), r)
	}
	code, caret := lines[1], lines[2]
	if !strings.Contains(code, "| …") {
		t.Errorf("the cut is not marked:\n%s", r)
	}
	// The caret stands under the character the error names.
	at := strings.Index(caret, "^")
	if at < 0 {
		t.Fatalf("no caret:\n%s", r)
	}
	col := utf8.RuneCountInString(caret[:at])
	got := []rune(code)
	if col >= len(got) {
		t.Fatalf("caret past the line:\n%s", r)
	}
	want := []rune(src)[errs[0].Pos.Col-1]
	if got[col] != want {
		t.Errorf("caret under %q, the error is at %q:\n%s", got[col], want, r)
	}
}

// TestTooManyErrors: a parse stops collecting errors at MaxErrors and
// says so.
func TestTooManyErrors(t *testing.T) {
	for name, src := range map[string]string{
		"characters": strings.Repeat("SELECT ? FROM s;\n", 3*MaxErrors),
		"statements": strings.Repeat("SELEKT 1;\n", 3*MaxErrors),
	} {
		_, errs := Parse(src)
		if len(errs) < MaxErrors || len(errs) > MaxErrors+2 {
			t.Errorf("%s: %d errors", name, len(errs))
			continue
		}
		last := errs[len(errs)-1]
		if !strings.Contains(last.Msg, "too many errors") {
			t.Errorf("%s: last error %v", name, last)
		}
	}
}
