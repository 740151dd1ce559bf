// Package jsonscan scans JSON text without building values: the JSON
// record format decodes with it, and the runtime's JSON_VALUE reads a
// scalar at a path with it. It allocates nothing but its error values and
// imports nothing of Sluice.
package jsonscan

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Error is a reason a JSON text cannot be read; its text is what a
// dead-lettered record carries.
type Error struct{ Reason string }

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

// Errorf returns an *Error with a formatted reason.
func Errorf(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Describe quotes up to 16 bytes of b from i, for error messages.
func Describe(b []byte, i int) string {
	end := min(i+16, len(b))
	return strconv.Quote(string(b[i:end]))
}

// SkipWS returns the index of the first byte from i that is not JSON
// white space.
func SkipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// String returns the content bounds of the string at b[i] == '"'.
// Raw control characters inside strings are accepted (JSON forbids them;
// rejecting a record for one helps nobody).
func String(b []byte, i int) (s, e int, esc bool, next int, err error) {
	s = i + 1
	// Fast path: the closing quote, with no backslash before it.
	q := bytes.IndexByte(b[s:], '"')
	if q < 0 {
		return 0, 0, false, 0, Errorf("invalid JSON: unterminated string")
	}
	if bytes.IndexByte(b[s:s+q], '\\') < 0 {
		return s, s + q, false, s + q + 1, nil
	}
	for j := s; j < len(b); j++ {
		switch b[j] {
		case '"':
			return s, j, true, j + 1, nil
		case '\\':
			j++
		}
	}
	return 0, 0, false, 0, Errorf("invalid JSON: unterminated string")
}

// Number returns the bounds of the number at b[i] and whether it is an
// integer (no fraction, no exponent).
func Number(b []byte, i int) (s, e int, isInt bool, err error) {
	s = i
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	d0 := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == d0 {
		return 0, 0, false, Errorf("invalid JSON: unexpected %s at byte %d", Describe(b, i), i)
	}
	isInt = true
	if j < len(b) && b[j] == '.' {
		isInt = false
		j++
		f0 := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == f0 {
			return 0, 0, false, Errorf("invalid JSON: bad number at byte %d", i)
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		isInt = false
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		e0 := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == e0 {
			return 0, 0, false, Errorf("invalid JSON: bad number at byte %d", i)
		}
	}
	return s, j, isInt, nil
}

// SkipValue returns the index after the JSON value at b[i].
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, Errorf("invalid JSON: unexpected end")
	}
	switch b[i] {
	case '"':
		_, _, _, next, err := String(b, i)
		return next, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, _, _, next, err := String(b, j)
				if err != nil {
					return 0, err
				}
				j = next - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, Errorf("invalid JSON: unterminated %c", b[i])
	case 't':
		if len(b)-i >= 4 && string(b[i:i+4]) == "true" {
			return i + 4, nil
		}
	case 'f':
		if len(b)-i >= 5 && string(b[i:i+5]) == "false" {
			return i + 5, nil
		}
	case 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return i + 4, nil
		}
	default:
		_, e, _, err := Number(b, i)
		return e, err
	}
	return 0, Errorf("invalid JSON: unexpected %s at byte %d", Describe(b, i), i)
}

