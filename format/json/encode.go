// Package json is Sluice's JSON record format. Its Encoder renders rows of
// a runtime batch as JSON objects for the sinks that write JSON (kafka,
// file, stdout) and for previews. Values are written so that a Sluice JSON
// source reads them back as the same values: times as
// 'YYYY-MM-DD hh:mm:ss[.fff]' in UTC, decimals as exact numbers.
//
// A format is a package of its own, so that Avro, Protobuf or CSV can be
// added beside it.
package json

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Encoder appends rows of batches of one schema.
type Encoder struct {
	schema dag.Schema
	keys   [][]byte // `"name":` per column, quoted once
}

// NewEncoder returns an encoder for rows of schema.
func NewEncoder(schema dag.Schema) *Encoder {
	e := &Encoder{schema: schema, keys: make([][]byte, len(schema))}
	for i, c := range schema {
		k := AppendString(nil, c.Name)
		e.keys[i] = append(k, ':')
	}
	return e
}

// AppendRow appends row i of b as one JSON object (without a newline).
func (e *Encoder) AppendRow(dst []byte, b *column.Batch, i int) []byte {
	dst = append(dst, '{')
	for c := range e.schema {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.keys[c]...)
		dst = AppendValue(dst, &b.Vecs[c], e.schema[c].Type, i)
	}
	return append(dst, '}')
}

// AppendValue appends row i of v, of type t, as a JSON value. An empty
// Nulls, nil or not, means no row is NULL (the runtime keeps the capacity of
// Nulls across batches).
func AppendValue(dst []byte, v *column.Vector, t dag.Type, i int) []byte {
	if len(v.Nulls) != 0 && v.Nulls[i] {
		return append(dst, "null"...)
	}
	switch t.Kind {
	case dag.String:
		return appendStringBytes(dst, v.Data[v.Offs[i]:v.Offs[i+1]])
	case dag.UInt8, dag.UInt16, dag.UInt32, dag.UInt64:
		return strconv.AppendUint(dst, v.U64[i], 10)
	case dag.Float32, dag.Float64:
		f := v.F64[i]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// JSON has no NaN or infinity.
			return append(dst, "null"...)
		}
		bits := 64
		if t.Kind == dag.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	case dag.Bool:
		return strconv.AppendBool(dst, v.I64[i] != 0)
	case dag.Date:
		dst = append(dst, '"')
		dst = time.Unix(v.I64[i]*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
		return append(dst, '"')
	case dag.DateTime, dag.DateTime64:
		return AppendTime(dst, v.I64[i], t)
	case dag.Decimal:
		return AppendDecimal(dst, v.I64[i], int(t.Scale))
	default: // signed integers
		return strconv.AppendInt(dst, v.I64[i], 10)
	}
}

// AppendTime appends ns (nanoseconds since the epoch) as a quoted UTC time
// with the sub-second digits of t: none for DateTime, Precision for
// DateTime64.
func AppendTime(dst []byte, ns int64, t dag.Type) []byte {
	tm := time.Unix(0, ns).UTC()
	dst = append(dst, '"')
	dst = tm.AppendFormat(dst, time.DateTime)
	if p := int(t.Precision); t.Kind == dag.DateTime64 && p > 0 {
		if p > 9 {
			p = 9
		}
		frac := tm.Nanosecond()
		dst = append(dst, '.')
		var digits [9]byte
		for j := 8; j >= 0; j-- {
			digits[j] = byte('0' + frac%10)
			frac /= 10
		}
		dst = append(dst, digits[:p]...)
	}
	return append(dst, '"')
}

// AppendDecimal appends the unscaled value u with scale digits after the
// point, exactly (no float rounding).
func AppendDecimal(dst []byte, u int64, scale int) []byte {
	if scale <= 0 {
		return strconv.AppendInt(dst, u, 10)
	}
	var abs uint64
	if u < 0 {
		dst = append(dst, '-')
		abs = uint64(-(u + 1)) + 1 // no overflow at MinInt64
	} else {
		abs = uint64(u)
	}
	// Digits from the last; at least scale+1 of them, for the leading 0.
	var buf [40]byte
	i := len(buf)
	for n := 0; abs > 0 || n <= scale; n++ {
		i--
		buf[i] = byte('0' + abs%10)
		abs /= 10
	}
	point := len(buf) - scale
	dst = append(dst, buf[i:point]...)
	dst = append(dst, '.')
	return append(dst, buf[point:]...)
}

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte {
	return appendStringBytes(dst, []byte(s))
}

const hex = "0123456789abcdef"

func appendStringBytes(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8 would make the whole line unreadable to
			// strict JSON readers.
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
