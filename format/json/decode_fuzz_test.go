package json

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/format/jsonscan"
	"github.com/sluice-sql/sluice/planner/dag"
)

// fuzzSchema builds a source schema from seed: one to six columns of any
// type, nullable or NOT NULL, some read at a nested PATH, some declared but
// not used by the pipeline (checked all the same). timeCol is the output
// column max_future applies to, or -1.
func fuzzSchema(seed uint64) (used, declared dag.Schema, timeCol int, maxFuture time.Duration) {
	r := rand.New(rand.NewPCG(seed, seed>>32|1))
	kinds := []dag.Kind{dag.String, dag.Int8, dag.Int16, dag.Int32, dag.Int64, dag.UInt8, dag.UInt16,
		dag.UInt32, dag.UInt64, dag.Float32, dag.Float64, dag.Bool, dag.Date, dag.DateTime, dag.DateTime64, dag.Decimal}
	segs := []string{"a", "b", "id", "ts", "x"}
	var paths [][]string
	clash := func(p []string) bool {
		// No column's path is a prefix of another's: one JSON value cannot
		// be both a scalar and an object.
		for _, q := range paths {
			n := min(len(p), len(q))
			same := true
			for i := 0; i < n; i++ {
				if p[i] != q[i] {
					same = false
					break
				}
			}
			if same {
				return true
			}
		}
		return false
	}
	timeCol = -1
	n := 1 + r.IntN(6)
	for i := 0; i < n; i++ {
		c := dag.Column{Name: fmt.Sprintf("c%d", i)}
		k := kinds[r.IntN(len(kinds))]
		c.Type = dag.Type{Kind: k, Nullable: r.IntN(3) > 0}
		switch k {
		case dag.DateTime64:
			c.Type.Precision = uint8(r.IntN(10))
		case dag.Decimal:
			c.Type.Precision = uint8(1 + r.IntN(18))
			c.Type.Scale = uint8(r.IntN(int(c.Type.Precision) + 1))
		}
		p := []string{c.Name}
		if r.IntN(2) == 0 {
			p = nil
			for d := 1 + r.IntN(3); d > 0; d-- {
				p = append(p, segs[r.IntN(len(segs))])
			}
		}
		if clash(p) {
			p = []string{c.Name}
		}
		if clash(p) {
			continue
		}
		paths = append(paths, p)
		if len(p) != 1 || p[0] != c.Name {
			c.Path = p
		}
		declared = append(declared, c)
		if r.IntN(5) > 0 || len(used) == 0 {
			if k.IsTime() && timeCol < 0 && r.IntN(2) == 0 {
				timeCol = len(used)
				maxFuture = time.Duration(1+r.IntN(100)) * time.Hour
			}
			used = append(used, c)
		}
	}
	return used, declared, timeCol, maxFuture
}

// appendJSONString writes s as a JSON string: quotes, backslashes and
// control characters escaped, every other byte as it is (the decoder takes
// them as they come).
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// encodeRow writes row i of b, whose columns are schema's, back as a JSON
// object at the columns' paths.
func encodeRow(schema dag.Schema, b *column.Batch, i int) []byte {
	type node struct {
		keys []string
		vals map[string]any // []byte (a JSON value) or *node
	}
	root := &node{vals: map[string]any{}}
	for c, col := range schema {
		p := col.Path
		if len(p) == 0 {
			p = []string{col.Name}
		}
		n := root
		for _, s := range p[:len(p)-1] {
			nx, ok := n.vals[s].(*node)
			if !ok {
				nx = &node{vals: map[string]any{}}
				n.keys = append(n.keys, s)
				n.vals[s] = nx
			}
			n = nx
		}
		last := p[len(p)-1]
		n.keys = append(n.keys, last)
		n.vals[last] = encodeValue(&b.Vecs[c], i)
	}
	var write func(dst []byte, n *node) []byte
	write = func(dst []byte, n *node) []byte {
		dst = append(dst, '{')
		for k, key := range n.keys {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, []byte(key))
			dst = append(dst, ':')
			switch v := n.vals[key].(type) {
			case *node:
				dst = write(dst, v)
			case []byte:
				dst = append(dst, v...)
			}
		}
		return append(dst, '}')
	}
	return write(nil, root)
}

