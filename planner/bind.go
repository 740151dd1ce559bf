package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// Binding turns AST expressions into typed dag.Exprs whose OpColumn nodes
// hold column IDs of the query (index into query.cols), not positions in
// a schema: the plan is not built yet when expressions are bound, and the
// same column sits at different positions in different nodes once unused
// columns are pruned. Lowering remaps IDs to positions node by node.
//
// A bound expression whose Type.Kind is Invalid stands for a part that
// already has an error; operators over it report nothing more, so one
// mistake yields one message.

// colInfo is one column a query can refer to.
type colInfo struct {
	name string
	typ  dag.Type // the type where it is produced (before a LEFT join)
	side int      // 0 = FROM, 1 = JOIN, -1 = produced by the window
	col  dag.Column
}

// bctx is where an expression is being bound.
type bctx struct {
	clause string // "WHERE", "ON", "SELECT", … for messages
	// nullRight makes the right side's columns nullable: above a LEFT join.
	nullRight bool
	// post, when set, binds over the window's output: GROUP BY keys,
	// window_start, window_end and aggregates, nothing else.
	post *windowState
}

var invalidType = dag.Type{Kind: dag.Invalid}

func bad(text string) *dag.Expr { return &dag.Expr{Op: dag.OpInvalid, Type: invalidType, Text: text} }

func isBad(es ...*dag.Expr) bool {
	for _, e := range es {
		if e == nil || e.Type.Kind == dag.Invalid {
			return true
		}
	}
	return false
}

func isConst(e *dag.Expr) bool { return e.Op == dag.OpConst }

func isAggregate(name string) bool {
	switch strings.ToUpper(name) {
	case "COUNT", "SUM", "AVG", "MIN", "MAX":
		return true
	}
	return false
}

// hasAggregate reports whether e contains an aggregate call, and returns
// the first.
func hasAggregate(e sql.Expr) *sql.Call {
	var found *sql.Call
	walk(e, func(x sql.Expr) bool {
		if c, ok := x.(*sql.Call); ok && isAggregate(c.Name) {
			found = c
			return false
		}
		return found == nil
	})
	return found
}

// walk calls f on e and its subexpressions, depth first, while f is true
// (sql.Inspect, restricted to expressions).
func walk(e sql.Expr, f func(sql.Expr) bool) {
	sql.Inspect(e, func(n sql.Node) bool {
		x, ok := n.(sql.Expr)
		return ok && f(x)
	})
}

// bind binds e. It never returns nil.
func (q *query) bind(e sql.Expr, c *bctx) *dag.Expr {
	if q.stop.spent() {
		return bad("")
	}
	if x, ok := q.bound[boundKey{e, c}]; ok {
		delete(q.bound, boundKey{e, c})
		return x
	}
	if b, ok := e.(*sql.Binary); ok {
		q.bindLeftSpine(b, c)
	}
	if c.post != nil {
		if r, ok := q.bindPost(e, c); ok {
			return r
		}
	}
	switch e := e.(type) {
	case *sql.Paren:
		x := q.bind(e.X, c)
		if isBad(x) {
			return x
		}
		cp := *x
		cp.Text = clipText("(" + x.Text + ")")
		return &cp
	case *sql.ColumnRef:
		return q.column(e, c)
	case *sql.Literal:
		return q.literal(e)
	case *sql.IntervalLit:
		q.errs.AddNode(e, "write t + INTERVAL n unit or t - INTERVAL n unit", "an INTERVAL can only be added to or subtracted from a time")
		return bad(q.text(e))
	case *sql.Unary:
		return q.unary(e, c)
	case *sql.Binary:
		return q.binary(e, c)
	case *sql.IsNull:
		x := q.bind(e.X, c)
		op := dag.OpIsNull
		if e.Not {
			op = dag.OpIsNotNull
		}
		if isBad(x) {
			return bad(q.text(e))
		}
		return &dag.Expr{Op: op, Type: dag.T(dag.Bool), Args: []*dag.Expr{x}, Text: q.text(e)}
	case *sql.In:
		return q.in(e, c)
	case *sql.Between:
		return q.between(e, c)
	case *sql.Like:
		x, p := q.bind(e.X, c), q.bind(e.Pattern, c)
		if isBad(x, p) {
			return bad(q.text(e))
		}
		for _, a := range []struct {
			e *dag.Expr
			n sql.Expr
		}{{x, e.X}, {p, e.Pattern}} {
			if a.e.Type.Kind != dag.String && a.e.Type.Kind != dag.Null {
				q.errs.AddNode(a.n, fmt.Sprintf("LIKE matches strings; write CAST(%s AS String)", a.e.Text), "LIKE needs String operands, got %s", a.e.Type)
				return bad(q.text(e))
			}
		}
		r := &dag.Expr{Op: dag.OpLike, Type: dag.T(dag.Bool).WithNull(x.Type.Nullable || p.Type.Nullable), Args: []*dag.Expr{x, p}, Text: q.text(e)}
		if e.Not {
			r = &dag.Expr{Op: dag.OpNot, Type: r.Type, Args: []*dag.Expr{r}, Text: r.Text}
		}
		return r
	case *sql.Case:
		return q.caseExpr(e, c)
	case *sql.Cast:
		return q.cast(e, c)
	case *sql.Call:
		return q.call(e, c)
	case nil:
		return bad("")
	}
	q.errs.AddNode(e, "", "unsupported expression")
	return bad("")
}

