// Package sql parses Sluice SQL scripts into an AST with exact positions in
// the submitted text, and reports errors rendered with the source line and a
// caret. SELECT bodies and expressions are parsed by the TiDB parser; the
// Sluice clauses (DEDUPLICATE BY, JOIN … WITHIN, TUMBLE/HOP, the CREATE
// envelopes) are scanned here. No I/O.
package sql

import (
	"strings"
	"time"
)

// Pos is a place in the submitted text. Line and Col count from 1; Col
// counts characters (runes), not bytes. Offset is the byte offset.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// Node is anything with a position.
type Node interface {
	Pos() Pos
}

// Script is a parsed script: its statements in order.
type Script struct {
	Src   string
	Stmts []Stmt
	// Unparsed names the objects of CREATE statements that did not parse
	// (their errors say why): checking the statements that did parse then
	// does not also report each use of these names as unknown.
	Unparsed []Ident
}

// Stmt is a statement.
type Stmt interface {
	Node
	// Text returns the statement's source text, without the ';'.
	Text() string
	stmt()
}

// StmtBase carries what every statement has.
type StmtBase struct {
	P       Pos
	SrcText string
}

// Pos returns where the statement starts.
func (s *StmtBase) Pos() Pos { return s.P }

// Text returns the statement's text as submitted.
func (s *StmtBase) Text() string { return s.SrcText }
func (*StmtBase) stmt()          {}

// Ident is a (possibly quoted) name and where it stands.
type Ident struct {
	P    Pos
	Name string // unquoted
}

// Pos returns where the name starts.
func (i Ident) Pos() Pos { return i.P }

// ObjectKind is SOURCE, SINK or PIPELINE.
type ObjectKind string

// The object kinds.
const (
	ObjSource   ObjectKind = "SOURCE"
	ObjSink     ObjectKind = "SINK"
	ObjPipeline ObjectKind = "PIPELINE"
)

// TypeName is a column type as written, resolved to its canonical name.
type TypeName struct {
	P    Pos
	Name string // canonical: String, Int64, DateTime64, Decimal, ...
	Args []int  // DateTime64(3) → [3]; Decimal(10, 2) → [10 2]
	// Written is the spelling the user wrote (VARCHAR, TIMESTAMP, ...).
	Written string
}

// ColumnDef is one column of CREATE SOURCE or CREATE SINK.
type ColumnDef struct {
	Name    Ident
	Type    TypeName
	NotNull bool
	Path    string // PATH '$.a.b' as written, "" when absent
	PathPos Pos
}

// Option is one key = 'value' of a WITH list.
type Option struct {
	Key      Ident
	Value    string
	ValuePos Pos
}

// Interval is INTERVAL n unit (or INTERVAL 'n' unit).
type Interval struct {
	P     Pos
	Value int64  // n; may be zero or negative, which the planner rejects
	Unit  string // SECOND, MINUTE, HOUR or DAY (normalised to singular)
}

// Duration returns the interval as a duration (0 for an unknown unit).
func (iv Interval) Duration() time.Duration {
	u, _ := UnitDuration(iv.Unit)
	return time.Duration(iv.Value) * u
}

// UnitDuration returns the length of one interval unit: SECOND, MINUTE,
// HOUR or DAY (in any case); false for anything else.
func UnitDuration(unit string) (time.Duration, bool) {
	switch strings.ToUpper(unit) {
	case "SECOND":
		return time.Second, true
	case "MINUTE":
		return time.Minute, true
	case "HOUR":
		return time.Hour, true
	case "DAY":
		return 24 * time.Hour, true
	}
	return 0, false
}

// Watermark is WATERMARK FOR col AS col - INTERVAL n unit.
type Watermark struct {
	P      Pos
	Column Ident
	// Delay is nil for WATERMARK FOR c AS c.
	Delay *Interval
}

// CreateSource is CREATE [OR REPLACE] SOURCE [IF NOT EXISTS].
type CreateSource struct {
	StmtBase
	OrReplace, IfNotExists bool
	Name                   Ident
	Columns                []ColumnDef
	Watermark              *Watermark
	Options                []Option
}

// CreateSink is CREATE [OR REPLACE] SINK [IF NOT EXISTS].
type CreateSink struct {
	StmtBase
	OrReplace, IfNotExists bool
	Name                   Ident
	Columns                []ColumnDef
	Options                []Option
}

// CreatePipeline is CREATE [OR REPLACE] PIPELINE [IF NOT EXISTS] … AS INSERT.
type CreatePipeline struct {
	StmtBase
	OrReplace, IfNotExists bool
	Name                   Ident
	Options                []Option
	Insert                 *Insert
}

// Insert is INSERT INTO sink [(cols)] SELECT ….
type Insert struct {
	P       Pos
	Sink    Ident
	Columns []Ident
	Query   *Select
}

// Drop is DROP { SOURCE | SINK | PIPELINE } [IF EXISTS] name.
type Drop struct {
	StmtBase
	Kind     ObjectKind
	IfExists bool
	Name     Ident
}

// StartPipeline is START PIPELINE name.
type StartPipeline struct {
	StmtBase
	Name Ident
}

// StopPipeline is STOP PIPELINE name.
type StopPipeline struct {
	StmtBase
	Name Ident
}

// Show is SHOW { SOURCES | SINKS | PIPELINES }.
type Show struct {
	StmtBase
	Kind ObjectKind
}

// Describe is DESCRIBE name.
type Describe struct {
	StmtBase
	Name Ident
}

// Explain is EXPLAIN of a CREATE PIPELINE or a SELECT.
type Explain struct {
	StmtBase
	Target Stmt // *CreatePipeline or *SelectStmt
}

// SelectStmt is a preview SELECT.
type SelectStmt struct {
	StmtBase
	Select *Select
}

