package sql

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Choices made where SQL.md is silent, as users of Flink SQL, ClickHouse
// or RisingWave would expect them:
//
//   - Strings are standard SQL: '' stands for a quote, a backslash is an
//     ordinary character. || concatenates.
//   - -- starts a comment wherever it stands; # does not.
//   - DateTime64 without a precision is DateTime64(3); TIMESTAMP(p) is
//     DateTime64(p); VARCHAR(n) and CHAR(n) take a length and ignore it;
//     FLOAT and REAL are Float32; Decimal(p) is Decimal(p, 0).
//   - INTERVAL '5 MINUTES' is accepted besides INTERVAL 5 MINUTE and
//     INTERVAL '5' MINUTE. A negative or zero interval parses; the planner
//     rejects it.
//   - Option keys may be dotted (fields.id.kind) or quoted strings; option
//     values must be strings.
//   - DESC is DESCRIBE; INNER JOIN and CROSS JOIN … ON are JOIN; LEFT OUTER
//     JOIN is LEFT JOIN.
//   - DEDUPLICATE BY clauses follow HAVING and precede LIMIT, as in SQL.md's
//     grammar; elsewhere they are an error that says where they go.

// Parse parses a script: statements separated by ';' (the last one may go
// without). It reports every error it can find: an error in one statement
// does not stop the parsing of the next. The returned script holds the
// statements that parsed without error, in order; a script with any error
// must not be applied.
func Parse(src string) (*Script, ErrorList) {
	return ParseContext(context.Background(), src)
}

// ParseContext is Parse that stops before the next statement once ctx has
// ended, with an error there that gives ctx's cause; the statements
// before it are returned as with any other error.
func ParseContext(ctx context.Context, src string) (*Script, ErrorList) {
	p := &parser{src: src}
	p.toks = lex(src, make([]token, 0, len(src)/5+8), &p.errs, p.pos)
	// A statement with a lexical error is not parsed: its tokens are not
	// what the user meant, and the error already says why.
	lexErrs, lexErrAt := len(p.errs), 0
	script := &Script{Src: src}
	start := 0
	for i := 0; i <= len(p.toks) && lexErrs < MaxErrors; i++ {
		if i < len(p.toks) && p.toks[i].kind != tkSemi {
			continue
		}
		for lexErrAt < lexErrs && p.errs[lexErrAt].Pos.Offset < p.stmtStart(start) {
			lexErrAt++
		}
		if start < i && lexErrAt < lexErrs && p.errs[lexErrAt].Pos.Offset <= p.stmtEnd(i) {
			if id, ok := p.createdName(start, i); ok {
				script.Unparsed = append(script.Unparsed, id)
			}
			start = i + 1
			continue
		}
		if len(p.errs) >= MaxErrors {
			p.errs.TooMany(p.pos(p.stmtStart(start)))
			break
		}
		if ctx.Err() != nil && start < i {
			p.errs.Stopped(ctx, p.pos(p.toks[start].off))
			break
		}
		for lo := start; lo < i; {
			stmt, next := p.statement(lo, i)
			if stmt != nil {
				script.Stmts = append(script.Stmts, stmt)
			} else if id, ok := p.createdName(lo, next); ok {
				script.Unparsed = append(script.Unparsed, id)
			}
			lo = next
		}
		start = i + 1
	}
	p.release()
	p.errs.Sort()
	p.errs.SetEnds(src)
	return script, p.errs
}

