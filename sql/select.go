package sql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	tidb "github.com/pingcap/tidb/pkg/parser"
	tast "github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // TiDB's parser panics without a value driver
)

// The SELECT bridge. TiDB parses SELECT bodies and expressions but knows
// none of Sluice's clauses, so the scanner here finds them in the token
// stream, parses them itself and hands TiDB a copy of the statement in which
// they are overwritten by spaces (or by placeholders of at most the same
// length), so that every byte offset TiDB reports is an offset into the
// submitted script, shifted by where the SELECT starts:
//
//	JOIN … ON … WITHIN INTERVAL 1 HOUR    WITHIN … is blanked
//	DEDUPLICATE BY k WITHIN INTERVAL …    becomes ";SELECT    k" + blanks: a
//	                                      second TiDB statement whose select
//	                                      list is the keys
//	INTERVAL 5 MINUTE                     becomes the name _iv_ + blanks
//	CAST(x AS String)                     becomes _cs_(x + blanks + )
//	LIMIT 10                              is blanked
//
// Comments are blanked too: TiDB never sees text the scanner did not lex.

type tidbParser = tidb.Parser

const clauseOrder = "the clauses go in the order FROM, JOIN … ON … WITHIN …, WHERE, GROUP BY, HAVING, DEDUPLICATE BY, LIMIT"

// maxNumberLen is the longest numeric literal handed to TiDB, as long as
// the widest MySQL decimal.
const maxNumberLen = 65

const (
	intervalPlaceholder = "_iv_"
	castPlaceholder     = "_cs_" // as long as CAST
	dedupPlaceholder    = ";SELECT"
)

var tidbPool = sync.Pool{New: func() any {
	tp := tidb.New()
	// ANSI_QUOTES: "name" is a name, as SQL.md says. PIPES_AS_CONCAT: || is
	// concatenation, as in ClickHouse and Flink. NO_BACKSLASH_ESCAPES: a
	// backslash in a string is itself, which is what the scanner assumes.
	tp.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat | mysql.ModeNoBackslashEscapes)
	return tp
}}

func (p *parser) tidbParser() *tidbParser {
	if p.tidb == nil {
		p.tidb = tidbPool.Get().(*tidbParser)
	}
	return p.tidb
}

func (p *parser) release() {
	if p.tidb != nil {
		tidbPool.Put(p.tidb)
		p.tidb = nil
	}
}

// edit replaces the tokens [from, to) in the text handed to TiDB by repl
// (blanks when empty); repl is never longer than the tokens' span.
type edit struct {
	from, to int
	repl     string
}

type intervalAt struct {
	off int
	iv  Interval
}

type castAt struct {
	off int
	typ TypeName
}

// selectScan is the state of one SELECT being scanned and converted.
type selectScan struct {
	*stmtParser
	lo, end   int // the SELECT's tokens
	base      int // byte offset of the SELECT in the script
	edits     []edit
	intervals []intervalAt
	casts     []castAt
	skips     []edit // token ranges the main pass must not look into
	keyRanges []edit // the keys of each DEDUPLICATE BY

	// depth-0 clause keywords, -1 when absent
	from, join, join2, where, group, having, order, union int
	withins                                               []int
}

// clauseAfter returns the first depth-0 WHERE, GROUP, HAVING or ORDER after
// toks[i], or -1: where a JOIN's ON condition ends at the latest.
func (s *selectScan) clauseAfter(i int) int {
	best := -1
	for _, c := range []int{s.where, s.group, s.having, s.order} {
		if c > i && (best < 0 || c < best) {
			best = c
		}
	}
	return best
}