// boundKey names an expression bound ahead in a context (see bindLeftSpine).
type boundKey struct {
	e sql.Expr
	c *bctx
}

// bindLeftSpine binds, bottom up, a long chain of binary operators on the
// left of b (a + b + c + … parses as ((a + b) + c) + …), leaving each
// result for bind to take when b's binding asks for it. Binding then
// recurses only as deep as the right operands nest, not as long as the
// chain is: a deep recursion grows and copies the goroutine stack again
// and again.
func (q *query) bindLeftSpine(b *sql.Binary, c *bctx) {
	var spine []*sql.Binary
	for x, ok := b.L.(*sql.Binary); ok; x, ok = x.L.(*sql.Binary) {
		if _, done := q.bound[boundKey{x, c}]; done || q.stop.spent() {
			break
		}
		spine = append(spine, x)
	}
	if len(spine) < 64 {
		return
	}
	if q.bound == nil {
		q.bound = map[boundKey]*dag.Expr{}
	}
	for i := len(spine) - 1; i >= 0; i-- {
		x := q.bind(spine[i], c)
		q.bound[boundKey{spine[i], c}] = x
	}
}

// bindPost handles what is special over a window's output: aggregates,
// window_start/window_end, and expressions equal to a GROUP BY key. It
// returns ok=false to let bind recurse into e's parts.
func (q *query) bindPost(e sql.Expr, c *bctx) (*dag.Expr, bool) {
	w := c.post
	if call, ok := e.(*sql.Call); ok && isAggregate(call.Name) {
		return q.aggregate(call, c), true
	}
	if ref, ok := e.(*sql.ColumnRef); ok && ref.Qualifier == "" {
		switch strings.ToLower(ref.Name) {
		case "window_start":
			return &dag.Expr{Op: dag.OpColumn, Col: w.startID, Type: q.cols[w.startID].typ, Text: ref.Name}, true
		case "window_end":
			return &dag.Expr{Op: dag.OpColumn, Col: w.endID, Type: q.cols[w.endID].typ, Text: ref.Name}, true
		}
	}
	ref, isRef := e.(*sql.ColumnRef)
	if _, ok := e.(*sql.Literal); ok || (!isRef && q.astSize(e) > w.maxKeySize) {
		// No key is as large as e: bind e's parts instead. This keeps
		// deep expressions from being bound (or walked) once per level.
		return nil, false
	}
	if hasAggregate(e) != nil {
		return nil, false
	}
	// Bind in the input scope, quietly, to compare with the keys.
	var errs sql.ErrorList
	saved := q.errs
	q.errs = &errs
	pre := *c
	pre.post = nil
	x := q.bind(e, &pre)
	q.errs = saved
	for i, k := range w.keys {
		if len(errs) == 0 && sameExpr(x, k) {
			id := w.keyIDs[i]
			return &dag.Expr{Op: dag.OpColumn, Col: id, Type: q.cols[id].typ, Text: q.text(e)}, true
		}
	}
	if !isRef {
		return nil, false
	}
	if len(errs) > 0 {
		// HAVING may name an output column by its alias, as ClickHouse
		// allows: HAVING n > 10 for COUNT(*) AS n.
		if c.clause == "HAVING" && ref.Qualifier == "" {
			for _, o := range q.out {
				if strings.EqualFold(o.name, ref.Name) {
					cp := *o.e
					cp.Text = ref.Name
					return &cp, true
				}
			}
		}
		*q.errs = append(*q.errs, errs...)
		return bad(q.text(e)), true
	}
	q.errs.AddNode(ref, "GROUP BY keys: "+w.keyList(), "column %s must be in GROUP BY or inside an aggregate", q.text(ref))
	return bad(q.text(e)), true
}

// astSize counts the nodes of e that binding turns into at least one
// node of the bound expression (parentheses and unary signs may vanish).
func (q *query) astSize(e sql.Expr) int {
	if n, ok := q.sizes[e]; ok {
		return n
	}
	n := 0
	switch x := e.(type) {
	case *sql.Paren:
		n = q.astSize(x.X)
	case *sql.Unary:
		n = q.astSize(x.X)
	case nil:
	default:
		n = 1
		walkChildren(e, func(c sql.Expr) { n += q.astSize(c) })
	}
	if q.sizes == nil {
		q.sizes = map[sql.Expr]int{}
	}
	q.sizes[e] = n
	return n
}