// createdName returns the name a CREATE statement in toks[lo:hi] creates,
// read from its head alone: CREATE [OR REPLACE] SOURCE|SINK|PIPELINE [IF
// NOT EXISTS] name.
func (p *parser) createdName(lo, hi int) (Ident, bool) {
	kwAt := func(k int, want kw) bool { return k < hi && p.toks[k].kind == tkIdent && p.toks[k].kw == want }
	k := lo
	if !kwAt(k, kwCreate) {
		return Ident{}, false
	}
	k++
	if kwAt(k, kwOr) && kwAt(k+1, kwReplace) {
		k += 2
	}
	if !kwAt(k, kwSource) && !kwAt(k, kwSink) && !kwAt(k, kwPipeline) {
		return Ident{}, false
	}
	k++
	if kwAt(k, kwIf) && kwAt(k+1, kwNot) && kwAt(k+2, kwExists) {
		k += 3
	}
	if k >= hi {
		return Ident{}, false
	}
	switch t := p.toks[k]; t.kind {
	case tkIdent:
		return Ident{P: p.pos(t.off), Name: p.src[t.off:t.end]}, true
	case tkQIdent:
		return Ident{P: p.pos(t.off), Name: unquote(p.src[t.off:t.end])}, true
	}
	return Ident{}, false
}

// stmtStart and stmtEnd bound the text of the statement whose tokens
// start at toks[lo] and end before toks[hi]: from after the previous ';'
// to its own ';' or the end.
func (p *parser) stmtStart(lo int) int {
	if lo > 0 {
		return p.toks[lo-1].end
	}
	return 0
}

func (p *parser) stmtEnd(hi int) int {
	if hi < len(p.toks) {
		return p.toks[hi].off
	}
	return len(p.src)
}

// parser holds the state of one Parse call.
type parser struct {
	src   string
	toks  []token
	lines []int // byte offsets of line starts, built on first use
	// runeMarks are rune starts about every runeMarkEvery bytes (byte
	// offset, runes before it), built on first use, so that a column is
	// counted in a bounded number of bytes, however long the line.
	runeMarkByte, runeMarkRunes []int
	errs                        ErrorList

	tidb *tidbParser // borrowed from a pool on first SELECT
	buf  []byte      // the rewritten SELECT handed to TiDB
}

// pos converts a byte offset in the submitted script to a Pos.
func (p *parser) pos(off int) Pos {
	if p.lines == nil {
		p.lines = append(make([]int, 0, 16), 0)
		for i := 0; i < len(p.src); i++ {
			if p.src[i] == '\n' {
				p.lines = append(p.lines, i+1)
			}
		}
	}
	off = min(max(off, 0), len(p.src))
	line := sort.SearchInts(p.lines, off+1) - 1
	start := p.lines[line]
	if off-start <= runeMarkEvery {
		return Pos{Offset: off, Line: line + 1, Col: utf8.RuneCountInString(p.src[start:off]) + 1}
	}
	// A line start follows '\n', which is always a rune of its own, so
	// runes(off) - runes(start) counts exactly what RuneCountInString of
	// src[start:off] counts.
	return Pos{Offset: off, Line: line + 1, Col: p.runesBefore(off) - p.runesBefore(start) + 1}
}

const runeMarkEvery = 256

// runesBefore counts the runes of src[:off] as utf8.RuneCountInString does.
func (p *parser) runesBefore(off int) int {
	if p.runeMarkByte == nil {
		p.runeMarkByte, p.runeMarkRunes = []int{0}, []int{0}
		n, last := 0, 0
		for i := 0; i < len(p.src); {
			if i-last >= runeMarkEvery {
				p.runeMarkByte = append(p.runeMarkByte, i)
				p.runeMarkRunes = append(p.runeMarkRunes, n)
				last = i
			}
			_, w := utf8.DecodeRuneInString(p.src[i:])
			i += w
			n++
		}
	}
	m := sort.SearchInts(p.runeMarkByte, off+1) - 1
	return p.runeMarkRunes[m] + utf8.RuneCountInString(p.src[p.runeMarkByte[m]:off])
}

// bailout aborts the statement being parsed after a syntax error from which
// the statement parser cannot recover; the next statement starts afresh.
type bailout struct{}

// stmtParser parses one statement: the tokens toks[lo:hi].
type stmtParser struct {
	*parser
	i, lo, hi int
	failed    bool // some error was reported for this statement
}