// selectQuery parses the SELECT at p.i; the statement's tokens run to p.hi.
func (p *stmtParser) selectQuery() *Select {
	s := &selectScan{stmtParser: p, lo: p.i, end: p.hi, from: -1, join: -1, join2: -1, where: -1, group: -1, having: -1, order: -1, union: -1}
	s.base = p.toks[s.lo].off
	dedup, limit := -1, -1
	depth := 0
	for i := s.lo; i < p.hi; i++ {
		t := p.toks[i]
		if t.kind == tkPunct {
			switch p.src[t.off] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			}
			continue
		}
		if depth != 0 || t.kind != tkIdent || t.kw == kwNone {
			continue
		}
		if i > s.lo && p.startsStatement(i) && !(t.kw == kwSelect && s.afterSetOperator(i)) {
			s.end = i
			break
		}
		first := func(at *int) {
			if *at < 0 {
				*at = i
			}
		}
		switch t.kw {
		case kwFrom:
			first(&s.from)
		case kwJoin, kwStraightJoin:
			if s.join >= 0 {
				first(&s.join2)
			}
			first(&s.join)
		case kwWhere:
			first(&s.where)
		case kwGroup:
			first(&s.group)
		case kwHaving:
			first(&s.having)
		case kwOrder:
			first(&s.order)
		case kwUnion:
			first(&s.union)
		case kwWithin:
			s.withins = append(s.withins, i)
		case kwDeduplicate:
			first(&dedup)
		case kwLimit:
			first(&limit)
		}
	}
	p.i = s.end
	sel := &Select{P: p.pos(s.base)}

	mainEnd := s.end
	if limit >= 0 {
		sel.Limit = s.limit(limit)
		mainEnd = limit
	}
	var dedupStmts int
	if dedup >= 0 && dedup < mainEnd {
		sel.Dedups = s.dedups(dedup, mainEnd)
		dedupStmts = len(sel.Dedups)
		mainEnd = dedup
	}
	var within *Interval
	s.scanMain(mainEnd, &within)
	slices.SortFunc(s.edits, func(a, b edit) int { return a.from - b.from })

	text := s.rewrite()
	stmts, err := s.parseTiDB(text)
	if err != nil {
		s.syntaxError(err, text)
		return sel
	}
	if len(stmts) != 1+dedupStmts {
		s.errorAt(s.base, "", "internal error: the SELECT split into %d statements", len(stmts))
		return sel
	}
	c := converter{selectScan: s}
	c.selectBody(stmts[0], sel, within)
	for k := range sel.Dedups {
		sel.Dedups[k].Keys = c.dedupKeys(stmts[1+k])
	}
	return sel
}

func (s *selectScan) afterSetOperator(i int) bool {
	prev := s.tok(i - 1)
	if prev.kind != tkIdent {
		return false
	}
	switch strings.ToUpper(s.text(prev)) {
	case "UNION", "ALL", "DISTINCT", "EXCEPT", "INTERSECT":
		return true
	}
	return false
}

// limit parses LIMIT n, which must end the SELECT.
func (s *selectScan) limit(i int) *Limit {
	s.edits = append(s.edits, edit{from: i, to: s.end})
	lim := &Limit{P: s.pos(s.toks[i].off)}
	t := s.tok(i + 1)
	if t.kind != tkNumber {
		s.errorAt(t.off, "", "expected a number after LIMIT, found %s", s.describe(t))
		return lim
	}
	n, err := strconv.ParseInt(s.text(t), 10, 64)
	if err != nil {
		s.errorAt(t.off, "", "LIMIT takes a whole number, not %s", s.text(t))
	}
	lim.N = n
	if i+2 < s.end {
		u := s.toks[i+2]
		switch {
		case s.isKw(u, kwOffset) || s.isPunct(u, ","):
			s.errorAt(u.off, "", "LIMIT takes one number; OFFSET is not supported")
		case s.isKw(u, kwDeduplicate):
			s.errorAt(u.off, "", "DEDUPLICATE BY must come before LIMIT")
		default:
			s.errorAt(u.off, "", "unexpected %s after LIMIT %d; LIMIT ends the SELECT", s.describe(u), n)
		}
	}
	return lim
}

