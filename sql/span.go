package sql

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Ranges. A diagnostic points at a construct from its first character to
// just past its last (an exclusive end). The parser records where nodes
// start; where they end is found from the text when an error needs it,
// so that a clean script costs nothing:
//
//   - a name, a literal, a keyword: the token;
//   - a column reference: the whole name, qualifier included (o.amount);
//   - an expression: all of it, closing parentheses and END included;
//   - a type: the word and its arguments (Decimal(10, 2));
//   - an interval: INTERVAL, the number and the unit;
//   - a clause (JOIN, DEDUPLICATE BY): its keywords (LEFT JOIN,
//     DEDUPLICATE BY); LIMIT: the keyword and its number; INSERT: INSERT
//     INTO and the sink.

// Keywords is a node for the clause keywords starting at P: a diagnostic
// about it underlines the words P starts, up to and including the word
// Last (JOIN for LEFT OUTER JOIN).
type Keywords struct {
	P    Pos
	Last string
}

// Pos returns where the first keyword starts.
func (k Keywords) Pos() Pos { return k.P }

// spans finds the ends of constructs in a text, from its tokens.
type spans struct {
	src  string
	toks []token
}

func newSpans(src string) *spans {
	var errs ErrorList
	toks := lex(src, nil, &errs, func(int) Pos { return Pos{} })
	return &spans{src: src, toks: toks}
}

// at returns the index of the token starting at off, or of the first token
// after it.
func (s *spans) at(off int) int {
	k, _ := slices.BinarySearchFunc(s.toks, off, func(t token, off int) int { return t.off - off })
	return k
}

func (s *spans) tokEnd(k int) int {
	if k < len(s.toks) {
		return s.toks[k].end
	}
	return len(s.src)
}

func (s *spans) isWord(k int, word string) bool {
	return k < len(s.toks) && s.toks[k].kind == tkIdent && strings.EqualFold(s.src[s.toks[k].off:s.toks[k].end], word)
}

func (s *spans) isPunct(k int, p string) bool {
	return k < len(s.toks) && s.toks[k].kind == tkPunct && s.src[s.toks[k].off:s.toks[k].end] == p
}

// isCallName reports whether the token at k is the name of the call (and
// not the first operand of a || b, which may itself be a call).
func (s *spans) isCallName(k int, name string) bool {
	return k < len(s.toks) && (s.toks[k].kind == tkIdent || s.toks[k].kind == tkQIdent) &&
		strings.EqualFold(strings.Trim(s.src[s.toks[k].off:s.toks[k].end], "`\""), name)
}

// closing returns the index of the parenthesis closing the one at k (or
// the last token when it is not closed).
func (s *spans) closing(k int) int {
	depth := 0
	for i := k; i < len(s.toks); i++ {
		switch {
		case s.isPunct(i, "("):
			depth++
		case s.isPunct(i, ")"):
			depth--
			if depth == 0 {
				return i
			}
		case s.toks[i].kind == tkSemi:
			return i - 1
		}
	}
	return len(s.toks) - 1
}

// end returns the position just past what e is about.
func (s *spans) end(e *Error) Pos {
	var off int
	if e.node != nil {
		off = s.endOf(e.node)
	} else {
		off = s.tokEnd(s.at(e.Pos.Offset))
		if k := s.at(e.Pos.Offset); k >= len(s.toks) || s.toks[k].off != e.Pos.Offset {
			// Not at a token (the end of the text, or inside a string or
			// comment the lexer stopped at): one character.
			off = e.Pos.Offset
			if off < len(s.src) {
				_, n := utf8.DecodeRuneInString(s.src[off:])
				off += n
			}
		}
	}
	if off < e.Pos.Offset {
		off = e.Pos.Offset
	}
	return advance(s.src, e.Pos, off)
}

// advance returns the position of offset off in src, counting from p.
func advance(src string, p Pos, off int) Pos {
	if off > len(src) {
		off = len(src)
	}
	if off < p.Offset || p.Offset > len(src) {
		return PosAt(src, off)
	}
	seg := src[p.Offset:off]
	if i := strings.LastIndexByte(seg, '\n'); i >= 0 {
		return Pos{Offset: off, Line: p.Line + strings.Count(seg, "\n"), Col: utf8.RuneCountInString(seg[i+1:]) + 1}
	}
	return Pos{Offset: off, Line: p.Line, Col: p.Col + utf8.RuneCountInString(seg)}
}

// endOf returns the byte offset just past node n.
func (s *spans) endOf(n Node) int {
	switch n := n.(type) {
	case Keywords:
		k := s.at(n.P.Offset)
		for i := k; i < len(s.toks) && i < k+4; i++ {
			if t := s.toks[i]; strings.EqualFold(s.src[t.off:t.end], n.Last) {
				return t.end
			}
		}
		return s.tokEnd(k)
	case *Keywords:
		return s.endOf(*n)
	case Ident:
		return s.identEnd(n.P.Offset)
	case *Ident:
		return s.identEnd(n.P.Offset)
	case TypeName:
		return s.typeEnd(n.P.Offset)
	case *TypeName:
		return s.typeEnd(n.P.Offset)
	case Interval:
		return s.intervalEnd(n.P.Offset)
	case *Interval:
		return s.intervalEnd(n.P.Offset)
	case *Join:
		return s.endOf(Keywords{P: n.P, Last: "JOIN"})
	case *Dedup:
		return s.endOf(Keywords{P: n.P, Last: "BY"})
	case *Limit:
		k := s.at(n.P.Offset)
		if k+1 < len(s.toks) && s.toks[k+1].kind == tkNumber {
			return s.toks[k+1].end
		}
		return s.tokEnd(k)
	case *Insert:
		return s.tokEnd(s.at(n.Sink.P.Offset))
	case Expr:
		return s.exprEnd(n)
	}
	return s.tokEnd(s.at(n.Pos().Offset))
}