func (p *stmtParser) errorAt(off int, hint, format string, args ...any) *Error {
	p.failed = true
	return p.errs.Add(p.pos(off), hint, format, args...)
}

// fail reports an error and abandons the statement.
func (p *stmtParser) fail(off int, hint, format string, args ...any) {
	p.errorAt(off, hint, format, args...)
	panic(bailout{})
}

// tok returns toks[i] inside the statement; before its start and after its
// end it returns an end-of-statement token, so look-behind needs no checks.
func (p *stmtParser) tok(i int) token {
	if i >= p.lo && i < p.hi {
		return p.toks[i]
	}
	if i < p.lo {
		return token{kind: tkEOF, off: p.toks[p.lo].off, end: p.toks[p.lo].off}
	}
	return token{kind: tkEOF, off: p.endOff(), end: p.endOff()}
}

func (p *stmtParser) peek() token { return p.tok(p.i) }

// endOff is where the statement's end is reported: its ';', or just after
// its last token when it ends the script (not on a trailing blank line).
func (p *stmtParser) endOff() int {
	if p.hi < len(p.toks) {
		return p.toks[p.hi].off
	}
	if p.hi > 0 {
		return p.toks[p.hi-1].end
	}
	return len(p.src)
}

func (p *stmtParser) text(t token) string { return p.src[t.off:t.end] }

// describe names a token for "expected X, found Y" messages.
func (p *stmtParser) describe(t token) string {
	s := p.text(t)
	if utf8.RuneCountInString(s) > 24 {
		s = string([]rune(s)[:20]) + "…"
	}
	switch t.kind {
	case tkEOF:
		return "end of statement"
	case tkString:
		return "string " + s
	}
	return strconv.Quote(s)
}

func (p *stmtParser) isKw(t token, k kw) bool { return t.kind == tkIdent && t.kw == k }

func (p *stmtParser) isPunct(t token, s string) bool {
	return t.kind == tkPunct && p.src[t.off:t.end] == s
}

// accept consumes the next token when it is keyword k.
func (p *stmtParser) accept(k kw) bool {
	if p.isKw(p.peek(), k) {
		p.i++
		return true
	}
	return false
}

func (p *stmtParser) acceptPunct(s string) bool {
	if p.isPunct(p.peek(), s) {
		p.i++
		return true
	}
	return false
}

func (p *stmtParser) expectKw(k kw, word, context string) token {
	t := p.peek()
	if !p.isKw(t, k) {
		p.fail(t.off, "", "expected %s %s, found %s", word, context, p.describe(t))
	}
	p.i++
	return t
}

func (p *stmtParser) expectPunct(s, context string) token {
	t := p.peek()
	if !p.isPunct(t, s) {
		p.fail(t.off, "", "expected %s %s, found %s", s, context, p.describe(t))
	}
	p.i++
	return t
}

// ident parses a name: a bare word or a quoted name.
func (p *stmtParser) ident(what string) Ident {
	t := p.peek()
	switch t.kind {
	case tkIdent:
		p.i++
		return Ident{P: p.pos(t.off), Name: p.text(t)}
	case tkQIdent:
		p.i++
		name := unquote(p.text(t))
		if name == "" {
			p.errorAt(t.off, "", "empty name")
		}
		return Ident{P: p.pos(t.off), Name: name}
	}
	p.fail(t.off, "", "expected %s, found %s", what, p.describe(t))
	return Ident{}
}

// objectName parses the name of a source, sink or pipeline; qualified names
// do not exist in Sluice's catalog.
func (p *stmtParser) objectName(what string) Ident {
	id := p.ident(what)
	if t := p.peek(); p.isPunct(t, ".") {
		p.fail(t.off, "the catalog has one namespace: drop the qualifier", "unexpected . after %s %s", what, strconv.Quote(id.Name))
	}
	return id
}