// dedups parses the DEDUPLICATE BY … WITHIN INTERVAL … clauses in
// toks[i:end]. The keys are left in place for TiDB, behind a ";SELECT".
func (s *selectScan) dedups(i, end int) []Dedup {
	var out []Dedup
	for i < end {
		t := s.toks[i]
		if !s.isKw(t, kwDeduplicate) {
			switch t.kw {
			case kwWhere, kwGroup, kwHaving, kwJoin, kwFrom, kwOrder:
				s.errorAt(t.off, clauseOrder, "%s must come before DEDUPLICATE BY", strings.ToUpper(s.text(t)))
			default:
				s.errorAt(t.off, "", "unexpected %s after DEDUPLICATE BY … WITHIN INTERVAL …; expected DEDUPLICATE BY, LIMIT or the end of the statement", s.describe(t))
			}
			s.edits = append(s.edits, edit{from: i, to: end})
			return out
		}
		d := Dedup{P: s.pos(t.off)}
		by := s.tok(i + 1)
		if !s.isKw(by, kwBy) {
			s.errorAt(by.off, "", "expected BY after DEDUPLICATE, found %s", s.describe(by))
			s.edits = append(s.edits, edit{from: i, to: end})
			return out
		}
		// The keys run to the next WITHIN or clause keyword at depth 0.
		k := i + 2
		depth := 0
	keys:
		for ; k < end; k++ {
			u := s.toks[k]
			switch {
			case s.isPunct(u, "("):
				depth++
			case s.isPunct(u, ")"):
				depth = max(depth-1, 0)
			case depth == 0 && u.kind == tkIdent:
				switch u.kw {
				case kwWithin, kwDeduplicate, kwWhere, kwGroup, kwHaving, kwJoin, kwFrom, kwOrder:
					break keys
				}
			}
		}
		if k == i+2 {
			s.errorAt(s.tok(k).off, "write DEDUPLICATE BY key WITHIN INTERVAL 10 MINUTE", "expected an expression after DEDUPLICATE BY, found %s", s.describe(s.tok(k)))
			s.edits = append(s.edits, edit{from: i, to: end})
			return out
		}
		s.edits = append(s.edits, edit{from: i, to: i + 2, repl: dedupPlaceholder})
		s.keyRanges = append(s.keyRanges, edit{from: i + 2, to: k})
		next := k
		switch w := s.tok(k); {
		case s.isKw(w, kwWithin):
			iv, after := s.withinInterval(k, end)
			d.Within = iv
			s.edits = append(s.edits, edit{from: k, to: after})
			next = after
		case k < end && !s.isKw(w, kwDeduplicate):
			// A misplaced clause keyword: the next round says where it goes.
		default:
			s.errorAt(w.off, "write DEDUPLICATE BY key WITHIN INTERVAL 10 MINUTE", "expected WITHIN INTERVAL after DEDUPLICATE BY …, found %s", s.describe(w))
		}
		out = append(out, d)
		i = next
	}
	return out
}

// withinInterval parses WITHIN INTERVAL n unit at toks[i] and returns the
// index after it.
func (s *selectScan) withinInterval(i, end int) (*Interval, int) {
	it := s.tok(i + 1)
	if !s.isKw(it, kwInterval) || i+1 >= end {
		s.errorAt(it.off, "write WITHIN INTERVAL 1 HOUR", "expected INTERVAL after WITHIN, found %s", s.describe(it))
		if i+1 < end && (it.kind == tkNumber || it.kind == tkString) {
			// WITHIN 10 MINUTE: read on as if INTERVAL were there, so
			// that the rest of the SELECT is still checked.
			_, next := s.interval(i, end)
			return nil, next
		}
		return nil, i + 1
	}
	iv, next := s.interval(i+1, end)
	return &iv, next
}

// scanMain goes through the SELECT up to its DEDUPLICATE BY or LIMIT:
// the JOIN's WITHIN, every INTERVAL and every CAST.
func (s *selectScan) scanMain(end int, within **Interval) {
	joinWithin := -1
	for _, w := range s.withins {
		if w >= end {
			break
		}
		switch {
		case joinWithin >= 0:
			if s.join2 < 0 { // a second JOIN is reported as such
				s.errorAt(s.toks[w].off, "", "a SELECT has one JOIN … WITHIN INTERVAL …")
			}
		case s.join < 0 || w < s.join:
			s.errorAt(s.toks[w].off, "an interval join reads FROM a JOIN b ON a.k = b.k WITHIN INTERVAL 1 HOUR", "WITHIN INTERVAL must follow JOIN … ON …")
		case s.clauseAfter(s.join) >= 0 && s.clauseAfter(s.join) < w:
			c := s.clauseAfter(s.join)
			s.errorAt(s.toks[w].off, "", "WITHIN INTERVAL must follow the JOIN's ON condition, before %s", strings.ToUpper(s.text(s.toks[c])))
		}
		if joinWithin < 0 {
			joinWithin = w
		}
	}
	if s.join >= 0 && s.join < end && joinWithin < 0 {
		at := s.clauseAfter(s.join)
		if at < 0 || at >= end {
			at = end
		}
		t := s.tok(at)
		// The error is about the JOIN: it underlines [LEFT|INNER] [OUTER] JOIN.
		first := s.join
		for first > s.lo && (s.isKw(s.tok(first-1), kwLeft) || s.isKw(s.tok(first-1), kwInner) || s.isKw(s.tok(first-1), kwOuter)) {
			first--
		}
		s.failed = true
		s.errs.AddNode(Keywords{P: s.pos(s.toks[first].off), Last: "JOIN"}, "an interval join needs a time bound: JOIN b ON a.k = b.k WITHIN INTERVAL 1 HOUR",
			"JOIN needs WITHIN INTERVAL after its ON condition, found %s", s.describe(t))
	}
	s.scanExprs(s.lo, end, joinWithin, within)
	for _, r := range s.keyRanges {
		s.scanExprs(r.from, r.to, -1, nil)
	}
}

