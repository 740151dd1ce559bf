package json

// The decoder turns JSON records into columnar rows. It is a small scanner
// written for this one job rather than encoding/json: it looks up only the
// fields the schema names, converts values straight into vector storage,
// skips everything else without building anything, and allocates nothing
// per record once its buffers have grown (bad records excepted: their
// reason is a new string).

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/format"
	"github.com/sluice-sql/sluice/format/jsonscan"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Format is the JSON record format (the `format` option's `json`): each
// record's value is one JSON object whose fields are the declared columns,
// read at their PATH when they have one.
var Format = format.Format{
	Name: "json",
	NewDecoder: func(s format.Spec) (format.Decoder, error) {
		return NewDecoder(s.Schema, s.Declared)
	},
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

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

type Decoder struct {
	slots   []decodeSlot
	cells   []cell
	root    pathNode
	scratch []byte
}

// NewDecoder builds a decoder for a source node's schema; declared is the
// source's full declared schema (NOT NULL and type checks apply to every
// declared column, used or not, so a record is accepted or rejected the
// same way whichever pipeline reads it).
func NewDecoder(schema, declared dag.Schema) (*Decoder, error) {
	d := &Decoder{}
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
			// The runtime fills pseudo-columns from the record's metadata.
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

// badf returns a record's dead-letter reason.
func badf(msg string, args ...any) error { return jsonscan.Errorf(msg, args...) }

// Decode appends the record value as one row to the vectors of out that
// hold the schema's columns other than pseudo-columns, or returns why it
// cannot (the record's dead-letter reason); out is unchanged on error. It
// leaves out.Len and the pseudo-columns' vectors to the caller, which
// fills those from the record's metadata.
func (d *Decoder) Decode(value []byte, out *column.Batch) error {
	for i := range d.cells {
		d.cells[i].state = cellUnset
	}
	d.scratch = d.scratch[:0]
	b := value
	i := jsonscan.SkipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return badf("not a JSON object")
	}
	i, err := d.object(b, i, &d.root)
	if err != nil {
		return err
	}
	if i = jsonscan.SkipWS(b, i); i != len(b) {
		return badf("not one JSON object: unexpected %s at byte %d", jsonscan.Describe(b, i), i)
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
	return nil
}

// object scans the object at b[i] == '{', filling the slots of node.
func (d *Decoder) object(b []byte, i int, node *pathNode) (int, error) {
	i = jsonscan.SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, badf("invalid JSON: expected a field name at byte %d", i)
		}
		ks, ke, esc, next, err := jsonscan.String(b, i)
		if err != nil {
			return 0, err
		}
		key := b[ks:ke]
		if esc {
			d.scratch, _ = jsonscan.Unescape(d.scratch[:0], key)
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
		i = jsonscan.SkipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, badf("invalid JSON: expected ':' at byte %d", i)
		}
		i = jsonscan.SkipWS(b, i+1)
		if i >= len(b) {
			return 0, badf("invalid JSON: unexpected end")
		}
		if k < 0 {
			if i, err = jsonscan.SkipValue(b, i); err != nil {
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
				if i, err = jsonscan.SkipValue(b, start); err != nil {
					return 0, err
				}
			}
		}
		i = jsonscan.SkipWS(b, i)
		if i >= len(b) {
			return 0, badf("invalid JSON: unexpected end")
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, badf("invalid JSON: expected ',' or '}' at byte %d", i)
		}
		i = jsonscan.SkipWS(b, i+1)
	}
}

// value converts the JSON value at b[i] into the cell of slot s.
func (d *Decoder) value(b []byte, i int, s int) (int, error) {
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
		ss, se, esc, next, err := jsonscan.String(b, i)
		if err != nil {
			return 0, err
		}
		raw := b[ss:se]
		if esc {
			st := len(d.scratch)
			var ok bool
			d.scratch, ok = jsonscan.Unescape(d.scratch, raw)
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
			ns, ok, over := column.ParseTimeOver(raw)
			if !ok {
				return 0, typeErr(slot, "string", raw)
			}
			if lo, hi := column.TimeRange(t); over || ns < lo || ns > hi {
				return 0, timeRangeErr(slot, strconv.Quote(string(raw)))
			}
			c.i = column.ToTimeKind(ns, t)
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
		end, err := jsonscan.SkipValue(b, i)
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
	ns, ne, isInt, err := jsonscan.Number(b, i)
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
			u, ok := jsonscan.ParseUint(num)
			if !ok || u > k.UnsignedMax() {
				return 0, rangeErr(slot, num)
			}
			c.u = u
		} else {
			x, ok := jsonscan.ParseInt(num)
			lo, hi := k.SignedRange()
			if !ok || x < lo || x > hi {
				return 0, rangeErr(slot, num)
			}
			c.i = x
		}
	case k == dag.Float32 || k == dag.Float64:
		f, ok := jsonscan.ParseFloat(num, isInt)
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
		x, ok := column.ParseDecimal(num, int(t.Scale))
		if !ok {
			f, ok2 := jsonscan.ParseFloat(num, false)
			x = int64(math.Round(f * float64(column.Pow10[t.Scale])))
			ok = ok2 && math.Abs(f*float64(column.Pow10[t.Scale])) < 9.2e18
		}
		if !ok || (t.Precision > 0 && t.Precision < 19 && (x >= column.Pow10[t.Precision] || x <= -column.Pow10[t.Precision])) {
			return 0, rangeErr(slot, num)
		}
		c.i = x
	case k.IsTime():
		var ns int64
		var ok bool
		if isInt {
			var x int64
			if x, ok = jsonscan.ParseInt(num); ok {
				ns, ok = column.EpochIntToNanos(x)
			}
		} else {
			var f float64
			if f, ok = jsonscan.ParseFloat(num, false); ok {
				ns, ok = column.EpochToNanos(f)
			}
		}
		if lo, hi := column.TimeRange(t); !ok || ns < lo || ns > hi {
			return 0, timeRangeErr(slot, string(num))
		}
		c.i = column.ToTimeKind(ns, t)
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
	return badf("column %s: time %s out of range for %s (%s)", s.name, what, s.typ.Base(), column.TimeRangeText(s.typ))
}
