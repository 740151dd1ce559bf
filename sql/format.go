package sql

import (
	"fmt"
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

func (f *formatter) expr(e Expr) {
	switch e := e.(type) {
	case *ColumnRef:
		if e.Qualifier != "" {
			f.WriteString(quoteIdent(e.Qualifier) + ".")
		}
		f.WriteString(quoteIdent(e.Name))
	case *Literal:
		switch e.Kind {
		case LitNull:
			f.WriteString("NULL")
		case LitString:
			f.WriteString(quoteString(e.Raw))
		default:
			f.WriteString(e.Raw)
		}
	case *IntervalLit:
		f.WriteString(formatInterval(e.Interval))
	case *Unary:
		if e.Op == "NOT" {
			f.WriteString("NOT ")
			f.expr(e.X)
			return
		}
		f.WriteString(e.Op)
		// "- -x", never "--x", which starts a comment.
		if x := FormatExpr(e.X); strings.HasPrefix(x, "-") {
			f.WriteString(" " + x)
		} else {
			f.WriteString(x)
		}
	case *Binary:
		f.expr(e.L)
		f.WriteString(" " + e.Op + " ")
		f.expr(e.R)
	case *IsNull:
		f.expr(e.X)
		if e.Not {
			f.WriteString(" IS NOT NULL")
		} else {
			f.WriteString(" IS NULL")
		}
	case *In:
		f.expr(e.X)
		f.not(e.Not)
		f.WriteString(" IN (")
		f.exprList(e.List)
		f.WriteString(")")
	case *Between:
		f.expr(e.X)
		f.not(e.Not)
		f.WriteString(" BETWEEN ")
		f.expr(e.Lo)
		f.WriteString(" AND ")
		f.expr(e.Hi)
	case *Like:
		f.expr(e.X)
		f.not(e.Not)
		f.WriteString(" LIKE ")
		f.expr(e.Pattern)
	case *Case:
		f.WriteString("CASE")
		if e.Operand != nil {
			f.WriteString(" ")
			f.expr(e.Operand)
		}
		for _, w := range e.Whens {
			f.WriteString(" WHEN ")
			f.expr(w.Cond)
			f.WriteString(" THEN ")
			f.expr(w.Result)
		}
		if e.Else != nil {
			f.WriteString(" ELSE ")
			f.expr(e.Else)
		}
		f.WriteString(" END")
	case *Cast:
		f.WriteString("CAST(")
		f.expr(e.X)
		f.WriteString(" AS " + FormatType(e.Type) + ")")
	case *Call:
		f.WriteString(e.Name + "(")
		switch {
		case e.Star:
			f.WriteString("*")
		default:
			if e.Distinct {
				f.WriteString("DISTINCT ")
			}
			f.exprList(e.Args)
		}
		f.WriteString(")")
	case *Paren:
		f.WriteString("(")
		f.expr(e.X)
		f.WriteString(")")
	case nil:
		f.WriteString("NULL")
	default:
		fmt.Fprintf(f, "/* unknown expression %T */", e)
	}
}

func (f *formatter) not(not bool) {
	if not {
		f.WriteString(" NOT")
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