const statementStarts = "CREATE, DROP, START, STOP, SHOW, DESCRIBE, EXPLAIN or SELECT"

// startsStatement reports whether toks[i] begins a new statement, to tell a
// missing ';' from other trailing garbage.
func (p *stmtParser) startsStatement(i int) bool {
	t := p.tok(i)
	if t.kind != tkIdent {
		return false
	}
	next := p.tok(i + 1)
	switch t.kw {
	case kwCreate, kwDrop, kwShow, kwDescribe, kwExplain, kwSelect:
		return true
	case kwStart, kwStop:
		return p.isKw(next, kwPipeline)
	}
	return false
}

// statement parses toks[lo:hi] (hi is a ';' or the end) and returns the
// statement, or nil after an error, and where the next statement starts: hi,
// or earlier when a ';' is missing.
func (p *parser) statement(lo, hi int) (stmt Stmt, next int) {
	sp := &stmtParser{parser: p, i: lo, lo: lo, hi: hi}
	next = hi
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			stmt = nil
		}
		if sp.failed {
			stmt = nil
		}
	}()
	stmt = sp.stmt()
	if sp.i < hi {
		t := sp.peek()
		if sp.startsStatement(sp.i) {
			sp.errorAt(t.off, "statements are separated by ;", "missing ; before %s", strings.ToUpper(sp.text(t)))
			next = sp.i
		} else {
			sp.errorAt(t.off, "", "unexpected %s after the end of the statement", sp.describe(t))
		}
	}
	if stmt != nil {
		sp.setBase(stmt, lo, sp.i)
	}
	return stmt, next
}

func (p *stmtParser) setBase(stmt Stmt, lo, end int) {
	b := stmtBase(stmt)
	first, last := p.toks[lo], p.toks[end-1]
	b.P = p.pos(first.off)
	b.SrcText = p.src[first.off:last.end]
}

func stmtBase(s Stmt) *StmtBase {
	switch s := s.(type) {
	case *CreateSource:
		return &s.StmtBase
	case *CreateSink:
		return &s.StmtBase
	case *CreatePipeline:
		return &s.StmtBase
	case *Drop:
		return &s.StmtBase
	case *StartPipeline:
		return &s.StmtBase
	case *StopPipeline:
		return &s.StmtBase
	case *Show:
		return &s.StmtBase
	case *Describe:
		return &s.StmtBase
	case *Explain:
		return &s.StmtBase
	case *SelectStmt:
		return &s.StmtBase
	}
	panic(fmt.Sprintf("sql: unknown statement %T", s))
}

func (p *stmtParser) stmt() Stmt {
	t := p.peek()
	if t.kind == tkIdent {
		switch t.kw {
		case kwCreate:
			return p.create()
		case kwDrop:
			return p.drop()
		case kwStart, kwStop:
			p.i++
			p.expectKw(kwPipeline, "PIPELINE", "after "+strings.ToUpper(p.text(t)))
			name := p.objectName("a pipeline name")
			if t.kw == kwStart {
				return &StartPipeline{Name: name}
			}
			return &StopPipeline{Name: name}
		case kwShow:
			return p.show()
		case kwDescribe, kwDesc:
			p.i++
			return &Describe{Name: p.objectName("a source, sink or pipeline name after DESCRIBE")}
		case kwExplain:
			return p.explain()
		case kwSelect:
			return &SelectStmt{Select: p.selectQuery()}
		case kwInsert:
			p.fail(t.off, "write CREATE PIPELINE name AS INSERT INTO …", "INSERT runs only inside CREATE PIPELINE")
		}
	}
	hint, fix := "", ""
	if t.kind == tkIdent {
		if s := Suggest(p.text(t), []string{"CREATE", "DROP", "START", "STOP", "SHOW", "DESCRIBE", "EXPLAIN", "SELECT"}); len(s) > 0 {
			hint, fix = "did you mean "+s[0]+"?", s[0]
		}
	}
	if fix != "" {
		p.errorAt(t.off, hint, "unknown statement %s; statements start with %s", p.describe(t), statementStarts).Replace(fix, "Replace with "+fix)
		panic(bailout{})
	}
	p.fail(t.off, hint, "unknown statement %s; statements start with %s", p.describe(t), statementStarts)
	return nil
}

