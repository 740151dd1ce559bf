package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// dateTruncUnits are the units DATE_TRUNC accepts, as dag.OpDateTrunc
// documents them.
var dateTruncUnits = []string{"second", "minute", "hour", "day", "week", "month", "quarter", "year"}

func (q *query) call(e *sql.Call, c *bctx) *dag.Expr {
	name := strings.ToUpper(e.Name)
	text := q.text(e)
	if isAggregate(name) {
		q.aggregateMisplaced(e, c)
		return bad(text)
	}
	if name == "TUMBLE" || name == "HOP" {
		q.errs.AddNode(e, "write GROUP BY "+name+"(time_col, …), and select window_start or window_end", "%s is only allowed in GROUP BY", name)
		return bad(text)
	}
	if e.Star || e.Distinct {
		q.errs.AddNode(e, "", "%s does not take * or DISTINCT", funcName(name))
		return bad(text)
	}
	arity := func(lo, hi int) bool {
		n := len(e.Args)
		if n >= lo && (hi < 0 || n <= hi) {
			return true
		}
		want := fmt.Sprint(lo)
		switch {
		case hi < 0:
			want = fmt.Sprintf("at least %d", lo)
		case hi != lo:
			want = fmt.Sprintf("%d or %d", lo, hi)
		}
		q.errs.AddNode(e, "", "%s takes %s argument(s), got %d", funcName(name), want, n)
		return false
	}
	// Every function but toStartOfInterval binds its arguments as
	// expressions; its INTERVAL argument is not a value.
	var args []*dag.Expr
	if name != "TOSTARTOFINTERVAL" {
		args = make([]*dag.Expr, len(e.Args))
		bd := false
		for i, a := range e.Args {
			args[i] = q.bind(a, c)
			bd = bd || isBad(args[i])
		}
		if bd {
			return bad(text)
		}
	}
	needKind := func(i int, what string, ok func(dag.Kind) bool, hint string) bool {
		if ok(args[i].Type.Kind) || args[i].Type.Kind == dag.Null {
			return true
		}
		q.errs.AddNode(e.Args[i], hint, "%s needs %s, got %s", funcName(name), what, args[i].Type)
		return false
	}
	isString := func(k dag.Kind) bool { return k == dag.String }
	isNumber := func(k dag.Kind) bool { return k.IsNumeric() }
	isInt := func(k dag.Kind) bool { return k.IsInteger() }
	isTime := func(k dag.Kind) bool { return k.IsTime() }
	anyNull := func() bool {
		for _, a := range args {
			if a.Type.Nullable {
				return true
			}
		}
		return false
	}
	mk := func(op dag.Op, t dag.Type, as ...*dag.Expr) *dag.Expr {
		return &dag.Expr{Op: op, Type: t, Args: as, Text: text}
	}
	strHint := func(i int) string { return fmt.Sprintf("CAST(%s AS String)", args[i].Text) }
	numHint := func(i int) string { return fmt.Sprintf("CAST(%s AS Float64)", args[i].Text) }

	switch name {
	case "LOWER", "UPPER", "TRIM":
		if !arity(1, 1) || !needKind(0, "a String", isString, strHint(0)) {
			return bad(text)
		}
		op := map[string]dag.Op{"LOWER": dag.OpLower, "UPPER": dag.OpUpper, "TRIM": dag.OpTrim}[name]
		return mk(op, dag.T(dag.String).WithNull(anyNull()), castTo(args[0], dag.T(dag.String)))
	case "LENGTH", "CHAR_LENGTH":
		if !arity(1, 1) || !needKind(0, "a String", isString, strHint(0)) {
			return bad(text)
		}
		return mk(dag.OpLength, dag.T(dag.UInt64).WithNull(anyNull()), castTo(args[0], dag.T(dag.String)))
	case "CONCAT":
		if !arity(1, -1) {
			return bad(text)
		}
		// Like ClickHouse's concat, other types are formatted as strings.
		cs := make([]*dag.Expr, len(args))
		for i, a := range args {
			cs[i] = castTo(a, dag.T(dag.String))
		}
		return mk(dag.OpConcat, dag.T(dag.String).WithNull(anyNull()), cs...)
	case "SUBSTRING", "SUBSTR":
		if !arity(2, 3) || !needKind(0, "a String", isString, strHint(0)) {
			return bad(text)
		}
		cs := []*dag.Expr{castTo(args[0], dag.T(dag.String))}
		for i := 1; i < len(args); i++ {
			if !needKind(i, "integer positions", isInt, "") {
				return bad(text)
			}
			cs = append(cs, castTo(args[i], dag.T(dag.Int64)))
		}
		return mk(dag.OpSubstring, dag.T(dag.String).WithNull(anyNull()), cs...)
	case "ABS", "FLOOR", "CEIL", "CEILING":
		if !arity(1, 1) || !needKind(0, "a number", isNumber, numHint(0)) {
			return bad(text)
		}
		op := map[string]dag.Op{"ABS": dag.OpAbs, "FLOOR": dag.OpFloor, "CEIL": dag.OpCeil, "CEILING": dag.OpCeil}[name]
		t := args[0].Type
		if t.Kind == dag.Null {
			t = dag.T(dag.Float64).WithNull(true)
		}
		return mk(op, t, castTo(args[0], t))
	case "ROUND":
		if !arity(1, 2) || !needKind(0, "a number", isNumber, numHint(0)) {
			return bad(text)
		}
		t := args[0].Type
		if t.Kind == dag.Null {
			t = dag.T(dag.Float64).WithNull(true)
		}
		cs := []*dag.Expr{castTo(args[0], t)}
		if len(args) == 2 {
			if !isConst(args[1]) || !args[1].Type.Kind.IsInteger() {
				q.errs.AddNode(e.Args[1], "write ROUND(x, 2)", "ROUND takes a constant integer number of digits")
				return bad(text)
			}
			cs = append(cs, castTo(args[1], dag.T(dag.Int64)))
		}
		return mk(dag.OpRound, t, cs...)
	case "DATE_TRUNC":
		if !arity(2, 2) {
			return bad(text)
		}
		u := args[0]
		if !isConst(u) || u.Type.Kind != dag.String || !slices.Contains(dateTruncUnits, strings.ToLower(u.Value.S)) {
			q.errs.AddNode(e.Args[0], "units: '"+strings.Join(dateTruncUnits, "', '")+"'", "DATE_TRUNC needs a unit as a string constant, e.g. DATE_TRUNC('hour', ts)")
			return bad(text)
		}
		if !needKind(1, "a time", isTime, "CAST the value to DateTime64(3)") {
			return bad(text)
		}
		unit := &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.String), Value: dag.Value{S: strings.ToLower(u.Value.S)}, Text: u.Text}
		return mk(dag.OpDateTrunc, args[1].Type, unit, args[1])
	case "TOSTARTOFINTERVAL":
		if !arity(2, 2) {
			return bad(text)
		}
		t := q.bind(e.Args[0], c)
		if isBad(t) {
			return bad(text)
		}
		if !t.Type.Kind.IsTime() {
			q.errs.AddNode(e.Args[0], "CAST the value to DateTime64(3)", "toStartOfInterval needs a time, got %s", t.Type)
			return bad(text)
		}
		iv, ok := e.Args[1].(*sql.IntervalLit)
		if !ok {
			q.errs.AddNode(e.Args[1], "write toStartOfInterval(ts, INTERVAL 5 MINUTE)", "toStartOfInterval needs an INTERVAL")
			return bad(text)
		}
		d, ok := q.interval(&iv.Interval, "the interval of toStartOfInterval", false)
		if !ok {
			return bad(text)
		}
		k := &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.Int64), Value: dag.Value{I: int64(d)}, Text: q.text(iv)}
		return mk(dag.OpToStartOfInterval, t.Type, t, k)
	case "JSON_VALUE":
		if !arity(2, 2) || !needKind(0, "a String holding JSON", isString, strHint(0)) {
			return bad(text)
		}
		p := args[1]
		if !isConst(p) || p.Type.Kind != dag.String || !strings.HasPrefix(p.Value.S, "$") {
			q.errs.AddNode(e.Args[1], "write JSON_VALUE(col, '$.a.b')", "JSON_VALUE needs a JSON path as a string constant")
			return bad(text)
		}
		return mk(dag.OpJSONValue, dag.T(dag.String).WithNull(true), castTo(args[0], dag.T(dag.String)), p)
	case "COALESCE":
		if !arity(1, -1) {
			return bad(text)
		}
		t, ok := q.commonType(args, func(i int) sql.Node { return e.Args[i] })
		if !ok {
			return bad(text)
		}
		t.Nullable = true
		for _, a := range args {
			if !a.Type.Nullable {
				t.Nullable = false
			}
		}
		cs := make([]*dag.Expr, len(args))
		for i, a := range args {
			cs[i] = castTo(a, t)
		}
		return mk(dag.OpCoalesce, t, cs...)
	}
	hint := "functions: " + strings.Join(knownFuncs, ", ")
	s := sql.Suggest(e.Name, knownFuncs)
	if len(s) > 0 {
		hint = fmt.Sprintf("did you mean %s? %s", s[0], hint)
	}
	// The range is the function's name: that is what is unknown.
	err := q.errs.Add(e.P, hint, "unknown function %s", e.Name)
	if len(s) > 0 {
		replaceWith(err, s[0])
	}
	return bad(text)
}