// walkChildren calls f on each direct subexpression of e.
func walkChildren(e sql.Expr, f func(sql.Expr)) {
	for _, x := range sql.Children(e) {
		f(x)
	}
}

func dagSize(e *dag.Expr) int {
	n := 1
	for _, a := range e.Args {
		n += dagSize(a)
	}
	return n
}

// sameExpr reports whether two bound expressions compute the same thing.
func sameExpr(a, b *dag.Expr) bool {
	if a.Op != b.Op || a.Type != b.Type || a.Col != b.Col || a.Value != b.Value || a.HasElse != b.HasElse || len(a.Args) != len(b.Args) {
		return false
	}
	if a.Op == dag.OpInvalid {
		return false
	}
	for i := range a.Args {
		if !sameExpr(a.Args[i], b.Args[i]) {
			return false
		}
	}
	return true
}

func (q *query) column(e *sql.ColumnRef, c *bctx) *dag.Expr {
	id, ok := q.resolve(e)
	if !ok {
		return bad(q.text(e))
	}
	ci := q.cols[id]
	t := ci.typ
	if c.nullRight && ci.side == 1 {
		t.Nullable = true
	}
	return &dag.Expr{Op: dag.OpColumn, Col: id, Type: t, Text: q.text(e)}
}

// resolve finds the column e names and reports why when it cannot.
func (q *query) resolve(e *sql.ColumnRef) (int, bool) {
	if e.Qualifier != "" {
		s := q.sideByQual(e.Qualifier)
		if s == nil {
			quals := q.qualifiers()
			hint := "sources in this query: " + strings.Join(quals, ", ")
			sg := sql.Suggest(e.Qualifier, quals)
			if len(sg) > 0 {
				hint = fmt.Sprintf("did you mean %q? %s", sg[0], hint)
			}
			// The range is the qualifier alone.
			err := q.errs.Add(e.P, hint, "unknown source or alias %q", e.Qualifier)
			if len(sg) > 0 {
				replaceWith(err, sql.QuoteIdent(sg[0]), sg[0])
			}
			return 0, false
		}
		if id := q.lookupCol(s, e.Name); id >= 0 {
			return id, true
		}
		err := q.errs.AddNode(e, q.columnsHint(e.Name, []*side{s}), "unknown column %q in source %q", e.Name, s.obj.Name)
		if sg := q.suggestColumn(e.Name, []*side{s}); sg != "" {
			err.ReplaceLast(sql.QuoteIdent(sg), "Replace with "+sg)
		}
		return 0, false
	}
	var found []int
	var in []*side
	for _, s := range q.sides {
		if id := q.lookupCol(s, e.Name); id >= 0 {
			found = append(found, id)
			in = append(in, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], true
	case 0:
		what := fmt.Sprintf("source %q", q.sides[0].obj.Name)
		if len(q.sides) > 1 {
			what = fmt.Sprintf("sources %q and %q", q.sides[0].obj.Name, q.sides[1].obj.Name)
		}
		hint := q.columnsHint(e.Name, q.sides)
		if strings.EqualFold(e.Name, "window_start") || strings.EqualFold(e.Name, "window_end") {
			hint = e.Name + " exists in a windowed query: GROUP BY TUMBLE(" + q.timeName() + ", INTERVAL 1 MINUTE)"
		}
		err := q.errs.AddNode(e, hint, "unknown column %q in %s", e.Name, what)
		if sg := q.suggestColumn(e.Name, q.sides); sg != "" {
			replaceWith(err, sql.QuoteIdent(sg), sg)
		}
		return 0, false
	}
	err := q.errs.AddNode(e, fmt.Sprintf("qualify it: %s.%s or %s.%s", in[0].qual, e.Name, in[1].qual, e.Name), "column %q is ambiguous: both %q and %q have it", e.Name, in[0].obj.Name, in[1].obj.Name)
	for _, s := range in {
		replaceWith(err, sql.QuoteIdent(s.qual)+"."+sql.QuoteIdent(e.Name))
	}
	return 0, false
}

func (q *query) lookupCol(s *side, name string) int {
	for _, id := range s.ids {
		if strings.EqualFold(q.cols[id].name, name) {
			return id
		}
	}
	return -1
}

func (q *query) sideByQual(qual string) *side {
	for _, s := range q.sides {
		if strings.EqualFold(s.qual, qual) {
			return s
		}
	}
	return nil
}

func (q *query) qualifiers() []string {
	out := make([]string, len(q.sides))
	for i, s := range q.sides {
		out[i] = s.qual
	}
	return out
}

// columnsHint suggests close names and lists the declared columns of the
// given sides.
func (q *query) columnsHint(name string, sides []*side) string {
	var b strings.Builder
	var all []string
	for _, s := range sides {
		for _, id := range s.ids {
			all = append(all, q.cols[id].name)
		}
	}
	if sg := sql.Suggest(name, all); len(sg) > 0 {
		fmt.Fprintf(&b, "did you mean %q? ", sg[0])
	}
	for i, s := range sides {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "columns of %q: %s", s.obj.Name, strings.Join(s.spec.Declared.Names(), ", "))
	}
	return b.String()
}