func (p *stmtParser) objectKind(context string) ObjectKind {
	t := p.peek()
	switch {
	case p.isKw(t, kwSource):
		p.i++
		return ObjSource
	case p.isKw(t, kwSink):
		p.i++
		return ObjSink
	case p.isKw(t, kwPipeline):
		p.i++
		return ObjPipeline
	}
	p.fail(t.off, "", "expected SOURCE, SINK or PIPELINE after %s, found %s", context, p.describe(t))
	return ""
}

func (p *stmtParser) create() Stmt {
	p.i++ // CREATE
	orReplace := false
	if p.accept(kwOr) {
		p.expectKw(kwReplace, "REPLACE", "after CREATE OR")
		orReplace = true
	}
	kind := p.objectKind("CREATE")
	ifNotExists := false
	if p.accept(kwIf) {
		p.expectKw(kwNot, "NOT", "after IF")
		p.expectKw(kwExists, "EXISTS", "after IF NOT")
		ifNotExists = true
	}
	switch kind {
	case ObjSource:
		s := &CreateSource{OrReplace: orReplace, IfNotExists: ifNotExists}
		s.Name = p.objectName("a source name")
		t := p.peek()
		if !p.isPunct(t, "(") {
			p.fail(t.off, "a source declares its columns: CREATE SOURCE name (column type, ...) WITH (...)", "expected ( and the column list after the source name, found %s", p.describe(t))
		}
		s.Columns, s.Watermark = p.columns(true)
		s.Options = p.with(true, "after the column list")
		return s
	case ObjSink:
		s := &CreateSink{OrReplace: orReplace, IfNotExists: ifNotExists}
		s.Name = p.objectName("a sink name")
		if p.isPunct(p.peek(), "(") {
			s.Columns, _ = p.columns(false)
		}
		s.Options = p.with(true, "after the sink name")
		return s
	default:
		s := &CreatePipeline{OrReplace: orReplace, IfNotExists: ifNotExists}
		s.Name = p.objectName("a pipeline name")
		if p.isKw(p.peek(), kwWith) {
			s.Options = p.with(false, "")
		}
		t := p.peek()
		if !p.isKw(t, kwAs) {
			p.fail(t.off, "CREATE PIPELINE name [WITH (...)] AS INSERT INTO sink SELECT …", "expected AS after the pipeline name, found %s", p.describe(t))
		}
		p.i++
		s.Insert = p.insert()
		return s
	}
}

func (p *stmtParser) insert() *Insert {
	t := p.expectKw(kwInsert, "INSERT INTO", "after AS")
	ins := &Insert{P: p.pos(t.off)}
	p.expectKw(kwInto, "INTO", "after INSERT")
	ins.Sink = p.objectName("a sink name after INSERT INTO")
	if p.acceptPunct("(") {
		for {
			ins.Columns = append(ins.Columns, p.ident("a column name"))
			if p.acceptPunct(")") {
				break
			}
			p.expectPunct(",", "or ) in the INSERT column list")
		}
	}
	t = p.peek()
	if !p.isKw(t, kwSelect) {
		p.fail(t.off, "", "expected SELECT after INSERT INTO %s, found %s", ins.Sink.Name, p.describe(t))
	}
	ins.Query = p.selectQuery()
	return ins
}

func (p *stmtParser) drop() Stmt {
	p.i++
	d := &Drop{Kind: p.objectKind("DROP")}
	if p.accept(kwIf) {
		p.expectKw(kwExists, "EXISTS", "after IF")
		d.IfExists = true
	}
	d.Name = p.objectName("a name")
	return d
}

