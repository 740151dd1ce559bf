package sql

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	tidb "github.com/pingcap/tidb/pkg/parser"
)

// Format returns the canonical text of a statement: keywords upper case,
// names quoted with backquotes only when they must be, types by their
// canonical names, one clause per line. Parsing the result gives the same
// statement again (positions aside).
func Format(s Stmt) string {
	var f formatter
	f.stmt(s)
	return f.String()
}

// FormatScript formats every statement of a script, each ended by ';'.
func FormatScript(s *Script) string {
	var f formatter
	for i, st := range s.Stmts {
		if i > 0 {
			f.WriteString("\n")
		}
		f.stmt(st)
		f.WriteString(";\n")
	}
	return f.String()
}

type formatter struct {
	strings.Builder
}

func (f *formatter) stmt(s Stmt) {
	switch s := s.(type) {
	case *CreateSource:
		f.createHead("SOURCE", s.OrReplace, s.IfNotExists, s.Name)
		f.columns(s.Columns, s.Watermark)
		f.WriteString(" ")
		f.with(s.Options)
	case *CreateSink:
		f.createHead("SINK", s.OrReplace, s.IfNotExists, s.Name)
		if len(s.Columns) > 0 {
			f.columns(s.Columns, nil)
		}
		f.WriteString(" ")
		f.with(s.Options)
	case *CreatePipeline:
		f.createHead("PIPELINE", s.OrReplace, s.IfNotExists, s.Name)
		if s.Options != nil {
			f.WriteString(" ")
			f.with(s.Options)
		}
		f.WriteString(" AS\n")
		if s.Insert != nil {
			f.insert(s.Insert)
		}
	case *Drop:
		f.WriteString("DROP " + string(s.Kind))
		if s.IfExists {
			f.WriteString(" IF EXISTS")
		}
		f.WriteString(" " + quoteIdent(s.Name.Name))
	case *StartPipeline:
		f.WriteString("START PIPELINE " + quoteIdent(s.Name.Name))
	case *StopPipeline:
		f.WriteString("STOP PIPELINE " + quoteIdent(s.Name.Name))
	case *Show:
		f.WriteString("SHOW " + string(s.Kind) + "S")
	case *Describe:
		f.WriteString("DESCRIBE " + quoteIdent(s.Name.Name))
	case *Explain:
		f.WriteString("EXPLAIN ")
		f.stmt(s.Target)
	case *SelectStmt:
		f.selectQuery(s.Select)
	default:
		fmt.Fprintf(f, "/* unknown statement %T */", s)
	}
}

func (f *formatter) createHead(kind string, orReplace, ifNotExists bool, name Ident) {
	f.WriteString("CREATE ")
	if orReplace {
		f.WriteString("OR REPLACE ")
	}
	f.WriteString(kind)
	if ifNotExists {
		f.WriteString(" IF NOT EXISTS")
	}
	f.WriteString(" " + quoteIdent(name.Name))
}

func (f *formatter) columns(cols []ColumnDef, wm *Watermark) {
	f.WriteString(" (\n")
	for i, c := range cols {
		f.WriteString("    " + quoteIdent(c.Name.Name) + " " + FormatType(c.Type))
		if c.NotNull {
			f.WriteString(" NOT NULL")
		}
		if c.Path != "" {
			f.WriteString(" PATH " + quoteString(c.Path))
		}
		if i < len(cols)-1 || wm != nil {
			f.WriteString(",")
		}
		f.WriteString("\n")
	}
	if wm != nil {
		f.WriteString("    WATERMARK FOR " + quoteIdent(wm.Column.Name) + " AS " + quoteIdent(wm.Column.Name))
		if wm.Delay != nil {
			f.WriteString(" - " + formatInterval(*wm.Delay))
		}
		f.WriteString("\n")
	}
	f.WriteString(")")
}

// with writes WITH (…) on one line when it is short, one option a line
// otherwise.
func (f *formatter) with(opts []Option) {
	parts := make([]string, len(opts))
	n := 0
	for i, o := range opts {
		parts[i] = optionKey(o.Key.Name) + " = " + quoteString(o.Value)
		n += len(parts[i]) + 2
	}
	if n <= 72 {
		f.WriteString("WITH (" + strings.Join(parts, ", ") + ")")
		return
	}
	f.WriteString("WITH (\n    " + strings.Join(parts, ",\n    ") + "\n)")
}

// optionKey writes a key bare when the statement parser reads it back as
// words joined by dots; reserved words are fine there.
func optionKey(k string) string {
	for _, part := range strings.Split(k, ".") {
		if !isPlainWord(part) {
			return quoteString(k)
		}
	}
	return k
}

