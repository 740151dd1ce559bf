package sql

// Inspect traverses the AST under n depth first, in source order as far as
// the AST allows, as go/ast.Inspect does: it calls f(n), and when f
// returns true, inspects each child of n. Nil children are skipped.
//
// The nodes are the statements, *Watermark, ColumnDef, Option, Ident,
// TypeName, *Interval, *Insert, *Select, SelectItem, TableRef, *Join,
// *Dedup, *Limit and the expressions. Every pass over the AST (the
// planner's searches, the editor's position tests) goes through Inspect or
// Children, so a new node kind is added in one place.
func Inspect(n Node, f func(Node) bool) {
	if isNil(n) || !f(n) {
		return
	}
	switch n := n.(type) {
	case *CreateSource:
		Inspect(n.Name, f)
		for _, c := range n.Columns {
			Inspect(c, f)
		}
		if n.Watermark != nil {
			Inspect(n.Watermark, f)
		}
		for _, o := range n.Options {
			Inspect(o, f)
		}
	case *CreateSink:
		Inspect(n.Name, f)
		for _, c := range n.Columns {
			Inspect(c, f)
		}
		for _, o := range n.Options {
			Inspect(o, f)
		}
	case *CreatePipeline:
		Inspect(n.Name, f)
		for _, o := range n.Options {
			Inspect(o, f)
		}
		if n.Insert != nil {
			Inspect(n.Insert, f)
		}
	case *Insert:
		Inspect(n.Sink, f)
		for _, c := range n.Columns {
			Inspect(c, f)
		}
		if n.Query != nil {
			Inspect(n.Query, f)
		}
	case *Drop:
		Inspect(n.Name, f)
	case *StartPipeline:
		Inspect(n.Name, f)
	case *StopPipeline:
		Inspect(n.Name, f)
	case *Describe:
		Inspect(n.Name, f)
	case *Explain:
		Inspect(n.Target, f)
	case *SelectStmt:
		if n.Select != nil {
			Inspect(n.Select, f)
		}
	case *Watermark:
		Inspect(n.Column, f)
		if n.Delay != nil {
			Inspect(n.Delay, f)
		}
	case ColumnDef:
		Inspect(n.Name, f)
		Inspect(n.Type, f)
	case *Select:
		for _, it := range n.Items {
			Inspect(it, f)
		}
		Inspect(n.From, f)
		if n.Join != nil {
			Inspect(n.Join, f)
		}
		Inspect(n.Where, f)
		for _, g := range n.GroupBy {
			Inspect(g, f)
		}
		Inspect(n.Having, f)
		for i := range n.Dedups {
			Inspect(&n.Dedups[i], f)
		}
		if n.Limit != nil {
			Inspect(n.Limit, f)
		}
	case SelectItem:
		Inspect(n.Expr, f)
		if n.Alias != nil {
			Inspect(*n.Alias, f)
		}
	case TableRef:
		Inspect(n.Name, f)
		if n.Alias != nil {
			Inspect(*n.Alias, f)
		}
	case *Join:
		Inspect(n.Right, f)
		Inspect(n.On, f)
		if n.Within != nil {
			Inspect(n.Within, f)
		}
	case *Dedup:
		for _, k := range n.Keys {
			Inspect(k, f)
		}
		if n.Within != nil {
			Inspect(n.Within, f)
		}
	case *Cast:
		Inspect(n.X, f)
		Inspect(n.Type, f)
	case Expr:
		for _, x := range Children(n) {
			Inspect(x, f)
		}
	}
}

// Children returns the direct subexpressions of e in source order; nil
// ones (a CASE without operand or ELSE) are left out.
func Children(e Expr) []Expr {
	var out []Expr
	add := func(xs ...Expr) {
		for _, x := range xs {
			if !isNil(x) {
				out = append(out, x)
			}
		}
	}
	switch e := e.(type) {
	case *Unary:
		add(e.X)
	case *Binary:
		add(e.L, e.R)
	case *IsNull:
		add(e.X)
	case *In:
		add(e.X)
		add(e.List...)
	case *Between:
		add(e.X, e.Lo, e.Hi)
	case *Like:
		add(e.X, e.Pattern)
	case *Case:
		add(e.Operand)
		for _, w := range e.Whens {
			add(w.Cond, w.Result)
		}
		add(e.Else)
	case *Cast:
		add(e.X)
	case *Call:
		add(e.Args...)
	case *Paren:
		add(e.X)
	}
	return out
}

// isNil reports whether n is nil or a nil pointer in an interface.
func isNil(n Node) bool {
	switch n := n.(type) {
	case nil:
		return true
	case Expr:
		return n == nil || isNilExpr(n)
	case Stmt:
		return n == nil
	}
	return false
}

func isNilExpr(e Expr) bool {
	switch e := e.(type) {
	case *ColumnRef:
		return e == nil
	case *Literal:
		return e == nil
	case *IntervalLit:
		return e == nil
	case *Unary:
		return e == nil
	case *Binary:
		return e == nil
	case *IsNull:
		return e == nil
	case *In:
		return e == nil
	case *Between:
		return e == nil
	case *Like:
		return e == nil
	case *Case:
		return e == nil
	case *Cast:
		return e == nil
	case *Call:
		return e == nil
	case *Paren:
		return e == nil
	}
	return false
}

// Pos returns where the column's name stands.
func (c ColumnDef) Pos() Pos { return c.Name.P }

// Pos returns where the option's key stands.
func (o Option) Pos() Pos { return o.Key.P }

// Pos returns where the source's name stands.
func (t TableRef) Pos() Pos { return t.Name.P }

// Pos returns where the item starts.
func (it SelectItem) Pos() Pos {
	if it.Star || it.Expr == nil {
		return it.StarPos
	}
	return it.Expr.Pos()
}

// Pos returns where the watermark clause starts.
func (w *Watermark) Pos() Pos { return w.P }

// Pos returns where SELECT starts.
func (s *Select) Pos() Pos { return s.P }