// TableRef is a source in FROM or JOIN.
type TableRef struct {
	Name  Ident
	Alias *Ident // nil without AS alias
}

// JoinKind is INNER or LEFT.
type JoinKind string

// The join kinds.
const (
	JoinInner JoinKind = "INNER"
	JoinLeft  JoinKind = "LEFT"
)

// Join is [INNER | LEFT] JOIN right ON cond WITHIN INTERVAL d.
type Join struct {
	P      Pos
	Kind   JoinKind
	Right  TableRef
	On     Expr
	Within *Interval // nil when WITHIN is missing (the planner rejects it)
}

// SelectItem is one expression of the select list, or * / q.*.
type SelectItem struct {
	Expr          Expr // nil for a star
	Alias         *Ident
	Star          bool
	StarQualifier string // q in q.*
	StarPos       Pos
}

// Dedup is DEDUPLICATE BY keys WITHIN INTERVAL d.
type Dedup struct {
	P      Pos
	Keys   []Expr
	Within *Interval // nil when WITHIN is missing
}

// Limit is LIMIT n.
type Limit struct {
	P Pos
	N int64
}

// Select is a SELECT with Sluice's clauses.
type Select struct {
	P       Pos
	Items   []SelectItem
	From    TableRef
	Join    *Join
	Where   Expr
	GroupBy []Expr // TUMBLE(…) and HOP(…) appear as *Call
	Having  Expr
	// HavingP is where the word HAVING stands.
	HavingP Pos
	Dedups  []Dedup
	Limit   *Limit
}

// Expr is an expression.
type Expr interface {
	Node
	expr()
}

// ColumnRef is a column name, possibly qualified: o.order_id.
type ColumnRef struct {
	P         Pos
	Qualifier string // "" when unqualified
	Name      string
}

// LitKind is the kind of a literal.
type LitKind uint8

// The literal kinds.
const (
	LitNull LitKind = iota
	LitBool
	LitInt
	LitFloat
	LitString
)

// Literal is a constant as written.
type Literal struct {
	P    Pos
	Kind LitKind
	// Raw is the literal's value: digits for numbers, the unquoted text for
	// strings, TRUE/FALSE, NULL.
	Raw string
}

// IntervalLit is an INTERVAL inside an expression (TUMBLE, HOP,
// toStartOfInterval, t - INTERVAL …).
type IntervalLit struct {
	Interval
}

// Unary is -x or NOT x.
type Unary struct {
	P  Pos
	Op string // "-" or "NOT"
	X  Expr
}

// Binary is a binary operator: + - * / % = <> < <= > >= AND OR.
type Binary struct {
	P     Pos // start of the left operand
	OpPos Pos // the operator
	Op    string
	L, R  Expr
}

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	P   Pos
	X   Expr
	Not bool
}

// In is x [NOT] IN (list).
type In struct {
	P    Pos
	X    Expr
	List []Expr
	Not  bool
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	P         Pos
	X, Lo, Hi Expr
	Not       bool
}

// Like is x [NOT] LIKE pattern.
type Like struct {
	P          Pos
	X, Pattern Expr
	Not        bool
}

// When is one WHEN cond THEN result of a CASE.
type When struct {
	Cond, Result Expr
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	P       Pos
	Operand Expr // nil for a searched CASE
	Whens   []When
	Else    Expr
}

// Cast is CAST(x AS type).
type Cast struct {
	P    Pos
	X    Expr
	Type TypeName
}

// Call is a function call, aggregate, TUMBLE or HOP.
type Call struct {
	P        Pos
	Name     string // upper case: COUNT, SUM, LOWER, TUMBLE, TOSTARTOFINTERVAL, ...
	Args     []Expr
	Star     bool // COUNT(*)
	Distinct bool // COUNT(DISTINCT x)
}

// Paren is (x), kept so that formatting round-trips.
type Paren struct {
	P Pos
	X Expr
}

func (e *ColumnRef) Pos() Pos   { return e.P }
func (e *Literal) Pos() Pos     { return e.P }
func (e *IntervalLit) Pos() Pos { return e.P }
func (e *Unary) Pos() Pos       { return e.P }
func (e *Binary) Pos() Pos      { return e.P }
func (e *IsNull) Pos() Pos      { return e.P }
func (e *In) Pos() Pos          { return e.P }
func (e *Between) Pos() Pos     { return e.P }
func (e *Like) Pos() Pos        { return e.P }
func (e *Case) Pos() Pos        { return e.P }
func (e *Cast) Pos() Pos        { return e.P }
func (e *Call) Pos() Pos        { return e.P }
func (e *Paren) Pos() Pos       { return e.P }

func (*ColumnRef) expr()   {}
func (*Literal) expr()     {}
func (*IntervalLit) expr() {}
func (*Unary) expr()       {}
func (*Binary) expr()      {}
func (*IsNull) expr()      {}
func (*In) expr()          {}
func (*Between) expr()     {}
func (*Like) expr()        {}
func (*Case) expr()        {}
func (*Cast) expr()        {}
func (*Call) expr()        {}
func (*Paren) expr()       {}

// Pos returns where the type name starts.
func (t TypeName) Pos() Pos { return t.P }

// Pos returns where INTERVAL starts.
func (iv Interval) Pos() Pos { return iv.P }

// Pos returns where the JOIN clause starts (LEFT, INNER or JOIN).
func (j *Join) Pos() Pos { return j.P }

// Pos returns where DEDUPLICATE starts.
func (d *Dedup) Pos() Pos { return d.P }

// Pos returns where LIMIT starts.
func (l *Limit) Pos() Pos { return l.P }

// Pos returns where INSERT starts.
func (i *Insert) Pos() Pos { return i.P }