func (p *stmtParser) show() Stmt {
	p.i++
	t := p.peek()
	switch {
	case p.isKw(t, kwSources):
		p.i++
		return &Show{Kind: ObjSource}
	case p.isKw(t, kwSinks):
		p.i++
		return &Show{Kind: ObjSink}
	case p.isKw(t, kwPipelines):
		p.i++
		return &Show{Kind: ObjPipeline}
	}
	switch {
	case p.isKw(t, kwSource), p.isKw(t, kwSink), p.isKw(t, kwPipeline):
		plural := strings.ToUpper(p.text(t)) + "S"
		p.errorAt(t.off, "did you mean "+plural+"?", "expected SOURCES, SINKS or PIPELINES after SHOW, found %s", p.describe(t)).Replace(plural, "Replace with "+plural)
		panic(bailout{})
	}
	hint := ""
	p.fail(t.off, hint, "expected SOURCES, SINKS or PIPELINES after SHOW, found %s", p.describe(t))
	return nil
}

func (p *stmtParser) explain() Stmt {
	p.i++
	t := p.peek()
	e := &Explain{}
	switch {
	case p.isKw(t, kwSelect):
		start := p.i
		s := &SelectStmt{Select: p.selectQuery()}
		p.setBase(s, start, p.i)
		e.Target = s
		return e
	case p.isKw(t, kwCreate):
		start := p.i
		c := p.create()
		cp, ok := c.(*CreatePipeline)
		if !ok {
			p.fail(t.off, "", "EXPLAIN takes CREATE PIPELINE … or SELECT …")
		}
		p.setBase(cp, start, p.i)
		e.Target = cp
		return e
	}
	p.fail(t.off, "", "expected CREATE PIPELINE or SELECT after EXPLAIN, found %s", p.describe(t))
	return nil
}

// columns parses ( column type [NOT NULL] [PATH '…'], … [, WATERMARK …] ).
func (p *stmtParser) columns(source bool) ([]ColumnDef, *Watermark) {
	p.expectPunct("(", "before the column list")
	var cols []ColumnDef
	var wm *Watermark
	for {
		t := p.peek()
		if p.isKw(t, kwWatermark) && p.isKw(p.tok(p.i+1), kwFor) {
			w := p.watermark()
			switch {
			case !source:
				p.errorAt(t.off, "", "WATERMARK belongs in CREATE SOURCE, not in a sink")
			case wm != nil:
				p.errorAt(t.off, "", "a source has one WATERMARK")
			}
			wm = w
		} else {
			cols = append(cols, p.column())
		}
		if p.acceptPunct(")") {
			return cols, wm
		}
		t = p.peek()
		if !p.isPunct(t, ",") {
			p.fail(t.off, "", "expected , or ) after the column definition, found %s", p.describe(t))
		}
		p.i++
	}
}

func (p *stmtParser) column() ColumnDef {
	c := ColumnDef{Name: p.ident("a column name or WATERMARK FOR")}
	t := p.peek()
	if t.kind != tkIdent {
		p.fail(t.off, "", "expected a type after column %s, found %s", strconv.Quote(c.Name.Name), p.describe(t))
	}
	c.Type = p.typeName()
	for {
		t := p.peek()
		switch {
		case p.isKw(t, kwNot):
			p.i++
			p.expectKw(kwNull, "NULL", "after NOT")
			c.NotNull = true
		case p.isKw(t, kwNull):
			p.i++ // nullable is the default
		case p.isKw(t, kwPath):
			p.i++
			s := p.peek()
			if s.kind != tkString {
				p.fail(s.off, "write PATH '$.a.b'", "expected a string after PATH, found %s", p.describe(s))
			}
			p.i++
			c.Path = unquote(p.text(s))
			c.PathPos = p.pos(s.off)
		default:
			return c
		}
	}
}