// identEnd: a name, with the parts a dotted option name (fields.a.b)
// joins to it without spaces.
func (s *spans) identEnd(off int) int {
	k := s.at(off)
	for s.isPunct(k+1, ".") && k+2 < len(s.toks) && s.toks[k+1].off == s.tokEnd(k) && s.toks[k+2].off == s.toks[k+1].end &&
		(s.toks[k+2].kind == tkIdent || s.toks[k+2].kind == tkQIdent) {
		k += 2
	}
	return s.tokEnd(k)
}

// typeEnd: the type word and its parenthesised arguments.
func (s *spans) typeEnd(off int) int {
	k := s.at(off)
	if s.isPunct(k+1, "(") {
		return s.tokEnd(s.closing(k + 1))
	}
	return s.tokEnd(k)
}

// intervalEnd: INTERVAL [+|-] n unit, or INTERVAL 'n unit'.
func (s *spans) intervalEnd(off int) int {
	k := s.at(off)
	if !s.isWord(k, "INTERVAL") {
		return s.tokEnd(k)
	}
	k++
	if s.isPunct(k, "-") || s.isPunct(k, "+") {
		k++
	}
	if k >= len(s.toks) {
		return s.tokEnd(k - 1)
	}
	if t := s.toks[k]; t.kind == tkString && strings.Contains(strings.TrimSpace(unquote(s.src[t.off:t.end])), " ") {
		return t.end
	}
	if k+1 < len(s.toks) && s.toks[k+1].kind == tkIdent {
		return s.toks[k+1].end
	}
	return s.tokEnd(k)
}

// exprEnd: all of an expression. It walks the right edge of the tree,
// then adds what closes it (a parenthesis, END, IS NULL).
func (s *spans) exprEnd(e Expr) int {
	switch e := e.(type) {
	case *ColumnRef:
		k := s.at(e.P.Offset)
		if e.Qualifier != "" && s.isPunct(k+1, ".") && k+2 < len(s.toks) {
			k += 2
		}
		return s.tokEnd(k)
	case *Literal:
		k := s.at(e.P.Offset)
		if e.Kind == LitString {
			for k+1 < len(s.toks) && s.toks[k].kind == tkString && s.toks[k+1].kind == tkString {
				k++
			}
		}
		return s.tokEnd(k)
	case *IntervalLit:
		return s.intervalEnd(e.P.Offset)
	case *Unary:
		return max(s.tokEnd(s.at(e.P.Offset)), s.exprEnd(e.X))
	case *Binary:
		return s.exprEnd(e.R)
	case *Between:
		return s.exprEnd(e.Hi)
	case *Like:
		return s.exprEnd(e.Pattern)
	case *IsNull:
		k := s.at(s.exprEnd(e.X))
		if s.isWord(k, "IS") {
			if s.isWord(k+1, "NOT") {
				k++
			}
			if s.isWord(k+1, "NULL") {
				k++
			}
			return s.tokEnd(k)
		}
		return s.exprEnd(e.X)
	case *In:
		k := s.at(s.exprEnd(e.X))
		if s.isWord(k, "NOT") {
			k++
		}
		if s.isWord(k, "IN") && s.isPunct(k+1, "(") {
			return s.tokEnd(s.closing(k + 1))
		}
		if len(e.List) > 0 {
			return s.exprEnd(e.List[len(e.List)-1])
		}
		return s.exprEnd(e.X)
	case *Case:
		depth := 0
		for k := s.at(e.P.Offset); k < len(s.toks) && s.toks[k].kind != tkSemi; k++ {
			switch {
			case s.isWord(k, "CASE"):
				depth++
			case s.isWord(k, "END"):
				depth--
				if depth == 0 {
					return s.toks[k].end
				}
			}
		}
		return len(s.src)
	case *Paren:
		return s.tokEnd(s.closing(s.at(e.P.Offset)))
	case *Cast:
		k := s.at(e.P.Offset)
		if s.isPunct(k+1, "(") {
			return s.tokEnd(s.closing(k + 1))
		}
		return s.exprEnd(e.X)
	case *Call:
		k := s.at(e.P.Offset)
		if s.isPunct(k+1, "(") && s.isCallName(k, e.Name) {
			return s.tokEnd(s.closing(k + 1))
		}
		if len(e.Args) > 0 { // a || b is a call at a
			return s.exprEnd(e.Args[len(e.Args)-1])
		}
		return s.tokEnd(k)
	}
	return s.tokEnd(s.at(e.Pos().Offset))
}