func (f *formatter) insert(ins *Insert) {
	f.WriteString("INSERT INTO " + quoteIdent(ins.Sink.Name))
	if len(ins.Columns) > 0 {
		f.WriteString(" (")
		for i, c := range ins.Columns {
			if i > 0 {
				f.WriteString(", ")
			}
			f.WriteString(quoteIdent(c.Name))
		}
		f.WriteString(")")
	}
	f.WriteString("\n")
	if ins.Query != nil {
		f.selectQuery(ins.Query)
	}
}

func (f *formatter) selectQuery(s *Select) {
	f.WriteString("SELECT ")
	for i, it := range s.Items {
		if i > 0 {
			f.WriteString(", ")
		}
		switch {
		case it.Star && it.StarQualifier != "":
			f.WriteString(quoteIdent(it.StarQualifier) + ".*")
		case it.Star:
			f.WriteString("*")
		default:
			f.expr(it.Expr)
		}
		if it.Alias != nil {
			f.WriteString(" AS " + quoteIdent(it.Alias.Name))
		}
	}
	f.WriteString("\nFROM ")
	f.tableRef(s.From)
	if j := s.Join; j != nil {
		f.WriteString("\n")
		if j.Kind == JoinLeft {
			f.WriteString("LEFT ")
		}
		f.WriteString("JOIN ")
		f.tableRef(j.Right)
		if j.On != nil {
			f.WriteString(" ON ")
			f.expr(j.On)
		}
		if j.Within != nil {
			f.WriteString(" WITHIN " + formatInterval(*j.Within))
		}
	}
	if s.Where != nil {
		f.WriteString("\nWHERE ")
		f.expr(s.Where)
	}
	if len(s.GroupBy) > 0 {
		f.WriteString("\nGROUP BY ")
		f.exprList(s.GroupBy)
	}
	if s.Having != nil {
		f.WriteString("\nHAVING ")
		f.expr(s.Having)
	}
	for _, d := range s.Dedups {
		f.WriteString("\nDEDUPLICATE BY ")
		f.exprList(d.Keys)
		if d.Within != nil {
			f.WriteString(" WITHIN " + formatInterval(*d.Within))
		}
	}
	if s.Limit != nil {
		f.WriteString("\nLIMIT " + strconv.FormatInt(s.Limit.N, 10))
	}
}

func (f *formatter) tableRef(t TableRef) {
	f.WriteString(quoteIdent(t.Name.Name))
	if t.Alias != nil {
		f.WriteString(" AS " + quoteIdent(t.Alias.Name))
	}
}

func (f *formatter) exprList(es []Expr) {
	for i, e := range es {
		if i > 0 {
			f.WriteString(", ")
		}
		f.expr(e)
	}
}

// FormatExpr returns the canonical text of an expression.
func FormatExpr(e Expr) string {
	var f formatter
	f.expr(e)
	return f.String()
}

func (f *formatter) expr(e Expr) { WriteExpr(f, e, nil) }

// ExprStyle says how WriteExpr spells the parts of an expression that
// differ between its uses: the canonical script (quoted names, types as
// written) and the planner's texts for EXPLAIN and output column names
// (names as written, canonical type names, texts remembered per node). A
// nil field keeps the canonical spelling.
type ExprStyle struct {
	Ident   func(string) string   // a column name or qualifier
	Func    func(string) string   // a function name
	Type    func(TypeName) string // a CAST's type
	Sub     func(Expr) string     // a subexpression's whole text
	Missing string                // a nil subexpression; "" writes NULL
}

