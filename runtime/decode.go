package runtime

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-sql/sluice/planner/dag"
)

// The decoder turns JSON records into columnar rows. It is a small scanner
// written for this one job rather than encoding/json: it looks up only the
// fields the schema names, converts values straight into vector storage,
// skips everything else without building anything, and allocates nothing
// per record once its buffers have grown (bad records excepted: their
// reason is a new string).

// decodeSlot is one declared or used column the decoder fills or checks.
type decodeSlot struct {
	name    string
	typ     dag.Type
	out     int // index in the output batch, -1 when only checked
	notNull bool
}

// cell holds one record's value for a slot until the record is known good.
type cell struct {
	state   uint8 // cellUnset, cellNull, cellValue
	scratch bool  // string bytes are in decoder.scratch, not the record
	i       int64
	u       uint64
	f       float64
	s, e    int32 // string bytes [s:e)
}

const (
	cellUnset uint8 = iota
	cellNull
	cellValue
)

type pathNode struct {
	names []string
	slots [][]int // slots reading this exact field
	next  []*pathNode
}

func (n *pathNode) child(name string) int {
	for i, s := range n.names {
		if s == name {
			return i
		}
	}
	n.names = append(n.names, name)
	n.slots = append(n.slots, nil)
	n.next = append(n.next, nil)
	return len(n.names) - 1
}

type pseudoKind uint8

const (
	pseudoKey pseudoKind = iota
	pseudoTopic
	pseudoPartition
	pseudoOffset
	pseudoTimestamp
)

type pseudoCol struct {
	out  int
	kind pseudoKind
}

type decoder struct {
	slots   []decodeSlot
	cells   []cell
	root    pathNode
	pseudo  []pseudoCol
	scratch []byte
	val     []byte // the record being decoded
	// Event times after future (ns) are rejected (max_future), when
	// timeSlot (the slot of the time column) or timePseudo (the time
	// column is _timestamp) is set.
	timeSlot   int
	timePseudo bool
	future     int64
	maxFuture  time.Duration
}

// futureError is the reason of a record whose event time is too far
// ahead of the clock.
type futureError struct{ decodeError }

// limitFuture makes decode reject records whose event time, column
// timeCol of the output, is later than now + maxFuture; maxFuture ≤ 0
// turns the check off. setNow moves now.
func (d *decoder) limitFuture(timeCol int, maxFuture time.Duration) {
	d.timeSlot, d.timePseudo, d.maxFuture = -1, false, 0
	if maxFuture <= 0 || timeCol < 0 {
		return
	}
	for k := range d.slots {
		if d.slots[k].out == timeCol {
			d.timeSlot = k
		}
	}
	for _, p := range d.pseudo {
		if p.out == timeCol && p.kind == pseudoTimestamp {
			d.timePseudo = true
		}
	}
	if d.timeSlot >= 0 || d.timePseudo {
		d.maxFuture = maxFuture
	}
}

func (d *decoder) setNow(now time.Time) {
	if d.maxFuture > 0 {
		d.future = now.UnixNano() + int64(d.maxFuture)
		if d.future < now.UnixNano() {
			d.future = math.MaxInt64
		}
	}
}

func (d *decoder) futureErr(ns int64) error {
	return &futureError{decodeError{reason: fmt.Sprintf("event time %s is more than max_future (%s) ahead of the clock",
		appendTime(nil, ns, 3), d.maxFuture)}}
}