func (q *query) literal(e *sql.Literal) *dag.Expr {
	text := q.text(e)
	switch e.Kind {
	case sql.LitNull:
		return &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.Null).WithNull(true), Value: dag.Value{Null: true}, Text: text}
	case sql.LitBool:
		v := int64(0)
		if strings.EqualFold(e.Raw, "true") {
			v = 1
		}
		return &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.Bool), Value: dag.Value{I: v}, Text: text}
	case sql.LitInt:
		u, err := parseIntLiteral(e.Raw)
		if err != nil {
			q.errs.AddNode(e, "integers range up to 18446744073709551615; write a float or a string for larger values", "integer %s is out of range", e.Raw)
			return bad(text)
		}
		return &dag.Expr{Op: dag.OpConst, Type: dag.T(intLiteralType(u)), Value: dag.Value{U: u}, Text: text}
	case sql.LitFloat:
		f, err := strconv.ParseFloat(e.Raw, 64)
		if err != nil {
			q.errs.AddNode(e, "", "invalid number %s", e.Raw)
			return bad(text)
		}
		return &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.Float64), Value: dag.Value{F: f}, Text: text}
	case sql.LitString:
		return &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.String), Value: dag.Value{S: e.Raw}, Text: text}
	}
	q.errs.AddNode(e, "", "unsupported literal %s", e.Raw)
	return bad(text)
}

func (q *query) unary(e *sql.Unary, c *bctx) *dag.Expr {
	x := q.bind(e.X, c)
	text := q.text(e)
	if isBad(x) {
		return bad(text)
	}
	if strings.EqualFold(e.Op, "NOT") {
		if x.Type.Kind != dag.Bool && x.Type.Kind != dag.Null {
			q.errs.AddNode(e.X, "NOT applies to conditions; compare the value, e.g. x <> 0", "NOT needs a Bool operand, got %s", x.Type)
			return bad(text)
		}
		return &dag.Expr{Op: dag.OpNot, Type: dag.T(dag.Bool).WithNull(x.Type.Nullable), Args: []*dag.Expr{x}, Text: text}
	}
	if e.Op == "+" {
		if !x.Type.Kind.IsNumeric() {
			q.errs.AddNode(e, "", "unary + needs a number, got %s", x.Type)
			return bad(text)
		}
		return x
	}
	// Negative literals are folded, so -5 is an Int8 constant as in
	// ClickHouse, not the negation of a UInt8.
	if isConst(x) && !x.Value.Null {
		switch k := x.Type.Kind; {
		case k.IsInteger() && !k.IsSigned():
			if x.Value.U > 1<<63 {
				break
			}
			v := -int64(x.Value.U)
			return &dag.Expr{Op: dag.OpConst, Type: dag.T(negLiteralType(v)), Value: dag.Value{I: v}, Text: text}
		case k.IsSigned() && x.Value.I != -1<<63:
			return &dag.Expr{Op: dag.OpConst, Type: x.Type, Value: dag.Value{I: -x.Value.I}, Text: text}
		case isFloat(k):
			return &dag.Expr{Op: dag.OpConst, Type: x.Type, Value: dag.Value{F: -x.Value.F}, Text: text}
		case k == dag.Decimal:
			return &dag.Expr{Op: dag.OpConst, Type: x.Type, Value: dag.Value{I: -x.Value.I}, Text: text}
		}
	}
	if !x.Type.Kind.IsNumeric() {
		q.errs.AddNode(e, "", "cannot negate %s", x.Type)
		return bad(text)
	}
	if x.Type.Kind.IsInteger() && !x.Type.Kind.IsSigned() {
		x = castTo(x, dag.T(signedOfSize(min(8, 2*x.Type.Kind.Bytes()))))
	}
	return &dag.Expr{Op: dag.OpNeg, Type: x.Type, Args: []*dag.Expr{x}, Text: text}
}

var arithOps = map[string]dag.Op{"+": dag.OpAdd, "-": dag.OpSub, "*": dag.OpMul, "/": dag.OpDiv, "%": dag.OpMod}
var cmpOps = map[string]dag.Op{"=": dag.OpEq, "==": dag.OpEq, "<>": dag.OpNe, "!=": dag.OpNe, "<": dag.OpLt, "<=": dag.OpLe, ">": dag.OpGt, ">=": dag.OpGe}