// aggregateMisplaced reports an aggregate where none may be.
func (q *query) aggregateMisplaced(e *sql.Call, c *bctx) {
	name := strings.ToUpper(e.Name)
	switch c.clause {
	case "SELECT", "HAVING":
		if q.windowless {
			return
		}
		q.errs.AddNode(e, fmt.Sprintf("streaming aggregates are computed per window: add GROUP BY TUMBLE(%s, INTERVAL 1 MINUTE)", q.timeName()), "aggregate %s needs a window in GROUP BY", name)
	case "aggregate":
		q.errs.AddNode(e, "", "aggregate %s inside another aggregate", name)
	case "WHERE":
		q.errs.AddNode(e, "filter aggregated groups with HAVING", "aggregate %s is not allowed in WHERE", name)
	default:
		q.errs.AddNode(e, "", "aggregate %s is not allowed in %s", name, c.clause)
	}
}

// aggregate binds an aggregate over the window's input and returns a
// reference to its output column.
func (q *query) aggregate(e *sql.Call, c *bctx) *dag.Expr {
	w := c.post
	name := strings.ToUpper(e.Name)
	text := q.text(e)
	pre := *c
	pre.post = nil
	pre.clause = "aggregate"
	agg := dag.Agg{Text: text}
	switch {
	case e.Star:
		if name != "COUNT" || len(e.Args) > 0 {
			q.errs.AddNode(e, "", "only COUNT takes *")
			return bad(text)
		}
		agg.Func, agg.Type = dag.AggCount, dag.T(dag.UInt64)
	case len(e.Args) != 1:
		q.errs.AddNode(e, "", "%s takes one argument, got %d", name, len(e.Args))
		return bad(text)
	default:
		arg := q.bind(e.Args[0], &pre)
		if isBad(arg) {
			return bad(text)
		}
		if e.Distinct && name != "COUNT" {
			q.errs.AddNode(e, "", "DISTINCT is only supported in COUNT(DISTINCT x)")
			return bad(text)
		}
		agg.Arg = arg
		k := arg.Type.Kind
		switch name {
		case "COUNT":
			agg.Func, agg.Type = dag.AggCount, dag.T(dag.UInt64)
			if e.Distinct {
				agg.Func = dag.AggCountDistinct
			}
		case "SUM", "AVG":
			if !k.IsNumeric() {
				q.errs.AddNode(e.Args[0], fmt.Sprintf("%s adds numbers; COUNT counts any values, or CAST(%s AS Float64)", name, arg.Text), "%s needs a numeric argument, got %s", name, arg.Type)
				return bad(text)
			}
			agg.Func = dag.AggFunc(name)
			switch {
			case name == "AVG":
				agg.Type = dag.T(dag.Float64)
			case k.IsSigned():
				agg.Type = dag.T(dag.Int64)
			case k.IsInteger():
				agg.Type = dag.T(dag.UInt64)
			case k == dag.Decimal:
				agg.Type = dag.Type{Kind: dag.Decimal, Precision: 18, Scale: arg.Type.Scale}
			default:
				agg.Type = dag.T(dag.Float64)
			}
			agg.Type.Nullable = arg.Type.Nullable
		case "MIN", "MAX":
			if k == dag.Null {
				q.errs.AddNode(e.Args[0], "", "%s of NULL", name)
				return bad(text)
			}
			agg.Func, agg.Type = dag.AggFunc(name), arg.Type
		}
	}
	for _, a := range w.aggs {
		if a.agg.Func == agg.Func && (a.agg.Arg == nil) == (agg.Arg == nil) && (agg.Arg == nil || sameExpr(a.agg.Arg, agg.Arg)) {
			return &dag.Expr{Op: dag.OpColumn, Col: a.id, Type: a.agg.Type, Text: text}
		}
	}
	id := q.addCol(colInfo{name: text, typ: agg.Type, side: -1})
	w.aggs = append(w.aggs, windowAgg{id: id, agg: agg})
	return &dag.Expr{Op: dag.OpColumn, Col: id, Type: agg.Type, Text: text}
}
