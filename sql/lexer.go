package sql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind classifies a token. The lexer only needs to agree with the TiDB
// lexer on where strings, quoted names and comments begin and end: that is
// what decides which DEDUPLICATE, WITHIN or ';' is ours. Everything finer
// inside a SELECT is left to TiDB.
type tokKind uint8

const (
	tkEOF    tokKind = iota
	tkIdent          // a bare word; keywords are bare words with kw set
	tkQIdent         // `name` or "name"
	tkString         // 'text'
	tkNumber         // 12, 1.5, 1e3, 0x1F
	tkPunct          // operators and punctuation
	tkSemi           // ;
)

type token struct {
	kind tokKind
	kw   kw // for tkIdent: which keyword the word is, kwNone otherwise
	off  int
	end  int
}

// kw identifies the words the statement parser and the SELECT scanner act
// on. Bare words that are not in the table are plain identifiers.
type kw uint8

const (
	kwNone kw = iota
	kwAs
	kwAnd
	kwBy
	kwCast
	kwCreate
	kwDeduplicate
	kwDescribe
	kwDesc
	kwDistinct
	kwDrop
	kwExists
	kwExplain
	kwFalse
	kwFor
	kwFrom
	kwGroup
	kwHaving
	kwIf
	kwInner
	kwInsert
	kwInterval
	kwInto
	kwJoin
	kwLeft
	kwLimit
	kwNot
	kwNull
	kwOffset
	kwOn
	kwOr
	kwOrder
	kwOuter
	kwPath
	kwPipeline
	kwPipelines
	kwReplace
	kwRight
	kwCross
	kwSelect
	kwShow
	kwSink
	kwSinks
	kwSource
	kwSources
	kwStart
	kwStop
	kwTrue
	kwUnion
	kwAll
	kwWatermark
	kwWhere
	kwWith
	kwWithin
	kwNatural
	kwStraightJoin
)

var keywords = map[string]kw{
	"AS": kwAs, "AND": kwAnd, "BY": kwBy, "CAST": kwCast, "CREATE": kwCreate,
	"DEDUPLICATE": kwDeduplicate, "DESCRIBE": kwDescribe, "DESC": kwDesc,
	"DISTINCT": kwDistinct, "DROP": kwDrop, "EXISTS": kwExists,
	"EXPLAIN": kwExplain, "FALSE": kwFalse, "FOR": kwFor, "FROM": kwFrom,
	"GROUP": kwGroup, "HAVING": kwHaving, "IF": kwIf, "INNER": kwInner,
	"INSERT": kwInsert, "INTERVAL": kwInterval, "INTO": kwInto, "JOIN": kwJoin,
	"LEFT": kwLeft, "LIMIT": kwLimit, "NOT": kwNot, "NULL": kwNull,
	"OFFSET": kwOffset, "ON": kwOn, "OR": kwOr, "ORDER": kwOrder,
	"OUTER": kwOuter, "PATH": kwPath, "PIPELINE": kwPipeline,
	"PIPELINES": kwPipelines, "REPLACE": kwReplace, "RIGHT": kwRight,
	"CROSS": kwCross, "SELECT": kwSelect, "SHOW": kwShow, "SINK": kwSink,
	"SINKS": kwSinks, "SOURCE": kwSource, "SOURCES": kwSources,
	"START": kwStart, "STOP": kwStop, "TRUE": kwTrue, "UNION": kwUnion,
	"ALL": kwAll, "WATERMARK": kwWatermark, "WHERE": kwWhere, "WITH": kwWith,
	"WITHIN": kwWithin, "NATURAL": kwNatural, "STRAIGHT_JOIN": kwStraightJoin,
}

// lookupKeyword upper-cases word on the stack so that the common case, a
// name that is no keyword, costs no allocation.
func lookupKeyword(word string) kw {
	if len(word) > len("STRAIGHT_JOIN") {
		return kwNone
	}
	var b [16]byte
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	return keywords[string(b[:len(word)])]
}

// lex splits src into tokens, dropping whitespace and comments. Errors are
// unterminated strings, names and comments, and characters that have no
// place in Sluice SQL. An unterminated construct ends the token list: what
// follows it cannot be told apart from its content.
func lex(src string, toks []token, errs *ErrorList, pos func(int) Pos) []token {
	i := 0
	if strings.HasPrefix(src, "\uFEFF") { // editors on Windows start files with a byte order mark
		i = len("\uFEFF")
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				return toks
			}
			i += j + 1
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				errs.Add(pos(i), "a block comment ends with */", "unterminated comment")
				return toks
			}
			i += 2 + j + 2
		case c == '\'' || c == '"' || c == '`':
			end, ok := scanQuoted(src, i)
			if !ok {
				what := "string"
				hint := "a string ends with ' (write '' for a quote inside it)"
				if c != '\'' {
					what = "quoted name"
					hint = "a quoted name ends with " + string(c)
				}
				errs.Add(pos(i), hint, "unterminated %s", what)
				return toks
			}
			k := tkString
			if c != '\'' {
				k = tkQIdent
			}
			toks = append(toks, token{kind: k, off: i, end: end})
			i = end
		case c == ';':
			toks = append(toks, token{kind: tkSemi, off: i, end: i + 1})
			i++
		case isDigit(c) && afterNameDot(src, toks, i):
			// t.1x: TiDB reads what follows a name and a dot as a name.
			end := scanWord(src, i)
			toks = append(toks, token{kind: tkIdent, off: i, end: end})
			i = end
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1]) && !afterName(src, toks, i)):
			end, kind := scanNumber(src, i)
			toks = append(toks, token{kind: kind, off: i, end: end})
			i = end
		case c < utf8.RuneSelf && isIdentStart(rune(c)):
			end := scanWord(src, i)
			toks = append(toks, token{kind: tkIdent, kw: lookupKeyword(src[i:end]), off: i, end: end})
			i = end
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(src[i:])
			if !isIdentStart(r) {
				errs.Add(pos(i), "", "unexpected character %q", r)
				if len(*errs) >= MaxErrors {
					errs.TooMany(pos(i + n))
					return toks
				}
				i += n
				continue
			}
			end := scanWord(src, i)
			toks = append(toks, token{kind: tkIdent, off: i, end: end})
			i = end
		default:
			n := punctLen(src[i:])
			if n == 0 {
				hint := ""
				if c == '#' {
					hint = "comments are -- line or /* block */"
				}
				errs.Add(pos(i), hint, "unexpected character %q", rune(c))
				if len(*errs) >= MaxErrors {
					errs.TooMany(pos(i + 1))
					return toks
				}
				i++
				continue
			}
			toks = append(toks, token{kind: tkPunct, off: i, end: i + n})
			i += n
		}
	}
	return toks
}