func (q *query) binary(e *sql.Binary, c *bctx) *dag.Expr {
	op := strings.ToUpper(e.Op)
	text := q.text(e)
	// t ± INTERVAL is time arithmetic, bound before the interval alone
	// would be rejected.
	if iv, ok := e.R.(*sql.IntervalLit); ok && (op == "+" || op == "-") {
		return q.timeArith(e, q.bind(e.L, c), iv, op, text)
	}
	if iv, ok := e.L.(*sql.IntervalLit); ok && op == "+" {
		return q.timeArith(e, q.bind(e.R, c), iv, op, text)
	}
	l, r := q.bind(e.L, c), q.bind(e.R, c)
	if isBad(l, r) {
		return bad(text)
	}
	switch {
	case op == "AND" || op == "OR":
		for _, x := range []struct {
			e *dag.Expr
			n sql.Expr
		}{{l, e.L}, {r, e.R}} {
			if x.e.Type.Kind != dag.Bool && x.e.Type.Kind != dag.Null {
				q.errs.AddNode(x.n, "write a condition, e.g. x <> 0", "%s needs Bool operands, got %s", op, x.e.Type)
				return bad(text)
			}
		}
		dop := dag.OpAnd
		if op == "OR" {
			dop = dag.OpOr
		}
		// Flatten a AND b AND c into one node with three arguments. The
		// arguments of a left operand that this function made for the
		// same operator are appended to, not copied: nothing else holds
		// it, and a long chain would otherwise copy them once per level.
		var args []*dag.Expr
		if lb, fresh := e.L.(*sql.Binary); fresh && l.Op == dop && strings.EqualFold(lb.Op, op) {
			args = l.Args
		} else if l.Op == dop {
			args = append(args, l.Args...)
		} else {
			args = append(args, l)
		}
		if r.Op == dop {
			args = append(args, r.Args...)
		} else {
			args = append(args, r)
		}
		return &dag.Expr{Op: dop, Type: dag.T(dag.Bool).WithNull(l.Type.Nullable || r.Type.Nullable), Args: args, Text: text}
	case cmpOps[op] != dag.OpInvalid:
		l2, r2, _, ok := unify(l, r)
		if !ok {
			q.mismatch(e, "compare", l, r)
			return bad(text)
		}
		if (op != "=" && op != "==" && op != "<>" && op != "!=") && l2.Type.Kind == dag.Bool {
			q.errs.AddNode(e, "", "cannot order Bool values with %s", op)
			return bad(text)
		}
		return &dag.Expr{Op: cmpOps[op], Type: dag.T(dag.Bool).WithNull(l2.Type.Nullable || r2.Type.Nullable), Args: []*dag.Expr{l2, r2}, Text: text}
	case arithOps[op] != dag.OpInvalid:
		for _, x := range []*dag.Expr{l, r} {
			if x.Type.Kind == dag.String {
				q.errs.AddNode(e, "arithmetic needs numbers: use CONCAT to join strings, or CAST(x AS Float64)", "cannot apply %s to %s and %s", op, l.Type, r.Type)
				return bad(text)
			}
			if x.Type.Kind.IsTime() || x.Type.Kind == dag.Bool {
				q.errs.AddNode(e, "add or subtract an INTERVAL to shift a time; compare times with < and >", "cannot apply %s to %s and %s", op, l.Type, r.Type)
				return bad(text)
			}
		}
		l2, r2, t, ok := unify(l, r)
		if !ok {
			q.mismatch(e, "apply "+op+" to", l, r)
			return bad(text)
		}
		if t.Kind == dag.Null {
			t = dag.T(dag.Int64).WithNull(true)
			l2, r2 = castTo(l2, t), castTo(r2, t)
		}
		dop := arithOps[op]
		if (dop == dag.OpAdd || dop == dag.OpSub || dop == dag.OpMul) && t.Kind.IsInteger() && t.Kind.Bytes() < 8 {
			// As in ClickHouse, +, - and * on integers widen to the next
			// size, so that Int32 * Int32 does not overflow.
			if t.Kind.IsSigned() {
				t.Kind = signedOfSize(2 * t.Kind.Bytes())
			} else {
				t.Kind = unsignedOfSize(2 * t.Kind.Bytes())
			}
			// Cast the operands themselves rather than stacking a second
			// cast on unify's.
			if !isConst(l2) {
				l2 = l
			}
			if !isConst(r2) {
				r2 = r
			}
			l2, r2 = castTo(l2, t), castTo(r2, t)
		}
		if (dop == dag.OpDiv || dop == dag.OpMod) && !isFloat(t.Kind) {
			// Integer division by zero yields NULL.
			t.Nullable = true
		}
		return &dag.Expr{Op: dop, Type: t, Args: []*dag.Expr{l2, r2}, Text: text}
	}
	q.errs.Add(e.OpPos, "", "unsupported operator %s", e.Op)
	return bad(text)
}

