package runtime

import (
	"bytes"
	"math"
	"strconv"

	"github.com/sluice-sql/sluice/planner/dag"
)

// CAST converts between every pair of kinds. A value that cannot be
// converted (a string that is not a number, a number out of the target's
// range) becomes NULL instead of failing the pipeline: a stream cannot
// stop for one bad value, and the NULL is visible in the output.

func castVector(src, out *Vector, n int) {
	if src.Type.Kind == out.Type.Kind && src.Type.Scale == out.Type.Scale &&
		(src.Type.Precision == out.Type.Precision || out.Type.Kind != dag.DateTime64) {
		out.AppendVector(src)
		return
	}
	for i := 0; i < n; i++ {
		if src.IsNull(i) {
			out.AppendNull()
			continue
		}
		castRow(src, i, out)
	}
}

// castRow appends row i of src (not NULL) converted to out's type.
func castRow(src *Vector, i int, out *Vector) {
	to := out.Type
	from := src.Type
	if from.Kind == dag.Null {
		out.AppendNull()
		return
	}
	if to.Kind == dag.String {
		out.Data = appendText(out.Data, src, i)
		finishString(out)
		return
	}
	if from.Kind == dag.String {
		castFromString(bytes.TrimSpace(src.Bytes(i)), out)
		return
	}
	switch {
	case to.Kind == dag.Float32 || to.Kind == dag.Float64:
		f, _ := numAsFloat(src, i)
		if to.Kind == dag.Float32 {
			f = float64(float32(f))
		}
		out.AppendFloat(f)
	case to.Kind.IsInteger():
		// Times become epoch seconds (Date: days), as ClickHouse does.
		if from.Kind.Storage() == dag.StoreUint64 {
			putCheckedUint(out, src.U64[i])
			return
		}
		if from.Kind.Storage() == dag.StoreFloat64 {
			f := math.Trunc(src.F64[i])
			if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
				if to.Kind == dag.UInt64 && f >= 0 && f < 1.8446744073709551615e19 {
					out.AppendUint(uint64(f))
					return
				}
				out.AppendNull()
				return
			}
			putCheckedInt(out, int64(f))
			return
		}
		x := src.I64[i]
		switch from.Kind {
		case dag.Decimal:
			x /= pow10[from.Scale]
		case dag.DateTime, dag.DateTime64:
			x = floorDiv(x, nsPerSec)
		}
		putCheckedInt(out, x)
	case to.Kind == dag.Bool:
		f, _ := numAsFloat(src, i)
		out.AppendInt(b2i(f != 0))
	case to.Kind == dag.Decimal:
		s := int(to.Scale)
		switch {
		case from.Kind == dag.Decimal:
			r, ok := rescale(src.I64[i], int(from.Scale), s)
			putDecimal(out, r, ok)
		case from.Kind.Storage() == dag.StoreFloat64:
			f := math.Round(src.F64[i] * float64(pow10[s]))
			putDecimal(out, int64(f), f == f && math.Abs(f) < 9.2e18)
		case from.Kind.Storage() == dag.StoreUint64:
			u := src.U64[i]
			r, ok := rescale(int64(u), 0, s)
			putDecimal(out, r, ok && u <= math.MaxInt64)
		case from.Kind.IsTime():
			x := src.I64[i]
			if from.Kind != dag.Date {
				x = floorDiv(x, nsPerSec)
			}
			r, ok := rescale(x, 0, s)
			putDecimal(out, r, ok)
		default:
			r, ok := rescale(src.I64[i], 0, s)
			putDecimal(out, r, ok)
		}
	case to.Kind.IsTime():
		var ns int64
		var ok bool
		switch {
		case from.Kind.IsTime():
			ns, ok = timeNanos(src, i), true
		case from.Kind.Storage() == dag.StoreUint64:
			if src.U64[i] > math.MaxInt64 {
				break
			}
			ns, ok = epochIntToNanos(int64(src.U64[i]))
		case from.Kind.Storage() == dag.StoreFloat64:
			ns, ok = epochToNanos(src.F64[i])
		case from.Kind == dag.Decimal:
			ns, ok = epochToNanos(float64(src.I64[i]) / float64(pow10[from.Scale]))
		default:
			ns, ok = epochIntToNanos(src.I64[i])
		}
		if lo, hi := timeRange(to); !ok || ns < lo || ns > hi {
			out.AppendNull()
			return
		}
		putTime(out, ns)
	default:
		out.AppendNull()
	}
}

func putDecimal(out *Vector, x int64, ok bool) {
	if !ok || (out.Type.Precision > 0 && out.Type.Precision < 19 && (x >= pow10[out.Type.Precision] || x <= -pow10[out.Type.Precision])) {
		out.AppendNull()
		return
	}
	out.AppendInt(x)
}

