package planner

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-sql/sluice/sql"
)

// text renders an expression in canonical SQL: keywords and function
// names upper case, names as written. It names output columns that have no
// alias and shows expressions in EXPLAIN, so it must be stable. Texts are
// remembered per node: binding asks for the text of every node of a tree,
// which would otherwise render deep expressions again and again. A text
// longer than maxExprText bytes is cut there and ends in "…": every node
// keeps its text, and uncut texts would make binding quadratic in the
// size of an expression (1 + 1 + … with 100 000 terms).
func (q *query) text(e sql.Expr) string {
	if t, ok := q.texts[e]; ok {
		return t
	}
	// Render the subexpressions first, deepest first, with a stack of our
	// own: a deep tree (1 + 1 + … 100 000 times) would otherwise recurse
	// as deep as the tree, growing and copying the goroutine stack.
	type frame struct {
		e    sql.Expr
		subs bool // its subexpressions are pushed
	}
	stack := []frame{{e: e}}
	for len(stack) > 1 || !stack[0].subs {
		f := &stack[len(stack)-1]
		if _, ok := q.texts[f.e]; ok {
			stack = stack[:len(stack)-1]
			continue
		}
		if f.subs {
			q.render(f.e)
			stack = stack[:len(stack)-1]
			continue
		}
		f.subs = true
		for _, x := range sql.Children(f.e) {
			if _, ok := q.texts[x]; !ok && x != nil {
				stack = append(stack, frame{e: x})
			}
		}
	}
	return q.render(e)
}

// render renders e, whose subexpressions have their texts, and remembers
// its text.
func (q *query) render(e sql.Expr) string {
	if t, ok := q.texts[e]; ok {
		return t
	}
	b := q.scratch
	if b == nil {
		b = &textBuilder{buf: make([]byte, 0, maxExprText+2*utf8.UTFMax)}
	}
	q.scratch = nil // a nested render gets its own
	b.buf = b.buf[:0]
	writeExpr(b, e, q.text)
	t := b.text()
	q.scratch = b
	if q.texts == nil {
		q.texts = map[sql.Expr]string{}
	}
	q.texts[e] = t
	return t
}

// maxExprText bounds the text of one expression (see text).
const maxExprText = 256

// clipText cuts t to maxExprText bytes, at a rune boundary, marking the cut
// with "…". The cut text is copied so that it does not keep the long one.
func clipText(t string) string {
	if len(t) <= maxExprText {
		return t
	}
	cut := maxExprText
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	return strings.Clone(t[:cut]) + "…"
}

// textBuilder builds a text and stops taking bytes a little past
// maxExprText, where text cuts it.
type textBuilder struct{ buf []byte }

func (b *textBuilder) WriteString(s string) (int, error) {
	n := len(s)
	if room := maxExprText + utf8.UTFMax - len(b.buf); room < len(s) {
		s = s[:max(room, 0)]
	}
	b.buf = append(b.buf, s...)
	return n, nil
}

func (b *textBuilder) WriteByte(c byte) error {
	if len(b.buf) < maxExprText+utf8.UTFMax {
		b.buf = append(b.buf, c)
	}
	return nil
}

// text returns what was written, cut like clipText.
func (b *textBuilder) text() string {
	if len(b.buf) <= maxExprText {
		return string(b.buf)
	}
	cut := maxExprText
	for cut > 0 && !utf8.RuneStart(b.buf[cut]) {
		cut--
	}
	return string(append(b.buf[:cut], "…"...))
}

// writeExpr renders e with sub rendering its subexpressions: names as
// written, functions and types by their canonical names.
func writeExpr(b *textBuilder, e sql.Expr, sub func(sql.Expr) string) {
	sql.WriteExpr(b, e, &sql.ExprStyle{
		Ident:   func(n string) string { return n },
		Func:    funcName,
		Type:    typeText,
		Sub:     sub,
		Missing: "?",
	})
}

// funcName spells a function as SQL.md does; the parser upper-cases names.
func funcName(n string) string {
	if strings.EqualFold(n, "TOSTARTOFINTERVAL") {
		return "toStartOfInterval"
	}
	return strings.ToUpper(n)
}

func typeText(t sql.TypeName) string {
	name := t.Name
	if k, ok := typeNames[strings.ToLower(name)]; ok {
		name = k.String()
	}
	if len(t.Args) == 0 {
		return name
	}
	parts := make([]string, len(t.Args))
	for i, a := range t.Args {
		parts[i] = strconv.Itoa(a)
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

func intervalText(iv sql.Interval) string {
	return "INTERVAL " + strconv.FormatInt(iv.Value, 10) + " " + iv.Unit
}

// durText renders a duration compactly for EXPLAIN: 10m, 1h30m, 2d.
func durText(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			d -= n * u.d
		}
	}
	if d > 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