// newDecoder builds a decoder for a source node's schema; declared is the
// source's full declared schema (NOT NULL and type checks apply to every
// declared column, used or not, so a record is accepted or rejected the
// same way whichever pipeline reads it).
func newDecoder(schema, declared dag.Schema) (*decoder, error) {
	d := &decoder{timeSlot: -1}
	add := func(c dag.Column, out int, notNull bool) {
		path := c.Path
		if len(path) == 0 {
			path = []string{c.Name}
		}
		idx := len(d.slots)
		d.slots = append(d.slots, decodeSlot{name: c.Name, typ: c.Type, out: out, notNull: notNull})
		n := &d.root
		for j, p := range path {
			k := n.child(p)
			if j == len(path)-1 {
				n.slots[k] = append(n.slots[k], idx)
				break
			}
			if n.next[k] == nil {
				n.next[k] = &pathNode{}
			}
			n = n.next[k]
		}
	}
	used := map[string]bool{}
	for i, c := range schema {
		if c.Pseudo {
			var k pseudoKind
			switch c.Name {
			case "_key":
				k = pseudoKey
			case "_topic":
				k = pseudoTopic
			case "_partition":
				k = pseudoPartition
			case "_offset":
				k = pseudoOffset
			case "_timestamp":
				k = pseudoTimestamp
			default:
				return nil, fmt.Errorf("unknown pseudo-column %q", c.Name)
			}
			d.pseudo = append(d.pseudo, pseudoCol{out: i, kind: k})
			continue
		}
		// NOT NULL if either the declaration or the planned column says so
		// (the planner makes the WATERMARK column NOT NULL).
		notNull := !c.Type.Nullable
		if j := declared.Index(c.Name); j >= 0 && !declared[j].Type.Nullable {
			notNull = true
		}
		used[c.Name] = true
		add(c, i, notNull)
	}
	for _, c := range declared {
		if c.Pseudo || used[c.Name] {
			continue
		}
		add(c, -1, !c.Type.Nullable)
	}
	d.cells = make([]cell, len(d.slots))
	return d, nil
}

// decodeError is a record's dead-letter reason.
type decodeError struct{ reason string }

func (e *decodeError) Error() string { return e.reason }

func badf(format string, args ...any) error {
	return &decodeError{reason: fmt.Sprintf(format, args...)}
}

// decode appends rec as one row of out, or returns why it cannot; out is
// unchanged on error.
func (d *decoder) decode(rec *Record, out *Batch) error {
	for i := range d.cells {
		d.cells[i].state = cellUnset
	}
	d.scratch = d.scratch[:0]
	d.val = rec.Value
	b := rec.Value
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return badf("not a JSON object")
	}
	i, err := d.object(b, i, &d.root)
	if err != nil {
		return err
	}
	if i = skipWS(b, i); i != len(b) {
		return badf("not one JSON object: unexpected %s at byte %d", describeAt(b, i), i)
	}
	for k := range d.slots {
		s := &d.slots[k]
		if s.notNull && d.cells[k].state != cellValue {
			if d.cells[k].state == cellNull {
				return badf("column %s: NOT NULL column is null", s.name)
			}
			return badf("column %s: NOT NULL column is missing", s.name)
		}
	}
	if d.maxFuture > 0 {
		var ns int64
		set := false
		if d.timeSlot >= 0 {
			if c := &d.cells[d.timeSlot]; c.state == cellValue {
				ns, set = c.i, true
				if d.slots[d.timeSlot].typ.Kind == dag.Date {
					ns = c.i * nsPerDay
				}
			}
		} else {
			ns, set = rec.Timestamp, true
		}
		if set && ns > d.future {
			return d.futureErr(ns)
		}
	}
	for k := range d.slots {
		s := &d.slots[k]
		if s.out < 0 {
			continue
		}
		c := &d.cells[k]
		v := &out.Vecs[s.out]
		if c.state != cellValue {
			v.AppendNull()
			continue
		}
		switch s.typ.Kind.Storage() {
		case dag.StoreUint64:
			v.AppendUint(c.u)
		case dag.StoreFloat64:
			v.AppendFloat(c.f)
		case dag.StoreBytes:
			if c.scratch {
				v.AppendBytes(d.scratch[c.s:c.e])
			} else {
				v.AppendBytes(b[c.s:c.e])
			}
		default:
			v.AppendInt(c.i)
		}
	}
	for _, p := range d.pseudo {
		v := &out.Vecs[p.out]
		switch p.kind {
		case pseudoKey:
			if rec.Key == nil {
				v.AppendNull()
			} else {
				v.AppendBytes(rec.Key)
			}
		case pseudoTopic:
			v.AppendString(rec.Topic)
		case pseudoPartition:
			putInt(v, int64(rec.Partition))
		case pseudoOffset:
			putInt(v, rec.Offset)
		case pseudoTimestamp:
			v.AppendInt(toTimeKind(rec.Timestamp, v.Type))
		}
	}
	out.Len++
	return nil
}

