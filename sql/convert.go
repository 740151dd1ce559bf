package sql

import (
	"slices"
	"strings"

	tast "github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// converter turns TiDB's AST of one SELECT into Sluice's. TiDB gives every
// expression node its start offset; everything else (table names, aliases,
// operators) is found in the token stream.
type converter struct {
	*selectScan
	depth   int  // expressions being converted, outermost first
	tooDeep bool // the depth error is reported
}

// MaxExprDepth bounds how deeply expressions nest: 1 + 1 + … with 100 000
// terms is 100 000 levels. Parsing, planning and evaluating walk
// expressions recursively, and a far deeper one would exhaust the stack.
const MaxExprDepth = 100_000

func (c *converter) off(n tast.ExprNode) int { return c.base + n.OriginTextPosition() }

// tokIndex returns the index of the token starting at off, or of the first
// token after it.
func (c *converter) tokIndex(off int) int {
	k, _ := slices.BinarySearchFunc(c.toks, off, func(t token, off int) int { return t.off - off })
	return k
}

func (c *converter) unsupported(off int, hint, format string, args ...any) Expr {
	c.errorAt(off, hint, format, args...)
	return &Literal{P: c.pos(off), Kind: LitNull, Raw: "NULL"}
}

func (c *converter) selectBody(n tast.StmtNode, sel *Select, within *Interval) {
	st, ok := n.(*tast.SelectStmt)
	if !ok {
		at := c.base
		if c.union >= 0 {
			at = c.toks[c.union].off
		}
		c.errorAt(at, "", "UNION and other set operations are not supported")
		return
	}
	switch {
	case st.Distinct:
		c.errorAt(c.tok(c.lo+1).off, "to drop repeated rows use DEDUPLICATE BY key WITHIN INTERVAL …", "SELECT DISTINCT is not supported")
	case st.With != nil:
		c.errorAt(c.base, "", "WITH (common table expressions) is not supported")
	case st.Kind != tast.SelectStmtKindSelect:
		c.errorAt(c.base, "", "only SELECT … FROM … is supported")
	}
	if st.OrderBy != nil {
		at := c.base
		if c.order >= 0 {
			at = c.toks[c.order].off
		}
		c.errorAt(at, "", "ORDER BY is not supported: a stream is not sorted")
	}
	if len(st.WindowSpecs) > 0 {
		c.errorAt(c.base, "use GROUP BY TUMBLE(…) or HOP(…)", "WINDOW clauses are not supported")
	}
	if st.SelectIntoOpt != nil || st.LockInfo != nil {
		c.errorAt(c.base, "", "SELECT … INTO and locking clauses are not supported")
	}
	sel.Items = c.items(st.Fields)
	if st.From == nil {
		at := c.tok(c.end)
		if c.where >= 0 {
			at = c.toks[c.where]
		}
		c.errorAt(at.off, "a SELECT reads a source: SELECT … FROM source", "expected FROM after the select list, found %s", c.describe(at))
	} else {
		c.fromClause(st.From.TableRefs, sel, within)
	}
	if st.Where != nil {
		sel.Where = c.expr(st.Where)
	}
	if st.GroupBy != nil {
		if st.GroupBy.Rollup {
			c.errorAt(c.toks[c.group].off, "", "WITH ROLLUP is not supported")
		}
		for _, it := range st.GroupBy.Items {
			if _, ok := it.Expr.(*tast.PositionExpr); ok {
				// TiDB gives positions no offset of their own.
				c.errorAt(c.toks[c.group].off, "name the expression", "GROUP BY a column number is not supported")
				continue
			}
			e := c.expr(it.Expr)
			if lit, ok := e.(*Literal); ok {
				c.errorAt(lit.P.Offset, "", "GROUP BY a constant is not supported")
			}
			sel.GroupBy = append(sel.GroupBy, e)
		}
	}
	if st.Having != nil {
		if c.having >= 0 {
			sel.HavingP = c.pos(c.toks[c.having].off)
		}
		sel.Having = c.expr(st.Having.Expr)
	}
}

// items converts the select list. An alias is the last token of its item.
func (c *converter) items(fl *tast.FieldList) []SelectItem {
	out := make([]SelectItem, 0, len(fl.Fields))
	for _, f := range fl.Fields {
		start := c.base + f.Offset
		var it SelectItem
		if f.WildCard != nil {
			it.Star = true
			it.StarQualifier = f.WildCard.Table.O
			it.StarPos = c.pos(start)
			if f.WildCard.Schema.O != "" {
				c.errorAt(start, "", "a name has at most one qualifier")
			}
		} else {
			it.Expr = c.expr(f.Expr)
		}
		if f.AsName.O != "" {
			last := c.itemEnd(c.tokIndex(start)) - 1
			it.Alias = &Ident{P: c.pos(c.toks[last].off), Name: f.AsName.O}
		}
		out = append(out, it)
	}
	return out
}

// itemEnd returns the index after the select item starting at toks[i].
func (c *converter) itemEnd(i int) int {
	depth := 0
	for ; i < c.end; i++ {
		t := c.toks[i]
		switch {
		case c.isPunct(t, "("):
			depth++
		case c.isPunct(t, ")"):
			depth--
		case depth == 0 && (c.isPunct(t, ",") || c.isKw(t, kwFrom)):
			return i
		}
	}
	return i
}

// from converts FROM a [JOIN b ON … ]; the JOIN's WITHIN was cut out by the
// scanner and arrives as within.
func (c *converter) fromClause(refs *tast.Join, sel *Select, within *Interval) {
	fromTok := c.tok(c.from)
	if refs.Right == nil {
		sel.From = c.tableRef(refs.Left, c.from+1)
		return
	}
	if c.join < 0 {
		c.errorAt(fromTok.off, "write FROM a JOIN b ON a.k = b.k WITHIN INTERVAL 1 HOUR", "comma joins are not supported")
		return
	}
	if _, nested := refs.Left.(*tast.Join); nested {
		at := c.join
		if c.join2 >= 0 {
			at = c.join2
		}
		c.errorAt(c.toks[at].off, "", "a SELECT joins two sources at most")
		return
	}
	sel.From = c.tableRef(refs.Left, c.from+1)
	jt := c.join
	start := jt
	if c.isKw(c.tok(start-1), kwOuter) {
		start--
	}
	if k := c.tok(start - 1); c.isKw(k, kwInner) || c.isKw(k, kwLeft) || c.isKw(k, kwRight) || c.isKw(k, kwCross) || c.isKw(k, kwNatural) {
		start--
	}
	j := &Join{P: c.pos(c.toks[start].off), Kind: JoinInner, Within: within}
	switch {
	case refs.NaturalJoin || refs.Using != nil:
		c.errorAt(j.P.Offset, "write JOIN b ON a.k = b.k", "NATURAL JOIN and USING are not supported")
	case refs.StraightJoin:
		c.errorAt(j.P.Offset, "", "STRAIGHT_JOIN is not supported")
	case refs.Tp == tast.RightJoin:
		c.errorAt(j.P.Offset, "swap the two sources and write LEFT JOIN", "RIGHT JOIN is not supported")
	case refs.Tp == tast.LeftJoin:
		j.Kind = JoinLeft
	}
	j.Right = c.tableRef(refs.Right, jt+1)
	if refs.On == nil {
		if !refs.NaturalJoin && refs.Using == nil {
			t := c.tok(c.tableRefEnd(jt + 1))
			c.errorAt(t.off, "an interval join matches rows on keys: JOIN b ON a.k = b.k WITHIN INTERVAL 1 HOUR", "expected ON after JOIN %s, found %s", j.Right.Name.Name, c.describe(t))
		}
	} else {
		j.On = c.expr(refs.On.Expr)
	}
	sel.Join = j
}

// tableRef converts a source reference whose name is toks[i].
func (c *converter) tableRef(rs tast.ResultSetNode, i int) TableRef {
	t := c.tok(i)
	ts, ok := rs.(*tast.TableSource)
	if !ok {
		c.errorAt(t.off, "", "parenthesised joins are not supported")
		return TableRef{}
	}
	tn, ok := ts.Source.(*tast.TableName)
	if !ok {
		c.errorAt(t.off, "", "subqueries are not supported; FROM and JOIN name sources")
		return TableRef{}
	}
	if tn.Schema.O != "" {
		c.errorAt(t.off, "the catalog has one namespace: drop the qualifier", "qualified source names are not supported")
	}
	ref := TableRef{Name: Ident{P: c.pos(t.off), Name: tn.Name.O}}
	if ts.AsName.O != "" {
		a := i + 1
		if tn.Schema.O != "" {
			a += 2
		}
		if c.isKw(c.tok(a), kwAs) {
			a++
		}
		ref.Alias = &Ident{P: c.pos(c.tok(a).off), Name: ts.AsName.O}
	}
	return ref
}

// tableRefEnd returns the index after the source reference at toks[i].
func (c *converter) tableRefEnd(i int) int {
	i++
	if c.isKw(c.tok(i), kwAs) {
		i++
	}
	if t := c.tok(i); (t.kind == tkIdent && t.kw == kwNone) || t.kind == tkQIdent {
		i++
	}
	return i
}

func (c *converter) dedupKeys(n tast.StmtNode) []Expr {
	st, ok := n.(*tast.SelectStmt)
	if !ok || st.From != nil || st.Where != nil || st.GroupBy != nil {
		c.errorAt(c.base, "", "internal error: unexpected DEDUPLICATE BY keys")
		return nil
	}
	keys := make([]Expr, 0, len(st.Fields.Fields))
	for _, f := range st.Fields.Fields {
		at := c.base + f.Offset
		switch {
		case f.WildCard != nil:
			c.errorAt(at, "name the key columns", "DEDUPLICATE BY * is not supported")
			continue
		case f.AsName.O != "":
			c.errorAt(at, "", "a DEDUPLICATE BY key has no alias")
		}
		keys = append(keys, c.expr(f.Expr))
	}
	return keys
}

var binaryOps = map[opcode.Op]string{
	opcode.LogicAnd: "AND", opcode.LogicOr: "OR",
	opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.LE: "<=", opcode.GT: ">", opcode.GE: ">=",
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.Mod: "%",
}

func (c *converter) exprs(ns []tast.ExprNode) []Expr {
	if len(ns) == 0 {
		return nil
	}
	out := make([]Expr, len(ns))
	for i, n := range ns {
		out[i] = c.expr(n)
	}
	return out
}

// binary converts n, whose left operand is converted (l).
func (c *converter) binary(n *tast.BinaryOperationExpr, l Expr) Expr {
	r := c.expr(n.R)
	opAt := c.toks[c.tokIndex(r.Pos().Offset)-1]
	op, ok := binaryOps[n.Op]
	if !ok {
		return c.unsupported(opAt.off, "", "operator %s is not supported", strings.ToUpper(c.text(opAt)))
	}
	return &Binary{P: l.Pos(), OpPos: c.pos(opAt.off), Op: op, L: l, R: r}
}

func (c *converter) expr(n tast.ExprNode) Expr {
	off := c.off(n)
	if c.depth >= MaxExprDepth {
		if !c.tooDeep {
			c.tooDeep = true
			c.errorAt(off, "split it into smaller expressions", "the expression nests more than %d levels deep", MaxExprDepth)
		}
		return &Literal{P: c.pos(off), Kind: LitNull, Raw: "NULL"}
	}
	c.depth++
	defer func() { c.depth-- }()
	switch n := n.(type) {
	case *tast.ColumnNameExpr:
		if k, ok := slices.BinarySearchFunc(c.intervals, off, func(iv intervalAt, off int) int { return iv.off - off }); ok && n.Name.Name.L == intervalPlaceholder && n.Name.Table.L == "" {
			return &IntervalLit{Interval: c.intervals[k].iv}
		}
		if n.Name.Schema.O != "" {
			c.errorAt(off, "", "a name has at most one qualifier")
		}
		return &ColumnRef{P: c.pos(off), Qualifier: n.Name.Table.O, Name: n.Name.Name.O}
	case *driver.ValueExpr:
		return c.literal(n, off)
	case *tast.ParenthesesExpr:
		return &Paren{P: c.pos(off), X: c.expr(n.Expr)}
	case *tast.BinaryOperationExpr:
		// a + b + c + … parses as ((a + b) + c) + …: convert such a left
		// chain bottom up, in a loop, so that a long one does not recurse
		// (and grow the stack) once per operator.
		spine := []*tast.BinaryOperationExpr{n}
		for x, ok := n.L.(*tast.BinaryOperationExpr); ok; x, ok = x.L.(*tast.BinaryOperationExpr) {
			spine = append(spine, x)
		}
		d0 := c.depth
		if d0+len(spine) > MaxExprDepth {
			c.depth = MaxExprDepth
			defer func() { c.depth = d0 }()
			return c.expr(n.L)
		}
		c.depth = d0 + len(spine) - 1
		l := c.expr(spine[len(spine)-1].L)
		for i := len(spine) - 1; i >= 0; i-- {
			c.depth = d0 + i
			l = c.binary(spine[i], l)
		}
		c.depth = d0
		return l
	case *tast.UnaryOperationExpr:
		switch n.Op {
		case opcode.Plus:
			return c.expr(n.V)
		case opcode.Minus:
			return &Unary{P: c.pos(off), Op: "-", X: c.expr(n.V)}
		case opcode.Not:
			return &Unary{P: c.pos(off), Op: "NOT", X: c.expr(n.V)}
		case opcode.Not2:
			return c.unsupported(off, "write NOT", "operator ! is not supported")
		}
		return c.unsupported(off, "", "operator %s is not supported", c.text(c.toks[c.tokIndex(off)]))
	case *tast.IsNullExpr:
		return &IsNull{P: c.pos(off), X: c.expr(n.Expr), Not: n.Not}
	case *tast.PatternInExpr:
		if n.Sel != nil {
			return c.unsupported(off, "", "subqueries are not supported")
		}
		return &In{P: c.pos(off), X: c.expr(n.Expr), List: c.exprs(n.List), Not: n.Not}
	case *tast.BetweenExpr:
		return &Between{P: c.pos(off), X: c.expr(n.Expr), Lo: c.expr(n.Left), Hi: c.expr(n.Right), Not: n.Not}
	case *tast.PatternLikeOrIlikeExpr:
		switch {
		case !n.IsLike:
			return c.unsupported(off, "write LOWER(x) LIKE LOWER(pattern)", "ILIKE is not supported")
		case n.EscapeExplicit:
			return c.unsupported(off, "", "LIKE … ESCAPE is not supported")
		}
		return &Like{P: c.pos(off), X: c.expr(n.Expr), Pattern: c.expr(n.Pattern), Not: n.Not}
	case *tast.CaseExpr:
		e := &Case{P: c.pos(off)}
		if n.Value != nil {
			e.Operand = c.expr(n.Value)
		}
		for _, w := range n.WhenClauses {
			e.Whens = append(e.Whens, When{Cond: c.expr(w.Expr), Result: c.expr(w.Result)})
		}
		if n.ElseClause != nil {
			e.Else = c.expr(n.ElseClause)
		}
		return e
	case *tast.FuncCallExpr:
		// Scan order is source order, so both tables are sorted by offset.
		// a || b is a concat call at a's offset, which may be a CAST's: match
		// the placeholder's name too.
		if k, ok := slices.BinarySearchFunc(c.casts, off, func(ca castAt, off int) int { return ca.off - off }); ok && n.FnName.L == castPlaceholder {
			if len(n.Args) != 1 {
				return c.unsupported(off, "", "CAST takes one value: CAST(x AS type)")
			}
			return &Cast{P: c.pos(off), X: c.expr(n.Args[0]), Type: c.casts[k].typ}
		}
		name := strings.ToUpper(n.FnName.O)
		if n.FnName.L == "concat" && !c.isCallOf(off, "CONCAT") {
			return &Call{P: c.pos(off), Name: name, Args: c.exprs(n.Args)} // a || b
		}
		if name == "TRIM" && len(n.Args) != 1 {
			return c.unsupported(off, "write TRIM(x)", "TRIM with BOTH, LEADING, TRAILING or FROM is not supported")
		}
		if n.Schema.O != "" {
			return c.unsupported(off, "", "qualified function names are not supported")
		}
		if msg := c.plainCall(off, name, len(n.Args)); msg != "" {
			return c.unsupported(off, "", "%s", msg)
		}
		for _, a := range n.Args {
			switch a.(type) {
			case *tast.TimeUnitExpr, *tast.GetFormatSelectorExpr, *tast.TrimDirectionExpr:
				// These carry no position of their own.
				return c.unsupported(off, "", "this form of %s is not supported", name)
			}
		}
		return &Call{P: c.pos(off), Name: name, Args: c.exprs(n.Args)}
	case *tast.AggregateFuncExpr:
		call := &Call{P: c.pos(off), Name: strings.ToUpper(n.F), Distinct: n.Distinct}
		if n.Order != nil {
			return c.unsupported(off, "", "ORDER BY inside an aggregate is not supported")
		}
		k := c.tokIndex(off)
		if k+2 < c.end && c.isPunct(c.toks[k+1], "(") && c.isPunct(c.toks[k+2], "*") {
			call.Star = true
			return call
		}
		if msg := c.plainCall(off, call.Name, len(n.Args)); msg != "" {
			return c.unsupported(off, "", "%s", msg)
		}
		call.Args = c.exprs(n.Args)
		return call
	case *tast.IsTruthExpr:
		return c.unsupported(off, "write x = TRUE", "IS TRUE and IS FALSE are not supported")
	case *tast.WindowFuncExpr:
		return c.unsupported(off, "use GROUP BY TUMBLE(…) or HOP(…)", "window functions (OVER) are not supported")
	case *tast.SubqueryExpr, *tast.ExistsSubqueryExpr, *tast.CompareSubqueryExpr:
		return c.unsupported(off, "", "subqueries are not supported")
	case *tast.FuncCastExpr:
		return c.unsupported(off, "write CAST(x AS type)", "this conversion is not supported")
	}
	t := c.toks[min(c.tokIndex(off), c.end-1)]
	return c.unsupported(off, "", "unsupported expression at %s", c.describe(t))
}

// literal classifies a constant by its token: TiDB folds TRUE to 1 and
// reads digits as decimals, but Sluice keeps literals as written.
func (c *converter) literal(n *driver.ValueExpr, off int) Expr {
	k := c.tokIndex(off)
	if k >= len(c.toks) || c.toks[k].off != off {
		return c.unsupported(off, "", "unsupported literal")
	}
	t := c.toks[k]
	lit := &Literal{P: c.pos(off)}
	switch n.Kind() {
	case driver.KindNull:
		lit.Kind, lit.Raw = LitNull, "NULL"
		return lit
	case driver.KindString, driver.KindBytes:
		lit.Kind, lit.Raw = LitString, n.GetString()
		return lit
	case driver.KindInt64, driver.KindUint64, driver.KindFloat32, driver.KindFloat64, driver.KindMysqlDecimal:
		switch {
		case c.isKw(t, kwTrue) || c.isKw(t, kwFalse):
			lit.Kind, lit.Raw = LitBool, strings.ToUpper(c.text(t))
			return lit
		case t.kind == tkNumber:
			lit.Raw = c.text(t)
			lit.Kind = LitInt
			if strings.ContainsAny(lit.Raw, ".eE") {
				lit.Kind = LitFloat
				lit.Raw = fullDecimal(lit.Raw)
			}
			return lit
		}
	}
	return c.unsupported(off, "", "unsupported literal %s", c.describe(t))
}

// fullDecimal writes .5 as 0.5 and 1. as 1.0: TiDB rejects "1. AS x".
func fullDecimal(raw string) string {
	mant, exp := raw, ""
	if i := strings.IndexAny(raw, "eE"); i >= 0 {
		mant, exp = raw[:i], raw[i:]
	}
	if strings.HasPrefix(mant, ".") {
		mant = "0" + mant
	}
	if strings.HasSuffix(mant, ".") {
		mant += "0"
	}
	return mant + exp
}

// isCallOf reports whether the token at off is the word name.
func (c *converter) isCallOf(off int, name string) bool {
	k := c.tokIndex(off)
	return k < c.end && c.toks[k].off == off && c.toks[k].kind == tkIdent && strings.EqualFold(c.text(c.toks[k]), name)
}

// plainCall checks that a call TiDB reports as name(args) was written
// that way: TiDB renames some functions (CHAR, INSERT, STD) and turns
// special forms (POSITION(a IN b), EXTRACT(HOUR FROM t), GROUP_CONCAT's
// separator) into extra arguments. Sluice keeps only calls that read back
// the same when formatted as NAME(arg, …); it returns why not, or "".
func (c *converter) plainCall(off int, name string, args int) string {
	k := c.tokIndex(off)
	if k < c.end && c.toks[k].kind == tkQIdent {
		return "a function name is not quoted"
	}
	if !c.isCallOf(off, name) || !isPlainWord(name) {
		return "unsupported expression at " + c.describe(c.toks[min(k, c.end-1)])
	}
	written := 0
	if k+1 < c.end && c.isPunct(c.toks[k+1], "(") {
		written = c.countArgs(k + 1)
	}
	if written != args {
		return "this form of " + name + " is not supported; functions are called as NAME(argument, …)"
	}
	return ""
}

// countArgs counts the arguments between the parenthesis at toks[open] and
// its match: the depth-1 commas plus one, or zero for ().
func (c *converter) countArgs(open int) int {
	depth, n := 0, 0
	for j := open; j < c.end; j++ {
		t := c.toks[j]
		if depth == 1 && n == 0 && !c.isPunct(t, ")") {
			n = 1
		}
		switch {
		case c.isPunct(t, "("):
			depth++
		case c.isPunct(t, ")"):
			depth--
			if depth == 0 {
				return n
			}
		case depth == 1 && c.isPunct(t, ","):
			n++
		}
	}
	return n
}
