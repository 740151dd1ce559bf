package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Error is one diagnostic: what is wrong, where, and what would be right.
type Error struct {
	Pos Pos
	// End is the position just past the construct the error is about (an
	// exclusive end, counted like Pos). It is zero until SetEnds has read
	// the text; Render and Span find it themselves.
	End  Pos
	Msg  string // what is wrong
	Hint string // what would be right; "" when nothing useful can be said
	// Fixes are edits that mend the error, such as the replacement a "did
	// you mean" hint names. A fix without positions replaces the error's
	// range; SetEnds fills them in.
	Fixes []Fix
	// Warning marks a diagnostic that does not stop a script.
	Warning bool

	node Node // the construct, to find End from the text
}

// Fix is one machine-applicable edit: replace the text from From up to
// To (exclusive) with Insert.
type Fix struct {
	Title    string
	From, To Pos
	Insert   string

	last bool // replaces the last word of the error's range (see ReplaceLast)
}

// Severity names the kind of diagnostic: "error" or "warning".
func (e *Error) Severity() string {
	if e.Warning {
		return "warning"
	}
	return "error"
}

// Replace adds a fix that replaces the error's range with text; title says
// what it does ("Replace with amount").
func (e *Error) Replace(text, title string) *Error {
	e.Fixes = append(e.Fixes, Fix{Title: title, Insert: text})
	return e
}

// ReplaceLast adds a fix that replaces the last word of the error's range
// with text: the column of o.amout, keeping the qualifier as written.
func (e *Error) ReplaceLast(text, title string) *Error {
	e.Fixes = append(e.Fixes, Fix{Title: title, Insert: text, last: true})
	return e
}

// Span returns where the error starts and ends in src (End as in the
// field, found from the text when it is not set).
func (e *Error) Span(src string) (Pos, Pos) {
	if e.End == (Pos{}) {
		return e.Pos, newSpans(src).end(e)
	}
	return e.Pos, e.End
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
//
// The carets underline the whole construct, up to the end of its first
// line.
func (e *Error) Render(src string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %d:%d: %s\n", e.Severity(), e.Pos.Line, e.Pos.Col, e.Msg)
	line := sourceLine(src, e.Pos.Line)
	col := e.Pos.Col
	if col < 1 {
		col = 1
	}
	endCol := 0 // the end column on this line, 0 when past it
	if _, end := e.Span(src); end.Line == e.Pos.Line && end.Col > col {
		endCol = end.Col
	}
	line, col, endCol = clipLine(line, col, endCol)
	num := fmt.Sprint(e.Pos.Line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(&b, "  %s | %s\n", num, expandTabs(line))
	// Tabs before the caret render as in the line above.
	prefix := line
	if n := runeIndex(line, col-1); n >= 0 {
		prefix = line[:n]
	}
	width := 1
	if _, end := e.Span(src); endCol > col {
		width = underlineWidth(line, col, endCol)
	} else if end.Line > e.Pos.Line || end.Line == e.Pos.Line && end.Col > col {
		width = max(1, underlineWidth(line, col, utf8.RuneCountInString(line)+1))
	}
	fmt.Fprintf(&b, "  %s | %s%s\n", pad, strings.Repeat(" ", utf8.RuneCountInString(expandTabs(prefix))), strings.Repeat("^", width))
	if e.Hint != "" {
		fmt.Fprintf(&b, "hint: %s\n", e.Hint)
	}
	return b.String()
}

// renderWidth bounds the source line a rendered error shows: a longer line
// (a script on one line, random bytes) is shown as the part around the
// error, cut with "…", so that an error costs the same on any line.
const renderWidth = 160

// clipLine cuts line to about renderWidth characters around col, and
// returns col and endCol (0: none) as columns of the cut line; the
// underline ends at the cut.
func clipLine(line string, col, endCol int) (string, int, int) {
	n := utf8.RuneCountInString(line)
	if n <= renderWidth {
		return line, col, endCol
	}
	from := max(0, min(col-1-renderWidth/3, n-renderWidth)) // first rune shown
	to := from + renderWidth
	out := line[runeIndex(line, from):runeIndex(line, to)]
	shift := from
	if from > 0 {
		out = "…" + out
		shift--
	}
	if to < n {
		out += "…"
	}
	col -= shift
	if endCol > 0 {
		endCol = min(endCol-shift, utf8.RuneCountInString(out)+1)
	}
	return out, col, endCol
}

func expandTabs(s string) string { return strings.ReplaceAll(s, "\t", "    ") }

// underlineWidth is the rendered width of the characters from column from
// up to column to (exclusive) of line, tabs expanded as in Render.
func underlineWidth(line string, from, to int) int {
	lo, hi := runeIndex(line, from-1), runeIndex(line, to-1)
	if lo > hi {
		return 1
	}
	return max(1, utf8.RuneCountInString(expandTabs(line[lo:hi])))
}

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

// MaxErrors bounds the errors a parse or a check collects: after that many
// it stops and ends the list with a "too many errors" error at the place
// it stopped, so a large bad input (a megabyte of random bytes) costs
// little. The API shows the first 100 and counts the rest.
const MaxErrors = 1000

// TooMany adds the error that says checking stopped at pos.
func (l *ErrorList) TooMany(pos Pos) {
	l.Add(pos, "fix the errors above and check again", "too many errors (%d): checking stopped here", len(*l))
}

// Stopped adds the error that ends checking at pos because ctx ended (a
// request's time limit, see context.WithTimeoutCause): its message is
// ctx's cause.
func (l *ErrorList) Stopped(ctx context.Context, pos Pos) {
	l.Add(pos, "split the script into smaller requests, or simplify this statement",
		"checking stopped here: %v", context.Cause(ctx))
}

// ErrorList is every error found in a script, in source order. Like
// go/scanner's, its Err is nil when it is empty.
type ErrorList []*Error

// Add appends an error at pos; its range is the token there.
func (l *ErrorList) Add(pos Pos, hint string, format string, args ...any) *Error {
	e := &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint}
	*l = append(*l, e)
	return e
}

// AddNode appends an error about n; its range is all of n's text (see
// SetEnds for what that is for each kind of node).
func (l *ErrorList) AddNode(n Node, hint string, format string, args ...any) *Error {
	e := &Error{Pos: n.Pos(), Msg: fmt.Sprintf(format, args...), Hint: hint, node: n}
	*l = append(*l, e)
	return e
}

// AddSpan appends an error about the text from from up to to.
func (l *ErrorList) AddSpan(from, to Pos, hint string, format string, args ...any) *Error {
	e := &Error{Pos: from, End: to, Msg: fmt.Sprintf(format, args...), Hint: hint}
	*l = append(*l, e)
	return e
}

// SetEnds finds, in src (the text the positions point into), the end of
// every error that has none, and the positions of fixes that replace the
// error's range.
func (l ErrorList) SetEnds(src string) {
	var sp *spans
	get := func() *spans {
		if sp == nil {
			sp = newSpans(src)
		}
		return sp
	}
	for _, e := range l {
		if e.End == (Pos{}) {
			e.End = get().end(e)
		}
		for i := range e.Fixes {
			f := &e.Fixes[i]
			if f.From != (Pos{}) || f.To != (Pos{}) {
				continue
			}
			f.From, f.To = e.Pos, e.End
			if f.last {
				if k := get().at(e.End.Offset) - 1; k >= 0 && sp.toks[k].off >= e.Pos.Offset {
					f.From = advance(src, e.Pos, sp.toks[k].off)
				}
			}
		}
	}
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
	l.SetEnds(src)
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

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbouring characters (the
// most common typo, "nmae") each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
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
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