// object scans the object at b[i] == '{', filling the slots of node.
func (d *decoder) object(b []byte, i int, node *pathNode) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, badf("invalid JSON: expected a field name at byte %d", i)
		}
		ks, ke, esc, next, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[ks:ke]
		if esc {
			d.scratch, _ = unescape(d.scratch[:0], key)
			key = d.scratch
		}
		k := -1
		for j, name := range node.names {
			if len(name) == len(key) && name == unsafe.String(unsafe.SliceData(key), len(key)) {
				k = j
				break
			}
		}
		if esc {
			d.scratch = d.scratch[:0]
		}
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, badf("invalid JSON: expected ':' at byte %d", i)
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return 0, badf("invalid JSON: unexpected end")
		}
		if k < 0 {
			if i, err = skipValue(b, i); err != nil {
				return 0, err
			}
		} else {
			start := i
			for _, s := range node.slots[k] {
				if i, err = d.value(b, start, s); err != nil {
					return 0, err
				}
			}
			if nx := node.next[k]; nx != nil && b[start] == '{' {
				if i, err = d.object(b, start, nx); err != nil {
					return 0, err
				}
			} else if len(node.slots[k]) == 0 {
				if i, err = skipValue(b, start); err != nil {
					return 0, err
				}
			}
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, badf("invalid JSON: unexpected end")
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, badf("invalid JSON: expected ',' or '}' at byte %d", i)
		}
		i = skipWS(b, i+1)
	}
}

// value converts the JSON value at b[i] into the cell of slot s.
func (d *decoder) value(b []byte, i int, s int) (int, error) {
	slot := &d.slots[s]
	c := &d.cells[s]
	t := slot.typ
	switch b[i] {
	case 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			c.state = cellNull
			return i + 4, nil
		}
		return 0, badf("invalid JSON at byte %d", i)
	case '"':
		ss, se, esc, next, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		raw := b[ss:se]
		if esc {
			st := len(d.scratch)
			var ok bool
			d.scratch, ok = unescape(d.scratch, raw)
			if !ok {
				return 0, badf("column %s: invalid string escape", slot.name)
			}
			raw = d.scratch[st:]
			c.s, c.e, c.scratch = int32(st), int32(len(d.scratch)), true
		} else {
			c.s, c.e, c.scratch = int32(ss), int32(se), false
		}
		switch {
		case t.Kind == dag.String:
		case t.Kind.IsTime():
			ns, ok, over := parseTimeOver(raw)
			if !ok {
				return 0, typeErr(slot, "string", raw)
			}
			if lo, hi := timeRange(t); over || ns < lo || ns > hi {
				return 0, timeRangeErr(slot, strconv.Quote(string(raw)))
			}
			c.i = toTimeKind(ns, t)
		default:
			return 0, typeErr(slot, "string", raw)
		}
		c.state = cellValue
		return next, nil
	case 't', 'f':
		v := b[i] == 't'
		n := 4
		if !v {
			n = 5
		}
		if len(b)-i < n || (v && string(b[i:i+4]) != "true") || (!v && string(b[i:i+5]) != "false") {
			return 0, badf("invalid JSON at byte %d", i)
		}
		switch t.Kind {
		case dag.Bool:
			c.i = b2i(v)
		case dag.String:
			c.s, c.e, c.scratch = int32(i), int32(i+n), false
		default:
			return 0, typeErr(slot, "", b[i:i+n])
		}
		c.state = cellValue
		return i + n, nil
	case '{', '[':
		end, err := skipValue(b, i)
		if err != nil {
			return 0, err
		}
		if t.Kind != dag.String {
			what := "object"
			if b[i] == '[' {
				what = "array"
			}
			return 0, badf("column %s: expected %s, got %s", slot.name, t.Base(), what)
		}
		// A String column keeps a nested value as its JSON text, for
		// JSON_VALUE to read.
		c.s, c.e, c.scratch = int32(i), int32(end), false
		c.state = cellValue
		return end, nil
	}
	ns, ne, isInt, err := scanNumber(b, i)
	if err != nil {
		return 0, err
	}
	num := b[ns:ne]
	switch k := t.Kind; {
	case k == dag.String:
		c.s, c.e, c.scratch = int32(ns), int32(ne), false
	case k.IsInteger():
		if !isInt {
			return 0, typeErr(slot, "number", num)
		}
		if k.Storage() == dag.StoreUint64 {
			u, ok := parseUint(num)
			if !ok || u > k.UnsignedMax() {
				return 0, rangeErr(slot, num)
			}
			c.u = u
		} else {
			x, ok := parseInt(num)
			lo, hi := k.SignedRange()
			if !ok || x < lo || x > hi {
				return 0, rangeErr(slot, num)
			}
			c.i = x
		}
	case k == dag.Float32 || k == dag.Float64:
		f, ok := parseFloat(num, isInt)
		if !ok {
			return 0, rangeErr(slot, num)
		}
		if k == dag.Float32 {
			f = float64(float32(f))
			if math.IsInf(f, 0) {
				return 0, rangeErr(slot, num)
			}
		}
		c.f = f
	case k == dag.Bool:
		if string(num) != "0" && string(num) != "1" {
			return 0, typeErr(slot, "number", num)
		}
		c.i = int64(num[0] - '0')
	case k == dag.Decimal:
		x, ok := parseDecimal(num, int(t.Scale))
		if !ok {
			f, ok2 := parseFloat(num, false)
			x = int64(math.Round(f * float64(pow10[t.Scale])))
			ok = ok2 && math.Abs(f*float64(pow10[t.Scale])) < 9.2e18
		}
		if !ok || (t.Precision > 0 && t.Precision < 19 && (x >= pow10[t.Precision] || x <= -pow10[t.Precision])) {
			return 0, rangeErr(slot, num)
		}
		c.i = x
	case k.IsTime():
		var ns int64
		var ok bool
		if isInt {
			var x int64
			if x, ok = parseInt(num); ok {
				ns, ok = epochIntToNanos(x)
			}
		} else {
			var f float64
			if f, ok = parseFloat(num, false); ok {
				ns, ok = epochToNanos(f)
			}
		}
		if lo, hi := timeRange(t); !ok || ns < lo || ns > hi {
			return 0, timeRangeErr(slot, string(num))
		}
		c.i = toTimeKind(ns, t)
	default:
		return 0, typeErr(slot, "number", num)
	}
	c.state = cellValue
	return ne, nil
}