// timeArith binds t ± INTERVAL. Times are stored as nanoseconds (Date as
// days), so the interval becomes a constant of t's own type.
func (q *query) timeArith(e *sql.Binary, t *dag.Expr, iv *sql.IntervalLit, op, text string) *dag.Expr {
	d, ok := q.interval(&iv.Interval, "", true)
	if isBad(t) || !ok {
		return bad(text)
	}
	if !t.Type.Kind.IsTime() {
		q.errs.AddNode(e, "an INTERVAL shifts a time; CAST the value to DateTime64(3) first", "cannot apply %s INTERVAL to %s", op, t.Type)
		return bad(text)
	}
	v := int64(d)
	if t.Type.Kind == dag.Date {
		if d%(24*time.Hour) == 0 {
			v = int64(d / (24 * time.Hour))
		} else {
			t = castTo(t, dag.T(dag.DateTime))
		}
	}
	dop := dag.OpAdd
	if op == "-" {
		dop = dag.OpSub
	}
	k := &dag.Expr{Op: dag.OpConst, Type: t.Type.WithNull(false), Value: dag.Value{I: v}, Text: q.text(iv)}
	return &dag.Expr{Op: dop, Type: t.Type, Args: []*dag.Expr{t, k}, Text: text}
}

// mismatch reports two types that do not meet, naming both.
func (q *query) mismatch(at sql.Node, verb string, l, r *dag.Expr) {
	hint := ""
	switch {
	case l.Type.Kind.IsInteger() && r.Type.Kind.IsInteger():
		u := l
		if l.Type.Kind.IsSigned() {
			u = r
		}
		hint = fmt.Sprintf("no integer type holds both; convert one side: CAST(%s AS Int64)", u.Text)
	case l.Type.Kind == dag.String && r.Type.Kind != dag.String:
		hint = fmt.Sprintf("convert one side: CAST(%s AS %s)", l.Text, castTarget(r))
	case r.Type.Kind == dag.String && l.Type.Kind != dag.String:
		hint = fmt.Sprintf("convert one side: CAST(%s AS %s)", r.Text, castTarget(l))
	default:
		hint = fmt.Sprintf("convert one side: CAST(%s AS %s)", r.Text, l.Type.Base())
	}
	q.errs.AddNode(at, hint, "cannot %s %s and %s", verb, l.Type, r.Type)
}

// castTarget names the type to suggest converting a string to, to meet
// e: a literal's own type is merely the smallest that holds it.
func castTarget(e *dag.Expr) string {
	if isConst(e) && e.Type.Kind.IsInteger() {
		if e.Type.Kind.IsSigned() {
			return "Int64"
		}
		return "UInt64"
	}
	return e.Type.Base()
}

// unify brings two operands to one type. A constant takes the other
// operand's type when its value fits (so user_id > 0 compares UInt64s and
// created_at > '2024-01-01' compares times); otherwise both convert to
// their supertype.
func unify(l, r *dag.Expr) (*dag.Expr, *dag.Expr, dag.Type, bool) {
	if isConst(l) && !isConst(r) {
		if l2, ok := adaptConst(l, r.Type); ok {
			return l2, r, superNull(r.Type, l2.Type), true
		}
	}
	if isConst(r) && !isConst(l) {
		if r2, ok := adaptConst(r, l.Type); ok {
			return l, r2, superNull(l.Type, r2.Type), true
		}
	}
	t, ok := superType(l.Type, r.Type)
	if !ok {
		return l, r, t, false
	}
	return castTo(l, t), castTo(r, t), t, true
}

func superNull(t, o dag.Type) dag.Type { return t.WithNull(t.Nullable || o.Nullable) }

// adaptConst converts a constant to type t when its value fits exactly.
func adaptConst(k *dag.Expr, t dag.Type) (*dag.Expr, bool) {
	if k.Type.Kind == dag.Null || t.Kind == dag.Null || t.Kind == dag.Invalid {
		return nil, false
	}
	if !(k.Type.Kind.IsNumeric() && t.Kind.IsNumeric()) && !(k.Type.Kind == dag.String && t.Kind.IsTime()) {
		return nil, false
	}
	v, err := convertConst(k.Value, k.Type, t)
	if err != nil {
		return nil, false
	}
	return &dag.Expr{Op: dag.OpConst, Type: t.WithNull(false), Value: v, Text: k.Text}, true
}