func encodeValue(v *column.Vector, i int) []byte {
	if v.IsNull(i) {
		return []byte("null")
	}
	t := v.Type
	switch k := t.Kind; {
	case k == dag.String:
		return appendJSONString(nil, v.Bytes(i))
	case k == dag.Bool:
		return strconv.AppendBool(nil, v.I64[i] != 0)
	case k.Storage() == dag.StoreUint64:
		return strconv.AppendUint(nil, v.U64[i], 10)
	case k.Storage() == dag.StoreFloat64:
		return strconv.AppendFloat(nil, v.F64[i], 'g', -1, 64)
	case k == dag.Decimal:
		x := v.I64[i]
		neg := x < 0
		u := uint64(x)
		if neg {
			u = -u
		}
		digits := strconv.FormatUint(u, 10)
		for len(digits) <= int(t.Scale) {
			digits = "0" + digits
		}
		s := digits
		if t.Scale > 0 {
			s = digits[:len(digits)-int(t.Scale)] + "." + digits[len(digits)-int(t.Scale):]
		}
		if neg {
			s = "-" + s
		}
		return []byte(s)
	case k == dag.Date:
		y, m, d := column.CivilFromDays(v.I64[i])
		return append(column.AppendDate([]byte{'"'}, y, m, d), '"')
	case k.IsTime():
		return append(column.AppendTime([]byte{'"'}, v.I64[i], 9), '"')
	}
	return strconv.AppendInt(nil, v.I64[i], 10)
}

// checkRange reports a decoded value outside its column type.
func checkRange(col dag.Column, v *column.Vector, i int) error {
	if v.IsNull(i) {
		return nil
	}
	t := col.Type
	switch k := t.Kind; {
	case k == dag.Bool:
		if x := v.I64[i]; x != 0 && x != 1 {
			return fmt.Errorf("Bool %d", x)
		}
	case k.IsInteger() && k.Storage() == dag.StoreUint64:
		if v.U64[i] > k.UnsignedMax() {
			return fmt.Errorf("%d beyond %s", v.U64[i], k)
		}
	case k.IsInteger():
		if lo, hi := k.SignedRange(); v.I64[i] < lo || v.I64[i] > hi {
			return fmt.Errorf("%d beyond %s", v.I64[i], k)
		}
	case k == dag.Float32:
		if f := v.F64[i]; float64(float32(f)) != f && !math.IsNaN(f) {
			return fmt.Errorf("%v is not a Float32", f)
		}
	case k == dag.Decimal:
		if x := v.I64[i]; t.Precision < 19 && (x >= column.Pow10[t.Precision] || x <= -column.Pow10[t.Precision]) {
			return fmt.Errorf("%d beyond %s", x, t.Base())
		}
	case k.IsTime():
		ns := timeNanos(v, i)
		if k == dag.Date && (v.I64[i] < 0 || v.I64[i] > 65535) {
			return fmt.Errorf("Date %d days", v.I64[i])
		}
		if lo, hi := column.TimeRange(t); ns < lo || ns > hi {
			return fmt.Errorf("time %d beyond %s", ns, t.Base())
		}
		if column.ToTimeKind(ns, t) != v.I64[i] && k != dag.Date {
			return fmt.Errorf("time %d not truncated to %s", ns, t.Base())
		}
	}
	return nil
}