// WriteExpr writes the text of e to w: the one printer of expressions,
// used by Format and by the planner. With st nil it writes the canonical
// text.
func WriteExpr(w io.StringWriter, e Expr, st *ExprStyle) {
	if st == nil {
		st = &ExprStyle{}
	}
	ident := st.Ident
	if ident == nil {
		ident = quoteIdent
	}
	child := func(x Expr) {
		switch {
		case x == nil && st.Missing != "":
			w.WriteString(st.Missing)
		case st.Sub != nil && x != nil:
			w.WriteString(st.Sub(x))
		default:
			WriteExpr(w, x, st)
		}
	}
	list := func(l []Expr) {
		for i, x := range l {
			if i > 0 {
				w.WriteString(", ")
			}
			child(x)
		}
	}
	not := func(not bool) {
		if not {
			w.WriteString(" NOT")
		}
	}
	switch e := e.(type) {
	case *ColumnRef:
		if e.Qualifier != "" {
			w.WriteString(ident(e.Qualifier))
			w.WriteString(".")
		}
		w.WriteString(ident(e.Name))
	case *Literal:
		switch e.Kind {
		case LitNull:
			w.WriteString("NULL")
		case LitString:
			w.WriteString(quoteString(e.Raw))
		case LitBool:
			w.WriteString(strings.ToUpper(e.Raw))
		default:
			w.WriteString(e.Raw)
		}
	case *IntervalLit:
		w.WriteString(formatInterval(e.Interval))
	case *Unary:
		if e.Op == "NOT" {
			w.WriteString("NOT ")
			child(e.X)
			return
		}
		w.WriteString(e.Op)
		// "- -x", never "--x", which starts a comment.
		var x strings.Builder
		if e.X == nil && st.Missing != "" {
			x.WriteString(st.Missing)
		} else if st.Sub != nil && e.X != nil {
			x.WriteString(st.Sub(e.X))
		} else {
			WriteExpr(&x, e.X, st)
		}
		if strings.HasPrefix(x.String(), "-") {
			w.WriteString(" ")
		}
		w.WriteString(x.String())
	case *Binary:
		child(e.L)
		w.WriteString(" ")
		w.WriteString(strings.ToUpper(e.Op))
		w.WriteString(" ")
		child(e.R)
	case *IsNull:
		child(e.X)
		if e.Not {
			w.WriteString(" IS NOT NULL")
		} else {
			w.WriteString(" IS NULL")
		}
	case *In:
		child(e.X)
		not(e.Not)
		w.WriteString(" IN (")
		list(e.List)
		w.WriteString(")")
	case *Between:
		child(e.X)
		not(e.Not)
		w.WriteString(" BETWEEN ")
		child(e.Lo)
		w.WriteString(" AND ")
		child(e.Hi)
	case *Like:
		child(e.X)
		not(e.Not)
		w.WriteString(" LIKE ")
		child(e.Pattern)
	case *Case:
		w.WriteString("CASE")
		if e.Operand != nil {
			w.WriteString(" ")
			child(e.Operand)
		}
		for _, wh := range e.Whens {
			w.WriteString(" WHEN ")
			child(wh.Cond)
			w.WriteString(" THEN ")
			child(wh.Result)
		}
		if e.Else != nil {
			w.WriteString(" ELSE ")
			child(e.Else)
		}
		w.WriteString(" END")
	case *Cast:
		w.WriteString("CAST(")
		child(e.X)
		w.WriteString(" AS ")
		if st.Type != nil {
			w.WriteString(st.Type(e.Type))
		} else {
			w.WriteString(FormatType(e.Type))
		}
		w.WriteString(")")
	case *Call:
		if st.Func != nil {
			w.WriteString(st.Func(e.Name))
		} else {
			w.WriteString(e.Name)
		}
		w.WriteString("(")
		switch {
		case e.Star:
			w.WriteString("*")
		default:
			if e.Distinct {
				w.WriteString("DISTINCT ")
			}
			list(e.Args)
		}
		w.WriteString(")")
	case *Paren:
		w.WriteString("(")
		child(e.X)
		w.WriteString(")")
	case nil:
		if st.Missing != "" {
			w.WriteString(st.Missing)
		} else {
			w.WriteString("NULL")
		}
	default:
		w.WriteString(fmt.Sprintf("/* unknown expression %T */", e))
	}
}

// FormatType returns a type's canonical spelling: DateTime64(3), Decimal(10, 2).
func FormatType(t TypeName) string {
	if len(t.Args) == 0 {
		return t.Name
	}
	var b strings.Builder
	b.WriteString(t.Name + "(")
	for i, a := range t.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(a))
	}
	b.WriteString(")")
	return b.String()
}

func formatInterval(iv Interval) string {
	return "INTERVAL " + strconv.FormatInt(iv.Value, 10) + " " + iv.Unit
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent backquotes a name unless it is a plain word that is no
// reserved word of TiDB's or of Sluice's SELECT.
func quoteIdent(name string) string {
	if isPlainWord(name) && !isReserved(name) {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func isPlainWord(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9')) {
			return false
		}
	}
	return name != ""
}

var (
	reservedOnce sync.Once
	reserved     map[string]bool
)

// isReserved reports whether word cannot stand as a bare name: TiDB's
// reserved words, and the words the SELECT scanner takes as clauses.
func isReserved(word string) bool {
	reservedOnce.Do(func() {
		reserved = map[string]bool{"DEDUPLICATE": true, "WITHIN": true}
		for _, k := range tidb.Keywords {
			if k.Reserved {
				reserved[k.Word] = true
			}
		}
	})
	return reserved[strings.ToUpper(word)]
}

// QuoteIdent writes a name as SQL: as it is when it is a plain word, else
// quoted.
func QuoteIdent(name string) string { return quoteIdent(name) }

// QuoteString writes s as a SQL string literal: 'it”s'.
func QuoteString(s string) string { return quoteString(s) }