// castTo converts e to t's kind and parameters, keeping e's nullability.
// Constants convert at plan time.
func castTo(e *dag.Expr, t dag.Type) *dag.Expr {
	if sameType(e.Type, t) {
		return e
	}
	nt := t.WithNull(e.Type.Nullable)
	if isConst(e) {
		if v, err := convertConst(e.Value, e.Type, t); err == nil {
			if e.Type.Kind == dag.Null {
				nt.Nullable = true
			}
			return &dag.Expr{Op: dag.OpConst, Type: nt, Value: v, Text: e.Text}
		}
	}
	return &dag.Expr{Op: dag.OpCast, Type: nt, Args: []*dag.Expr{e}, Text: e.Text}
}

func (q *query) in(e *sql.In, c *bctx) *dag.Expr {
	text := q.text(e)
	x := q.bind(e.X, c)
	items := make([]*dag.Expr, len(e.List))
	bd := isBad(x)
	for i, it := range e.List {
		items[i] = q.bind(it, c)
		bd = bd || isBad(items[i])
	}
	if bd {
		return bad(text)
	}
	t := x.Type
	null := x.Type.Nullable
	for i, it := range items {
		if isConst(it) {
			if a, ok := adaptConst(it, t); ok {
				items[i] = a
				continue
			}
		}
		s, ok := superType(t, it.Type)
		if !ok {
			q.mismatch(e.List[i], "compare", x, it)
			return bad(text)
		}
		null = null || it.Type.Nullable
		t = s
	}
	args := make([]*dag.Expr, 0, len(items)+1)
	args = append(args, castTo(x, t))
	for _, it := range items {
		args = append(args, castTo(it, t))
	}
	r := &dag.Expr{Op: dag.OpIn, Type: dag.T(dag.Bool).WithNull(null), Args: args, Text: text}
	if e.Not {
		r = &dag.Expr{Op: dag.OpNot, Type: r.Type, Args: []*dag.Expr{r}, Text: text}
	}
	return r
}

func (q *query) between(e *sql.Between, c *bctx) *dag.Expr {
	text := q.text(e)
	x, lo, hi := q.bind(e.X, c), q.bind(e.Lo, c), q.bind(e.Hi, c)
	if isBad(x, lo, hi) {
		return bad(text)
	}
	xl, lo2, _, ok1 := unify(x, lo)
	if !ok1 {
		q.mismatch(e.Lo, "compare", x, lo)
		return bad(text)
	}
	xh, hi2, _, ok2 := unify(x, hi)
	if !ok2 {
		q.mismatch(e.Hi, "compare", x, hi)
		return bad(text)
	}
	ge := &dag.Expr{Op: dag.OpGe, Type: dag.T(dag.Bool).WithNull(xl.Type.Nullable || lo2.Type.Nullable), Args: []*dag.Expr{xl, lo2}, Text: xl.Text + " >= " + lo2.Text}
	le := &dag.Expr{Op: dag.OpLe, Type: dag.T(dag.Bool).WithNull(xh.Type.Nullable || hi2.Type.Nullable), Args: []*dag.Expr{xh, hi2}, Text: xh.Text + " <= " + hi2.Text}
	r := &dag.Expr{Op: dag.OpAnd, Type: dag.T(dag.Bool).WithNull(ge.Type.Nullable || le.Type.Nullable), Args: []*dag.Expr{ge, le}, Text: text}
	if e.Not {
		r = &dag.Expr{Op: dag.OpNot, Type: r.Type, Args: []*dag.Expr{r}, Text: text}
	}
	return r
}

func (q *query) caseExpr(e *sql.Case, c *bctx) *dag.Expr {
	text := q.text(e)
	var operand *dag.Expr
	if e.Operand != nil {
		operand = q.bind(e.Operand, c)
	}
	conds := make([]*dag.Expr, len(e.Whens))
	results := make([]*dag.Expr, len(e.Whens))
	bd := operand != nil && isBad(operand)
	for i, w := range e.Whens {
		cond := q.bind(w.Cond, c)
		if operand != nil && !isBad(operand, cond) {
			l, r, _, ok := unify(operand, cond)
			if !ok {
				q.mismatch(w.Cond, "compare", operand, cond)
				cond = bad(cond.Text)
			} else {
				cond = &dag.Expr{Op: dag.OpEq, Type: dag.T(dag.Bool).WithNull(l.Type.Nullable || r.Type.Nullable), Args: []*dag.Expr{l, r}, Text: operand.Text + " = " + cond.Text}
			}
		} else if !isBad(cond) && cond.Type.Kind != dag.Bool && cond.Type.Kind != dag.Null {
			q.errs.AddNode(w.Cond, "write a condition, e.g. x > 0", "WHEN needs a Bool condition, got %s", cond.Type)
			cond = bad(cond.Text)
		}
		conds[i] = cond
		results[i] = q.bind(w.Result, c)
		bd = bd || isBad(cond, results[i])
	}
	var els *dag.Expr
	if e.Else != nil {
		els = q.bind(e.Else, c)
		bd = bd || isBad(els)
	}
	if bd {
		return bad(text)
	}
	all := results
	if els != nil {
		all = append(all[:len(all):len(all)], els)
	}
	t, ok := q.commonType(all, func(i int) sql.Node {
		if i < len(e.Whens) {
			return e.Whens[i].Result
		}
		return e.Else
	})
	if !ok {
		return bad(text)
	}
	if els == nil {
		t.Nullable = true
	}
	args := make([]*dag.Expr, 0, 2*len(conds)+1)
	for i := range conds {
		args = append(args, conds[i], castTo(results[i], t))
	}
	if els != nil {
		args = append(args, castTo(els, t))
	}
	return &dag.Expr{Op: dag.OpCase, Type: t, Args: args, HasElse: els != nil, Text: text}
}