func sameValue(a, b *column.Vector, i int) bool {
	if a.IsNull(i) || b.IsNull(i) {
		return a.IsNull(i) == b.IsNull(i)
	}
	switch a.Type.Kind.Storage() {
	case dag.StoreUint64:
		return a.U64[i] == b.U64[i]
	case dag.StoreFloat64:
		return a.F64[i] == b.F64[i]
	case dag.StoreBytes:
		return string(a.Bytes(i)) == string(b.Bytes(i))
	}
	return a.I64[i] == b.I64[i]
}

// FuzzDecode decodes any bytes by a random declared schema. A record is
// either decoded into exactly one row, every value in its column type's
// range and reading back the same from its own JSON, or refused with a
// reason and no row; it never panics. (The schema's time column and
// max_future are the runtime's, checked after decoding; see
// runtime.TestDecodeMaxFuture.)
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"c0":"x","c1":1,"c2":2.5,"c3":true,"c4":"2024-03-01 10:00:00","c5":null}`,
		`{"a":{"b":{"x":"9999-12-31 23:59:59"}},"c1":-1,"ts":"2262-04-11 23:47:16.854775807"}`,
		`{"c0":1e308,"c1":"1970-01-01","c2":4294967296,"c3":-9223372036854775808,"c4":18446744073709551615}`,
		`{"c0":"\u00e9\ud83d\ude00\n","c1":[1,{"a":2}],"c2":{"x":"y"},"id":"2106-02-07T06:28:15Z"}`,
		`{"c0":0.000001,"c1":"2149-06-06","c2":-2208988800,"c3":"1899-12-31T23:59:59+01:00"}`,
		`{"c0":12.345,"c1":-0.5,"c2":99999999999,"c3":1e3,"c4":"-0"}`,
		`{"a":{"a":{"a":1}},"b":{"b":"2024-01-01T00:00:00.123456789-23:59"}}`,
		`{"c0":"\u0000\"\\\/\b\f\r\t","c1":tru,"c2":nul}`,
		`{}`, `[]`, `{"c0":`, `"c0"`, ``,
	}
	for i, s := range seeds {
		f.Add(uint64(i*7919+1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		used, declared, _, _ := fuzzSchema(seed)
		d, err := NewDecoder(used, declared)
		if err != nil {
			t.Fatalf("schema %v: %v", used, err)
		}
		out := column.NewBatch(used)
		err = d.Decode(data, out)
		if err != nil {
			var de *jsonscan.Error
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("refused without a reason: %#v", err)
			}
			for c := range out.Vecs {
				if out.Len != 0 || out.Vecs[c].Len() != 0 {
					t.Fatalf("a refused record left a row: %v", err)
				}
			}
			return
		}
		out.Len++
		for c, col := range used {
			v := &out.Vecs[c]
			if v.Len() != 1 {
				t.Fatalf("column %s has %d values", col.Name, v.Len())
			}
			if v.IsNull(0) && !col.Type.Nullable {
				t.Fatalf("NOT NULL column %s is NULL", col.Name)
			}
			if err := checkRange(col, v, 0); err != nil {
				t.Fatalf("column %s: %v", col.Name, err)
			}
		}
		// Round trip: the row written back as JSON decodes to itself.
		again := encodeRow(used, out, 0)
		d2, _ := NewDecoder(used, used)
		out2 := column.NewBatch(used)
		if err := d2.Decode(again, out2); err != nil {
			t.Fatalf("the decoded row %s does not decode again: %v", again, err)
		}
		for c, col := range used {
			if !sameValue(&out.Vecs[c], &out2.Vecs[c], 0) {
				t.Fatalf("column %s: %s read back as %s (from %s)", col.Name, render(&out.Vecs[c], 0), render(&out2.Vecs[c], 0), again)
			}
		}
	})
}

// timeNanos returns row i of a time vector in nanoseconds (Date is days).
func timeNanos(v *column.Vector, i int) int64 {
	if v.Type.Kind == dag.Date {
		return v.I64[i] * column.NsPerDay
	}
	return v.I64[i]
}
