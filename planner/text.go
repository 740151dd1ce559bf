package planner

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/sql"
)

// text renders an expression in canonical SQL: keywords and function
// names upper case, names as written. It names output columns that have no
// alias and shows expressions in EXPLAIN, so it must be stable. Texts are
// remembered per node: binding asks for the text of every node of a tree,
// which would otherwise render deep expressions again and again.
func (q *query) text(e sql.Expr) string {
	if t, ok := q.texts[e]; ok {
		return t
	}
	var b strings.Builder
	writeExpr(&b, e, q.text)
	t := b.String()
	if q.texts == nil {
		q.texts = map[sql.Expr]string{}
	}
	q.texts[e] = t
	return t
}

// writeExpr renders e with sub rendering its subexpressions.
func writeExpr(b *strings.Builder, e sql.Expr, sub func(sql.Expr) string) {
	child := func(x sql.Expr) {
		if x == nil {
			b.WriteString("?")
			return
		}
		b.WriteString(sub(x))
	}
	switch e := e.(type) {
	case nil:
		b.WriteString("?")
	case *sql.ColumnRef:
		if e.Qualifier != "" {
			b.WriteString(e.Qualifier)
			b.WriteByte('.')
		}
		b.WriteString(e.Name)
	case *sql.Literal:
		switch e.Kind {
		case sql.LitString:
			b.WriteString(quoteString(e.Raw))
		case sql.LitNull:
			b.WriteString("NULL")
		case sql.LitBool:
			b.WriteString(strings.ToUpper(e.Raw))
		default:
			b.WriteString(e.Raw)
		}
	case *sql.IntervalLit:
		b.WriteString(intervalText(e.Interval))
	case *sql.Unary:
		if e.Op == "NOT" {
			b.WriteString("NOT ")
		} else {
			b.WriteString(e.Op)
		}
		child(e.X)
	case *sql.Binary:
		child(e.L)
		b.WriteByte(' ')
		b.WriteString(strings.ToUpper(e.Op))
		b.WriteByte(' ')
		child(e.R)
	case *sql.IsNull:
		child(e.X)
		if e.Not {
			b.WriteString(" IS NOT NULL")
		} else {
			b.WriteString(" IS NULL")
		}
	case *sql.In:
		child(e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		writeList(b, e.List, sub)
		b.WriteByte(')')
	case *sql.Between:
		child(e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		child(e.Lo)
		b.WriteString(" AND ")
		child(e.Hi)
	case *sql.Like:
		child(e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" LIKE ")
		child(e.Pattern)
	case *sql.Case:
		b.WriteString("CASE")
		if e.Operand != nil {
			b.WriteByte(' ')
			child(e.Operand)
		}
		for _, w := range e.Whens {
			b.WriteString(" WHEN ")
			child(w.Cond)
			b.WriteString(" THEN ")
			child(w.Result)
		}
		if e.Else != nil {
			b.WriteString(" ELSE ")
			child(e.Else)
		}
		b.WriteString(" END")
	case *sql.Cast:
		b.WriteString("CAST(")
		child(e.X)
		b.WriteString(" AS ")
		b.WriteString(typeText(e.Type))
		b.WriteByte(')')
	case *sql.Call:
		b.WriteString(funcName(e.Name))
		b.WriteByte('(')
		if e.Distinct {
			b.WriteString("DISTINCT ")
		}
		if e.Star {
			b.WriteByte('*')
		}
		writeList(b, e.Args, sub)
		b.WriteByte(')')
	case *sql.Paren:
		b.WriteByte('(')
		child(e.X)
		b.WriteByte(')')
	default:
		b.WriteString("?")
	}
}

func writeList(b *strings.Builder, l []sql.Expr, sub func(sql.Expr) string) {
	for i, x := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		if x == nil {
			b.WriteString("?")
			continue
		}
		b.WriteString(sub(x))
	}
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

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
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