// commonType is the supertype of several expressions (CASE results,
// COALESCE arguments), reporting the first that does not fit.
func (q *query) commonType(es []*dag.Expr, at func(int) sql.Node) (dag.Type, bool) {
	t := es[0].Type
	for i := 1; i < len(es); i++ {
		s, ok := superType(t, es[i].Type)
		if !ok {
			q.errs.AddNode(at(i), fmt.Sprintf("every branch must have one type; CAST(%s AS %s)", es[i].Text, t.Base()), "cannot combine %s and %s", t, es[i].Type)
			return t, false
		}
		t = s
	}
	if t.Kind == dag.Null {
		t = dag.T(dag.String).WithNull(true)
	}
	return t, true
}

func (q *query) cast(e *sql.Cast, c *bctx) *dag.Expr {
	text := q.text(e)
	x := q.bind(e.X, c)
	t, ok := resolveType(e.Type, q.errs)
	if isBad(x) || !ok {
		return bad(text)
	}
	t.Nullable = x.Type.Nullable
	if !castable(x.Type.Kind, t.Kind) {
		q.errs.AddNode(e, "", "cannot CAST %s to %s", x.Type, t.Base())
		return bad(text)
	}
	if sameType(x.Type, t) {
		cp := *x
		cp.Text = text
		return &cp
	}
	if isConst(x) {
		if v, err := convertConst(x.Value, x.Type, t); err == nil {
			if x.Type.Kind == dag.Null {
				t.Nullable = true
			}
			return &dag.Expr{Op: dag.OpConst, Type: t, Value: v, Text: text}
		}
	}
	return &dag.Expr{Op: dag.OpCast, Type: t, Args: []*dag.Expr{x}, Text: text}
}

// castable says which conversions CAST allows: anything to and from
// String (parsed or formatted at run time), numbers and Bool among
// themselves, times among themselves and to and from integers (epoch).
func castable(from, to dag.Kind) bool {
	switch {
	case from == to, from == dag.Null, from == dag.String, to == dag.String:
		return true
	case (from.IsNumeric() || from == dag.Bool) && (to.IsNumeric() || to == dag.Bool):
		return true
	case from.IsTime() && to.IsTime():
		return true
	case from.IsTime() && to.IsInteger(), from.IsInteger() && to.IsTime():
		return true
	}
	return false
}

// interval checks an interval: positive (or, for zeroOK, not negative)
// and small enough for nanoseconds.
func (q *query) interval(iv *sql.Interval, what string, zeroOK bool) (time.Duration, bool) {
	return checkInterval(iv, what, zeroOK, q.errs)
}

func checkInterval(iv *sql.Interval, what string, zeroOK bool, errs *sql.ErrorList) (time.Duration, bool) {
	unit, ok := sql.UnitDuration(iv.Unit)
	if !ok {
		errs.AddNode(*iv, "units: SECOND, MINUTE, HOUR, DAY", "unknown interval unit %s", iv.Unit)
		return 0, false
	}
	if what == "" {
		what = "an interval"
	}
	switch {
	case iv.Value < 0 && zeroOK:
		errs.AddNode(*iv, "write INTERVAL 0 SECOND or more", "%s must not be negative, got %s", what, intervalText(*iv))
		return 0, false
	case iv.Value < 0 || (iv.Value == 0 && !zeroOK):
		errs.AddNode(*iv, "write a positive interval, e.g. INTERVAL 10 MINUTE", "%s must be positive, got %s", what, intervalText(*iv))
		return 0, false
	}
	// A century is longer than any state a stream should keep, and keeps
	// the nanosecond arithmetic far from overflow.
	const century = 100 * 365 * 24 * time.Hour
	if iv.Value > int64(century/unit) {
		errs.AddNode(*iv, "intervals are limited to 100 years", "%s of %s is too long", what, intervalText(*iv))
		return 0, false
	}
	return time.Duration(iv.Value) * unit, true
}