func typeErr(s *decodeSlot, what string, raw []byte) error {
	const max = 64
	v := string(raw)
	if len(v) > max {
		v = v[:max] + "…"
	}
	if what == "string" {
		return badf("column %s: expected %s, got string %q", s.name, s.typ.Base(), v)
	}
	if what == "" {
		return badf("column %s: expected %s, got %s", s.name, s.typ.Base(), v)
	}
	return badf("column %s: expected %s, got %s %s", s.name, s.typ.Base(), what, v)
}

func rangeErr(s *decodeSlot, raw []byte) error {
	return badf("column %s: number %s out of range for %s", s.name, raw, s.typ.Base())
}

func timeRangeErr(s *decodeSlot, what string) error {
	if len(what) > 64 {
		what = what[:64] + "…"
	}
	return badf("column %s: time %s out of range for %s (%s)", s.name, what, s.typ.Base(), timeRangeText(s.typ))
}

func describeAt(b []byte, i int) string {
	end := min(i+16, len(b))
	return strconv.Quote(string(b[i:end]))
}

func skipWS(b []byte, i int) int {
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

// scanString returns the content bounds of the string at b[i] == '"'.
// Raw control characters inside strings are accepted (JSON forbids them;
// rejecting a record for one helps nobody).
func scanString(b []byte, i int) (s, e int, esc bool, next int, err error) {
	s = i + 1
	// Fast path: the closing quote, with no backslash before it.
	q := bytes.IndexByte(b[s:], '"')
	if q < 0 {
		return 0, 0, false, 0, badf("invalid JSON: unterminated string")
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
	return 0, 0, false, 0, badf("invalid JSON: unterminated string")
}

func scanNumber(b []byte, i int) (s, e int, isInt bool, err error) {
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
		return 0, 0, false, badf("invalid JSON: unexpected %s at byte %d", describeAt(b, i), i)
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
			return 0, 0, false, badf("invalid JSON: bad number at byte %d", i)
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
			return 0, 0, false, badf("invalid JSON: bad number at byte %d", i)
		}
	}
	return s, j, isInt, nil
}

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, badf("invalid JSON: unexpected end")
	}
	switch b[i] {
	case '"':
		_, _, _, next, err := scanString(b, i)
		return next, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, _, _, next, err := scanString(b, j)
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
		return 0, badf("invalid JSON: unterminated %c", b[i])
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
		_, e, _, err := scanNumber(b, i)
		return e, err
	}
	return 0, badf("invalid JSON: unexpected %s at byte %d", describeAt(b, i), i)
}