// scanExprs handles toks[from:end]: the depth-0 WITHINs (joinWithin is
// the JOIN's), every INTERVAL and every CAST.
func (s *selectScan) scanExprs(from, end, joinWithin int, within **Interval) {
	for i := from; i < end; i++ {
		for _, sk := range s.skips {
			if i == sk.from {
				i = sk.to
			}
		}
		if i >= end {
			break
		}
		t := s.toks[i]
		if t.kind == tkNumber && t.end-t.off > maxNumberLen {
			// TiDB's decimal conversion panics on numbers this long.
			s.errorAt(t.off, "", "number too long: %d characters (at most %d)", t.end-t.off, maxNumberLen)
			s.edits = append(s.edits, edit{from: i, to: i + 1, repl: "0"})
			continue
		}
		if t.kind != tkIdent {
			continue
		}
		switch {
		case t.kw == kwWithin && slices.Contains(s.withins, i):
			iv, next := s.withinInterval(i, end)
			if i == joinWithin && within != nil {
				*within = iv
			}
			s.edits = append(s.edits, edit{from: i, to: next})
			i = next - 1
		case t.kw == kwInterval:
			iv, next := s.interval(i, end)
			s.intervals = append(s.intervals, intervalAt{off: t.off, iv: iv})
			s.edits = append(s.edits, edit{from: i, to: next, repl: intervalPlaceholder})
			i = next - 1
		case t.kw == kwCast && i+1 < end && s.isPunct(s.toks[i+1], "("):
			s.cast(i, end)
		}
	}
}

// cast finds the AS type of the CAST at toks[i], parses the type, and
// arranges for TiDB to see a call of castPlaceholder on the operand.
func (s *selectScan) cast(i, end int) {
	depth, as := 0, -1
	j := i + 1
	for ; j < end; j++ {
		t := s.toks[j]
		switch {
		case s.isPunct(t, "("):
			depth++
		case s.isPunct(t, ")"):
			depth--
		case depth == 1 && s.isKw(t, kwAs) && as < 0:
			as = j
		}
		if depth == 0 {
			break
		}
	}
	if as < 0 || j >= end {
		return // TiDB reports the malformed CAST
	}
	saved := s.i
	s.i = as + 1
	var typ TypeName
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bailout); !ok {
					panic(r)
				}
			}
		}()
		savedHi := s.hi
		s.hi = j
		defer func() { s.hi = savedHi }()
		typ = s.typeName()
		if s.i < j {
			t := s.toks[s.i]
			s.errorAt(t.off, "", "unexpected %s after the type in CAST", s.describe(t))
		}
	}()
	s.i = saved
	s.casts = append(s.casts, castAt{off: s.toks[i].off, typ: typ})
	s.edits = append(s.edits, edit{from: i, to: i + 1, repl: castPlaceholder}, edit{from: as, to: j})
	s.skips = append(s.skips, edit{from: as, to: j})
}