func putCheckedInt(out *Vector, x int64) {
	k := out.Type.Kind
	if k.Storage() == dag.StoreUint64 {
		if x < 0 || uint64(x) > k.UnsignedMax() {
			out.AppendNull()
			return
		}
		out.AppendUint(uint64(x))
		return
	}
	lo, hi := k.SignedRange()
	if x < lo || x > hi {
		out.AppendNull()
		return
	}
	out.AppendInt(x)
}

func putCheckedUint(out *Vector, x uint64) {
	k := out.Type.Kind
	if k.Storage() == dag.StoreUint64 {
		if x > k.UnsignedMax() {
			out.AppendNull()
			return
		}
		out.AppendUint(x)
		return
	}
	_, hi := k.SignedRange()
	if x > uint64(hi) {
		out.AppendNull()
		return
	}
	out.AppendInt(int64(x))
}

// numAsFloat reads any non-string row as a float (times as epoch seconds).
func numAsFloat(v *Vector, i int) (float64, bool) {
	switch v.Type.Kind.Storage() {
	case dag.StoreFloat64:
		return v.F64[i], true
	case dag.StoreUint64:
		return float64(v.U64[i]), true
	case dag.StoreBytes:
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v.Bytes(i))), 64)
		return f, err == nil
	}
	switch v.Type.Kind {
	case dag.Decimal:
		return float64(v.I64[i]) / float64(pow10[v.Type.Scale]), true
	case dag.DateTime, dag.DateTime64:
		return float64(v.I64[i]) / 1e9, true
	}
	return float64(v.I64[i]), true
}

func castFromString(s []byte, out *Vector) {
	to := out.Type
	switch {
	case to.Kind == dag.Float32 || to.Kind == dag.Float64:
		f, err := strconv.ParseFloat(string(s), 64)
		if err != nil {
			out.AppendNull()
			return
		}
		if to.Kind == dag.Float32 {
			f = float64(float32(f))
		}
		out.AppendFloat(f)
	case to.Kind.Storage() == dag.StoreUint64:
		u, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			out.AppendNull()
			return
		}
		putCheckedUint(out, u)
	case to.Kind.IsInteger():
		x, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			out.AppendNull()
			return
		}
		putCheckedInt(out, x)
	case to.Kind == dag.Bool:
		switch string(bytes.ToLower(s)) {
		case "true", "1", "t", "yes":
			out.AppendInt(1)
		case "false", "0", "f", "no":
			out.AppendInt(0)
		default:
			out.AppendNull()
		}
	case to.Kind == dag.Decimal:
		x, ok := parseDecimal(s, int(to.Scale))
		putDecimal(out, x, ok)
	case to.Kind.IsTime():
		ns, ok := parseTime(s)
		if !ok {
			if f, err := strconv.ParseFloat(string(s), 64); err == nil {
				ns, ok = epochToNanos(f)
			}
		}
		if lo, hi := timeRange(to); !ok || ns < lo || ns > hi {
			out.AppendNull()
			return
		}
		putTime(out, ns)
	default:
		out.AppendNull()
	}
}

// appendText formats row i of v as text (ClickHouse's text forms).
func appendText(dst []byte, v *Vector, i int) []byte {
	t := v.Type
	switch t.Kind {
	case dag.String:
		return append(dst, v.Bytes(i)...)
	case dag.Bool:
		if v.I64[i] != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case dag.Float32:
		return appendFloat(dst, v.F64[i], 32)
	case dag.Float64:
		return appendFloat(dst, v.F64[i], 64)
	case dag.Date:
		y, m, d := civilFromDays(v.I64[i])
		return appendDate(dst, y, m, d)
	case dag.DateTime:
		return appendTime(dst, v.I64[i], 0)
	case dag.DateTime64:
		return appendTime(dst, v.I64[i], int(t.Precision))
	case dag.Decimal:
		return appendDecimal(dst, v.I64[i], int(t.Scale))
	}
	if t.Kind.Storage() == dag.StoreUint64 {
		return strconv.AppendUint(dst, v.U64[i], 10)
	}
	return strconv.AppendInt(dst, v.I64[i], 10)
}

func appendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f != f:
		return append(dst, "nan"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'g', -1, bitSize)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bitSize)
}

func appendDecimal(dst []byte, x int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(dst, x, 10)
	}
	u := uint64(x)
	if x < 0 {
		dst = append(dst, '-')
		u = uint64(-x)
	}
	p := uint64(pow10[scale])
	dst = strconv.AppendUint(dst, u/p, 10)
	dst = append(dst, '.')
	start := len(dst)
	dst = strconv.AppendUint(dst, u%p+p, 10)
	copy(dst[start:], dst[start+1:])
	return dst[:len(dst)-1]
}