func parseInt(b []byte) (int64, bool) {
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

func parseUint(b []byte) (uint64, bool) {
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

func parseFloat(b []byte, isInt bool) (float64, bool) {
	if isInt && len(b) <= 16 {
		x, ok := parseInt(b)
		return float64(x), ok
	}
	// The string does not outlive the call: ParseFloat's error, which
	// would keep it, is dropped.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f, err == nil
}

// unescape appends the JSON string content raw (without quotes) to dst.
func unescape(dst, raw []byte) ([]byte, bool) {
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

// jsonStep is one step of a JSON path: a field name or an array index.
type jsonStep struct {
	key   string
	index int // -1 for a field step
}

// parseJSONPath parses `$.a.b[0]` (also `$."a b"` and `$['a']`). An
// unparsable path yields a path that matches nothing.
func parseJSONPath(p string) []jsonStep {
	steps := []jsonStep{}
	if len(p) == 0 || p[0] != '$' {
		return []jsonStep{{key: "\x00invalid", index: -1}}
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
				steps = append(steps, jsonStep{key: p[i+1 : min(j, len(p))], index: -1})
				i = j + 1
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			steps = append(steps, jsonStep{key: p[i:j], index: -1})
			i = j
		case '[':
			j := i + 1
			for j < len(p) && p[j] != ']' {
				j++
			}
			in := p[i+1 : min(j, len(p))]
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') {
				steps = append(steps, jsonStep{key: in[1 : len(in)-1], index: -1})
			} else if n, err := strconv.Atoi(in); err == nil && n >= 0 {
				steps = append(steps, jsonStep{index: n})
			} else {
				return []jsonStep{{key: "\x00invalid", index: -1}}
			}
			i = j + 1
		default:
			return []jsonStep{{key: "\x00invalid", index: -1}}
		}
	}
	return steps
}

// jsonScalarAt appends the scalar at path in doc as text to dst (strings
// unescaped, numbers and booleans as written). ok is false when the path
// is absent, the value is null, an object or an array, or doc is invalid.
func jsonScalarAt(dst, doc []byte, path []jsonStep) ([]byte, bool) {
	i := skipWS(doc, 0)
	for _, st := range path {
		if i >= len(doc) {
			return dst, false
		}
		found := false
		if st.index < 0 {
			if doc[i] != '{' {
				return dst, false
			}
			i = skipWS(doc, i+1)
			for i < len(doc) && doc[i] != '}' {
				if doc[i] != '"' {
					return dst, false
				}
				ks, ke, esc, next, err := scanString(doc, i)
				if err != nil {
					return dst, false
				}
				match := false
				if esc {
					var tmp [64]byte
					k, _ := unescape(tmp[:0], doc[ks:ke])
					match = string(k) == st.key
				} else {
					match = string(doc[ks:ke]) == st.key
				}
				i = skipWS(doc, next)
				if i >= len(doc) || doc[i] != ':' {
					return dst, false
				}
				i = skipWS(doc, i+1)
				if match {
					found = true
					break
				}
				if i, err = skipValue(doc, i); err != nil {
					return dst, false
				}
				i = skipWS(doc, i)
				if i < len(doc) && doc[i] == ',' {
					i = skipWS(doc, i+1)
				}
			}
		} else {
			if doc[i] != '[' {
				return dst, false
			}
			i = skipWS(doc, i+1)
			for n := 0; i < len(doc) && doc[i] != ']'; n++ {
				if n == st.index {
					found = true
					break
				}
				var err error
				if i, err = skipValue(doc, i); err != nil {
					return dst, false
				}
				i = skipWS(doc, i)
				if i < len(doc) && doc[i] == ',' {
					i = skipWS(doc, i+1)
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
		ks, ke, _, _, err := scanString(doc, i)
		if err != nil {
			return dst, false
		}
		return unescape(dst, doc[ks:ke])
	case '{', '[', 'n':
		return dst, false
	case 't', 'f':
		e, err := skipValue(doc, i)
		if err != nil {
			return dst, false
		}
		return append(dst, doc[i:e]...), true
	}
	_, e, _, err := scanNumber(doc, i)
	if err != nil {
		return dst, false
	}
	return append(dst, doc[i:e]...), true
}
