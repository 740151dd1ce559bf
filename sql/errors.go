package sql

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Error is one diagnostic: what is wrong, where, and what would be right.
type Error struct {
	Pos  Pos
	Msg  string // what is wrong
	Hint string // what would be right; "" when nothing useful can be said
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Render formats e with the source line it points into and a caret under
// the place:
//
//	error at 3:14: unknown column "amout" in source "orders"
//	  3 | SELECT amout FROM orders
//	    |        ^
//	hint: did you mean "amount"? columns of "orders": order_id, amount
func (e *Error) Render(src string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "error at %d:%d: %s\n", e.Pos.Line, e.Pos.Col, e.Msg)
	line := sourceLine(src, e.Pos.Line)
	num := fmt.Sprint(e.Pos.Line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(&b, "  %s | %s\n", num, expandTabs(line))
	col := e.Pos.Col
	if col < 1 {
		col = 1
	}
	// Tabs before the caret render as in the line above.
	prefix := line
	if n := runeIndex(line, col-1); n >= 0 {
		prefix = line[:n]
	}
	fmt.Fprintf(&b, "  %s | %s^\n", pad, strings.Repeat(" ", utf8.RuneCountInString(expandTabs(prefix))))
	if e.Hint != "" {
		fmt.Fprintf(&b, "hint: %s\n", e.Hint)
	}
	return b.String()
}

func expandTabs(s string) string { return strings.ReplaceAll(s, "\t", "    ") }

// runeIndex returns the byte index of the n-th rune of s (0-based), or len(s).
func runeIndex(s string, n int) int {
	i := 0
	for j := range s {
		if i == n {
			return j
		}
		i++
	}
	return len(s)
}

func sourceLine(src string, line int) string {
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src, '\n')
		if i < 0 {
			return ""
		}
		src = src[i+1:]
	}
	if i := strings.IndexByte(src, '\n'); i >= 0 {
		src = src[:i]
	}
	return strings.TrimSuffix(src, "\r")
}

// PosAt converts a byte offset in src to a Pos.
func PosAt(src string, offset int) Pos {
	if offset > len(src) {
		offset = len(src)
	}
	p := Pos{Offset: offset, Line: 1, Col: 1}
	lineStart := 0
	for i := 0; i < offset; i++ {
		if src[i] == '\n' {
			p.Line++
			lineStart = i + 1
		}
	}
	p.Col = utf8.RuneCountInString(src[lineStart:offset]) + 1
	return p
}

// ErrorList is every error found in a script, in source order. Like
// go/scanner's, its Err is nil when it is empty.
type ErrorList []*Error

// Add appends an error at pos.
func (l *ErrorList) Add(pos Pos, hint string, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// Sort orders the list by position, keeping the order of errors at one place.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.Offset < l[j].Pos.Offset })
}

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Render formats every error with its source line and caret.
func (l ErrorList) Render(src string) string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Render(src))
	}
	return b.String()
}

// Suggest returns the candidates closest to name by edit distance, for
// "did you mean" hints; none when nothing is close.
func Suggest(name string, candidates []string) []string {
	best := -1
	var out []string
	ln := strings.ToLower(name)
	for _, c := range candidates {
		d := editDistance(ln, strings.ToLower(c))
		limit := max(1, min(3, len(name)/3))
		if d > limit {
			continue
		}
		switch {
		case best < 0 || d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	return out
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
