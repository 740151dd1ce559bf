package sql

import "fmt"

// visitPositions calls fn with a name and the position of every node and
// positioned field of the AST under n, in source order as far as the AST
// allows.
func visitPositions(n any, fn func(what string, p Pos)) {
	switch n := n.(type) {
	case *Script:
		for _, s := range n.Stmts {
			visitPositions(s, fn)
		}
	case *CreateSource:
		fn("CreateSource", n.P)
		fn("Name", n.Name.P)
		visitColumns(n.Columns, fn)
		if w := n.Watermark; w != nil {
			fn("Watermark", w.P)
			fn("Watermark.Column", w.Column.P)
			if w.Delay != nil {
				fn("Watermark.Delay", w.Delay.P)
			}
		}
		visitOptions(n.Options, fn)
	case *CreateSink:
		fn("CreateSink", n.P)
		fn("Name", n.Name.P)
		visitColumns(n.Columns, fn)
		visitOptions(n.Options, fn)
	case *CreatePipeline:
		fn("CreatePipeline", n.P)
		fn("Name", n.Name.P)
		visitOptions(n.Options, fn)
		if n.Insert != nil {
			fn("Insert", n.Insert.P)
			fn("Insert.Sink", n.Insert.Sink.P)
			for _, c := range n.Insert.Columns {
				fn("Insert.Column", c.P)
			}
			visitPositions(n.Insert.Query, fn)
		}
	case *Drop:
		fn("Drop", n.P)
		fn("Name", n.Name.P)
	case *StartPipeline:
		fn("StartPipeline", n.P)
		fn("Name", n.Name.P)
	case *StopPipeline:
		fn("StopPipeline", n.P)
		fn("Name", n.Name.P)
	case *Show:
		fn("Show", n.P)
	case *Describe:
		fn("Describe", n.P)
		fn("Name", n.Name.P)
	case *Explain:
		fn("Explain", n.P)
		visitPositions(n.Target, fn)
	case *SelectStmt:
		fn("SelectStmt", n.P)
		visitPositions(n.Select, fn)
	case *Select:
		fn("Select", n.P)
		for _, it := range n.Items {
			if it.Star {
				fn("Star", it.StarPos)
			} else {
				visitPositions(it.Expr, fn)
			}
			if it.Alias != nil {
				fn("Alias", it.Alias.P)
			}
		}
		visitTableRef(n.From, fn)
		if j := n.Join; j != nil {
			fn("Join", j.P)
			visitTableRef(j.Right, fn)
			visitPositions(j.On, fn)
			if j.Within != nil {
				fn("Join.Within", j.Within.P)
			}
		}
		visitPositions(n.Where, fn)
		for _, g := range n.GroupBy {
			visitPositions(g, fn)
		}
		visitPositions(n.Having, fn)
		for _, d := range n.Dedups {
			fn("Dedup", d.P)
			for _, k := range d.Keys {
				visitPositions(k, fn)
			}
			if d.Within != nil {
				fn("Dedup.Within", d.Within.P)
			}
		}
		if n.Limit != nil {
			fn("Limit", n.Limit.P)
		}
	case *ColumnRef:
		fn("ColumnRef", n.P)
	case *Literal:
		fn("Literal", n.P)
	case *IntervalLit:
		fn("IntervalLit", n.P)
	case *Unary:
		fn("Unary", n.P)
		visitPositions(n.X, fn)
	case *Binary:
		fn("Binary", n.P)
		visitPositions(n.L, fn)
		fn("Binary.Op", n.OpPos)
		visitPositions(n.R, fn)
	case *IsNull:
		fn("IsNull", n.P)
		visitPositions(n.X, fn)
	case *In:
		fn("In", n.P)
		visitPositions(n.X, fn)
		for _, e := range n.List {
			visitPositions(e, fn)
		}
	case *Between:
		fn("Between", n.P)
		visitPositions(n.X, fn)
		visitPositions(n.Lo, fn)
		visitPositions(n.Hi, fn)
	case *Like:
		fn("Like", n.P)
		visitPositions(n.X, fn)
		visitPositions(n.Pattern, fn)
	case *Case:
		fn("Case", n.P)
		visitPositions(n.Operand, fn)
		for _, w := range n.Whens {
			visitPositions(w.Cond, fn)
			visitPositions(w.Result, fn)
		}
		visitPositions(n.Else, fn)
	case *Cast:
		fn("Cast", n.P)
		visitPositions(n.X, fn)
		fn("Cast.Type", n.Type.P)
	case *Call:
		fn("Call", n.P)
		for _, a := range n.Args {
			visitPositions(a, fn)
		}
	case *Paren:
		fn("Paren", n.P)
		visitPositions(n.X, fn)
	case nil:
	default:
		panic(fmt.Sprintf("visitPositions: unknown node %T", n))
	}
}

func visitColumns(cols []ColumnDef, fn func(string, Pos)) {
	for _, c := range cols {
		fn("Column", c.Name.P)
		fn("Column.Type", c.Type.P)
		if c.Path != "" {
			fn("Column.Path", c.PathPos)
		}
	}
}

func visitOptions(opts []Option, fn func(string, Pos)) {
	for _, o := range opts {
		fn("Option", o.Key.P)
		fn("Option.Value", o.ValuePos)
	}
}

func visitTableRef(t TableRef, fn func(string, Pos)) {
	fn("Table", t.Name.P)
	if t.Alias != nil {
		fn("Table.Alias", t.Alias.P)
	}
}