// ParseInt parses an integer Number as int64; ok is false when it does
// not fit.
func ParseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if len(b) == 19 && u > 1<<63 {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// ParseUint parses a non-negative integer Number as uint64; ok is false
// when it does not fit.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || b[0] == '-' || len(b) > 20 {
		return 0, false
	}
	if len(b) == 20 {
		u, err := strconv.ParseUint(string(b), 10, 64)
		return u, err == nil
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

// ParseFloat parses a Number as float64 without allocating.
func ParseFloat(b []byte, isInt bool) (float64, bool) {
	if isInt && len(b) <= 16 {
		x, ok := ParseInt(b)
		return float64(x), ok
	}
	// The string does not outlive the call: ParseFloat's error, which
	// would keep it, is dropped.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f, err == nil
}

// Unescape appends the JSON string content raw (without quotes) to dst.
func Unescape(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			return dst, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(raw)+0 && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, ok := hex4(raw[i+3:]); ok {
						if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
							r = p
							i += 6
						}
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r*16 + rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r*16 + rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r*16 + rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Step is one step of a JSON path: a field name or an array index.
type Step struct {
	key   string
	index int // -1 for a field step
}

// ParsePath parses `$.a.b[0]` (also `$."a b"` and `$['a']`). An
// unparsable path yields a path that matches nothing.
func ParsePath(p string) []Step {
	steps := []Step{}
	if len(p) == 0 || p[0] != '$' {
		return []Step{{key: "\x00invalid", index: -1}}
	}
	i := 1
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			if i < len(p) && p[i] == '"' {
				j := i + 1
				for j < len(p) && p[j] != '"' {
					j++
				}
				steps = append(steps, Step{key: p[i+1 : min(j, len(p))], index: -1})
				i = j + 1
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			steps = append(steps, Step{key: p[i:j], index: -1})
			i = j
		case '[':
			j := i + 1
			for j < len(p) && p[j] != ']' {
				j++
			}
			in := p[i+1 : min(j, len(p))]
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') {
				steps = append(steps, Step{key: in[1 : len(in)-1], index: -1})
			} else if n, err := strconv.Atoi(in); err == nil && n >= 0 {
				steps = append(steps, Step{index: n})
			} else {
				return []Step{{key: "\x00invalid", index: -1}}
			}
			i = j + 1
		default:
			return []Step{{key: "\x00invalid", index: -1}}
		}
	}
	return steps
}

// ScalarAt appends the scalar at path in doc as text to dst (strings
// unescaped, numbers and booleans as written). ok is false when the path
// is absent, the value is null, an object or an array, or doc is invalid.
func ScalarAt(dst, doc []byte, path []Step) ([]byte, bool) {
	i := SkipWS(doc, 0)
	for _, st := range path {
		if i >= len(doc) {
			return dst, false
		}
		found := false
		if st.index < 0 {
			if doc[i] != '{' {
				return dst, false
			}
			i = SkipWS(doc, i+1)
			for i < len(doc) && doc[i] != '}' {
				if doc[i] != '"' {
					return dst, false
				}
				ks, ke, esc, next, err := String(doc, i)
				if err != nil {
					return dst, false
				}
				match := false
				if esc {
					var tmp [64]byte
					k, _ := Unescape(tmp[:0], doc[ks:ke])
					match = string(k) == st.key
				} else {
					match = string(doc[ks:ke]) == st.key
				}
				i = SkipWS(doc, next)
				if i >= len(doc) || doc[i] != ':' {
					return dst, false
				}
				i = SkipWS(doc, i+1)
				if match {
					found = true
					break
				}
				if i, err = SkipValue(doc, i); err != nil {
					return dst, false
				}
				i = SkipWS(doc, i)
				if i < len(doc) && doc[i] == ',' {
					i = SkipWS(doc, i+1)
				}
			}
		} else {
			if doc[i] != '[' {
				return dst, false
			}
			i = SkipWS(doc, i+1)
			for n := 0; i < len(doc) && doc[i] != ']'; n++ {
				if n == st.index {
					found = true
					break
				}
				var err error
				if i, err = SkipValue(doc, i); err != nil {
					return dst, false
				}
				i = SkipWS(doc, i)
				if i < len(doc) && doc[i] == ',' {
					i = SkipWS(doc, i+1)
				}
			}
		}
		if !found {
			return dst, false
		}
	}
	if i >= len(doc) {
		return dst, false
	}
	switch doc[i] {
	case '"':
		ks, ke, _, _, err := String(doc, i)
		if err != nil {
			return dst, false
		}
		return Unescape(dst, doc[ks:ke])
	case '{', '[', 'n':
		return dst, false
	case 't', 'f':
		e, err := SkipValue(doc, i)
		if err != nil {
			return dst, false
		}
		return append(dst, doc[i:e]...), true
	}
	_, e, _, err := Number(doc, i)
	if err != nil {
		return dst, false
	}
	return append(dst, doc[i:e]...), true
}