// rewrite builds the text TiDB parses: the SELECT's tokens at their own
// offsets from s.base, with the edits applied and everything else blank.
func (s *selectScan) rewrite() string {
	last := s.toks[s.end-1].end
	n := last - s.base
	buf := slices.Grow(s.buf[:0], n)[:n]
	for k := range buf {
		buf[k] = ' '
	}
	e := 0
	for i := s.lo; i < s.end; i++ {
		t := s.toks[i]
		if e < len(s.edits) && s.edits[e].from == i {
			ed := s.edits[e]
			e++
			copy(buf[t.off-s.base:], ed.repl)
			if ed.to > i {
				i = ed.to - 1
			}
			continue
		}
		copy(buf[t.off-s.base:], s.src[t.off:t.end])
	}
	s.buf = buf
	return string(buf)
}

// syntaxError turns TiDB's `line L column C near "rest"` into an error at
// the offending token of the submitted script.
func (s *selectScan) syntaxError(err error, text string) {
	msg := err.Error()
	if strings.HasPrefix(msg, "sql: ") {
		s.errorAt(s.base, "", "%s", strings.TrimPrefix(msg, "sql: "))
		return
	}
	off := len(text)
	if k := strings.Index(msg, ` near "`); k >= 0 {
		rest := msg[k+len(` near "`):]
		if j := strings.LastIndex(rest, "(total length "); j >= 0 {
			if n, e := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest[j+len("(total length "):]), ")")); e == nil {
				off = len(text) - n
			}
		} else if near, ok := strings.CutSuffix(rest, `" `); ok && strings.HasSuffix(text, near) {
			off = len(text) - len(near)
		} else {
			for o := 0; o <= len(text); o++ {
				if n := len(text) - o; len(rest) > n && rest[n] == '"' && rest[:n] == text[o:] {
					off = o
					break
				}
			}
		}
	}
	abs := s.base + off
	// The token at abs, or the end of the statement.
	k, _ := slices.BinarySearchFunc(s.toks[s.lo:s.end], abs, func(t token, off int) int { return t.end - 1 - off })
	k += s.lo
	if k >= s.end {
		t := s.tok(s.end)
		if s.end < s.hi {
			s.errorAt(t.off, "", "syntax error: the SELECT is incomplete before %s", s.describe(t))
		} else {
			s.errorAt(t.off, "", "syntax error: the SELECT is incomplete at the end of the statement")
		}
		return
	}
	t := s.toks[k]
	hint := ""
	if t.kw == kwInterval {
		if fn := s.tok(s.enclosingCall(k)); fn.kind == tkIdent && strings.Contains(strings.ToUpper(s.text(fn)), "DATE") {
			hint = "write ts + INTERVAL 1 DAY, not DATE_ADD(ts, INTERVAL 1 DAY)"
		}
	} else if t.kind == tkIdent && isReserved(s.text(t)) {
		prev := s.tok(k - 1)
		if s.isPunct(prev, ",") || s.isPunct(prev, ".") || s.isKw(prev, kwSelect) || s.isKw(prev, kwAs) || s.isPunct(prev, "(") {
			hint = strings.ToUpper(s.text(t)) + " is a reserved word; quote it as a name: `" + s.text(t) + "`"
		}
	}
	switch t.kw {
	case kwFrom, kwJoin, kwLeft, kwInner, kwWhere, kwGroup, kwHaving:
		if hint == "" {
			hint = clauseOrder
		}
	}
	s.errorAt(t.off, hint, "syntax error at %s", s.describe(t))
}

// enclosingCall returns the index of the token before the parenthesis that
// encloses toks[k]: the function name when toks[k] is in an argument list.
func (s *selectScan) enclosingCall(k int) int {
	depth := 0
	for j := k - 1; j >= s.lo; j-- {
		switch t := s.toks[j]; {
		case s.isPunct(t, ")"):
			depth++
		case s.isPunct(t, "(") && depth == 0:
			return j - 1
		case s.isPunct(t, "("):
			depth--
		}
	}
	return s.lo - 1
}

// parseTiDB runs the TiDB parser. A panic inside it (its decimal code has
// had some) becomes an error, and the parser, whose state is then unknown,
// is not reused.
func (s *selectScan) parseTiDB(text string) (stmts []tast.StmtNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.tidb = nil
			stmts, err = nil, fmt.Errorf("sql: the TiDB parser failed: %v", r)
		}
	}()
	stmts, _, err = s.tidbParser().ParseSQL(text)
	return stmts, err
}