// afterName reports whether src[i] directly follows a name token.
func afterName(src string, toks []token, i int) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.end == i && (t.kind == tkIdent || t.kind == tkQIdent)
}

// afterNameDot reports whether src[i] directly follows "name.".
func afterNameDot(src string, toks []token, i int) bool {
	n := len(toks)
	return n >= 2 && toks[n-1].kind == tkPunct && toks[n-1].end == i && src[toks[n-1].off] == '.' && afterName(src, toks[:n-1], toks[n-1].off)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (r >= utf8.RuneSelf && unicode.IsLetter(r))
}

func isIdentChar(r rune) bool {
	return isIdentStart(r) || ('0' <= r && r <= '9') || r == '$' || (r >= utf8.RuneSelf && unicode.IsDigit(r))
}

func scanWord(src string, i int) int {
	for i < len(src) {
		r, n := rune(src[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(src[i:])
		}
		if !isIdentChar(r) {
			break
		}
		i += n
	}
	return i
}

// scanNumber follows TiDB's lexer, so that both agree on where a number
// ends: 0x1F and 0b101 are literals, 1.5e3 and 1. are numbers, and a word
// that starts with digits (1abc, 0x, 9est) is a name.
func scanNumber(src string, i int) (int, tokKind) {
	start := i
	digits := func(j int) int {
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		return j
	}
	word := func() (int, tokKind) { return scanWord(src, start), tkIdent }
	if src[i] == '0' && i+1 < len(src) {
		switch src[i+1] {
		case 'x', 'X', 'b':
			j := i + 2
			for j < len(src) && (isDigit(src[j]) || (src[i+1] != 'b' && strings.IndexByte("abcdefABCDEF", src[j]) >= 0)) {
				j++
			}
			if j == i+2 || (j < len(src) && isDigit(src[j])) {
				return word()
			}
			return j, tkNumber
		case 'B':
			return word()
		}
	}
	if src[i] != '.' {
		i = digits(i)
		if i < len(src) && src[i] != '.' && src[i] != 'e' && src[i] != 'E' && isIdentByte(src, i) {
			return word()
		}
	}
	if i < len(src) && src[i] == '.' {
		i = digits(i + 1)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			return digits(j), tkNumber
		}
		if src[start] == '.' {
			return i, tkNumber // TiDB rejects .5e; the SELECT fails either way
		}
		return word()
	}
	return i, tkNumber
}

// isIdentByte reports whether the character at src[i] continues a name.
func isIdentByte(src string, i int) bool {
	r := rune(src[i])
	if r >= utf8.RuneSelf {
		r, _ = utf8.DecodeRuneInString(src[i:])
	}
	return isIdentChar(r)
}

// scanQuoted returns the end of the quoted token starting at i. A doubled
// quote stands for itself; backslashes are ordinary characters (the TiDB
// parser runs with NO_BACKSLASH_ESCAPES to agree).
func scanQuoted(src string, i int) (int, bool) {
	q := src[i]
	j := i + 1
	for {
		k := strings.IndexByte(src[j:], q)
		if k < 0 {
			return len(src), false
		}
		j += k + 1
		if j < len(src) && src[j] == q {
			j++
			continue
		}
		return j, true
	}
}

func punctLen(s string) int {
	if len(s) >= 3 && (s[:3] == "<=>" || s[:3] == "->>") {
		return 3
	}
	if len(s) >= 2 {
		switch s[:2] {
		case "<=", ">=", "<>", "!=", "||", "&&", "::", ":=", "->", "<<", ">>":
			return 2
		}
	}
	switch s[0] {
	case '(', ')', ',', '.', '+', '-', '*', '/', '%', '=', '<', '>', '!', '|', '&', '^', '~', ':', '?', '@', '[', ']', '{', '}':
		return 1
	}
	return 0
}

// unquote returns the text of a quoted token without its quotes, with
// doubled quotes collapsed.
func unquote(s string) string {
	if len(s) < 2 {
		return s
	}
	q := s[:1]
	s = s[1 : len(s)-1]
	if !strings.Contains(s, q) {
		return s
	}
	return strings.ReplaceAll(s, q+q, q)
}