// watermark parses WATERMARK FOR c AS c [- INTERVAL n unit].
func (p *stmtParser) watermark() *Watermark {
	t := p.peek()
	p.i += 2 // WATERMARK FOR
	w := &Watermark{P: p.pos(t.off), Column: p.ident("the time column after WATERMARK FOR")}
	p.expectKw(kwAs, "AS", "after WATERMARK FOR "+w.Column.Name)
	shape := fmt.Sprintf("write WATERMARK FOR %s AS %s - INTERVAL 5 SECOND", w.Column.Name, w.Column.Name)
	again := p.peek()
	col := p.ident("the time column after AS")
	if col.Name != w.Column.Name {
		p.errorAt(again.off, shape, "the watermark expression must use the column %s itself", strconv.Quote(w.Column.Name))
	}
	if t := p.peek(); p.isPunct(t, "-") {
		p.i++
		it := p.peek()
		if !p.isKw(it, kwInterval) {
			p.fail(it.off, shape, "expected INTERVAL after %s -, found %s", col.Name, p.describe(it))
		}
		iv, next := p.interval(p.i, p.hi)
		p.i = next
		w.Delay = &iv
	} else if t.kind != tkEOF && !p.isPunct(t, ",") && !p.isPunct(t, ")") {
		p.fail(t.off, shape, "expected - INTERVAL after WATERMARK FOR %s AS %s, found %s", w.Column.Name, col.Name, p.describe(t))
	}
	return w
}

// with parses WITH (key = 'value', …).
func (p *stmtParser) with(required bool, context string) []Option {
	t := p.peek()
	if !p.isKw(t, kwWith) {
		if required {
			p.fail(t.off, "options say where the data is, e.g. WITH (connector = 'kafka', topic = 'orders')", "expected WITH (…) %s, found %s", context, p.describe(t))
		}
		return nil
	}
	p.i++
	p.expectPunct("(", "after WITH")
	var opts []Option
	if p.acceptPunct(")") {
		return opts
	}
	for {
		o := Option{Key: p.optionKey()}
		p.expectPunct("=", "after option "+o.Key.Name)
		v := p.peek()
		switch {
		case v.kind == tkString:
			p.i++
			o.Value = unquote(p.text(v))
			o.ValuePos = p.pos(v.off)
		case v.kind == tkNumber || p.isKw(v, kwTrue) || p.isKw(v, kwFalse):
			p.i++
			p.errorAt(v.off, fmt.Sprintf("write %s = '%s'", o.Key.Name, strings.ToLower(p.text(v))), "option values are strings")
		default:
			p.fail(v.off, "", "expected a string value for option %s, found %s", o.Key.Name, p.describe(v))
		}
		for _, prev := range opts {
			if strings.EqualFold(prev.Key.Name, o.Key.Name) {
				p.errorAt(o.Key.P.Offset, "", "option %s is given twice", o.Key.Name)
			}
		}
		opts = append(opts, o)
		if p.acceptPunct(")") {
			return opts
		}
		t := p.peek()
		if !p.isPunct(t, ",") {
			p.fail(t.off, "", "expected , or ) after option %s, found %s", o.Key.Name, p.describe(t))
		}
		p.i++
	}
}

// optionKey parses key, a.b.c or 'a.b.c' (per-column generator options
// have dotted names).
func (p *stmtParser) optionKey() Ident {
	t := p.peek()
	if t.kind == tkString {
		p.i++
		return Ident{P: p.pos(t.off), Name: unquote(p.text(t))}
	}
	id := p.ident("an option name")
	for p.isPunct(p.peek(), ".") && p.i+1 < p.hi && (p.tok(p.i+1).kind == tkIdent || p.tok(p.i+1).kind == tkQIdent) {
		p.i++
		part := p.ident("an option name")
		id.Name += "." + part.Name
	}
	return id
}
