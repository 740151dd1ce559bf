package runtime

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/sluice-sql/sluice/planner/dag"
)

// stateWriter and stateReader are the byte encoding of operator snapshots:
// little-endian fixed-width numbers and length-prefixed bytes. Operators
// write their live state only (released state is not carried over).
type stateWriter struct{ buf []byte }

func (w *stateWriter) u64(x uint64) { w.buf = binary.LittleEndian.AppendUint64(w.buf, x) }
func (w *stateWriter) i64(x int64)  { w.u64(uint64(x)) }
func (w *stateWriter) f64(x float64) {
	w.u64(math.Float64bits(x))
}
func (w *stateWriter) bool(b bool) {
	if b {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}
func (w *stateWriter) bytes(b []byte) {
	w.u64(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// value writes row i of v.
func (w *stateWriter) value(v *Vector, i int) {
	if v.IsNull(i) {
		w.bool(true)
		return
	}
	w.bool(false)
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		w.u64(v.U64[i])
	case dag.StoreFloat64:
		w.f64(v.F64[i])
	case dag.StoreBytes:
		w.bytes(v.Bytes(i))
	default:
		w.i64(v.I64[i])
	}
}

// valueSize is the number of bytes value writes for row i of v.
func valueSize(v *Vector, i int) int {
	if v.IsNull(i) {
		return 1
	}
	if v.Type.Kind.Storage() == dag.StoreBytes {
		return 1 + 8 + int(v.Offs[i+1]-v.Offs[i])
	}
	return 1 + 8
}

var errCorruptState = errors.New("corrupt operator state")

type stateReader struct {
	buf []byte
	err error
}

func (r *stateReader) u64() uint64 {
	if len(r.buf) < 8 {
		r.err = errCorruptState
		return 0
	}
	x := binary.LittleEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return x
}
func (r *stateReader) i64() int64   { return int64(r.u64()) }
func (r *stateReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *stateReader) bool() bool {
	if len(r.buf) < 1 {
		r.err = errCorruptState
		return false
	}
	b := r.buf[0] != 0
	r.buf = r.buf[1:]
	return b
}
func (r *stateReader) bytes() []byte {
	n := r.u64()
	if r.err != nil || uint64(len(r.buf)) < n {
		r.err = errCorruptState
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

// count reads a length and checks it against what remains, so corrupt
// input cannot make a restore allocate without bound.
func (r *stateReader) count() int {
	n := r.u64()
	if n > uint64(len(r.buf)) {
		r.err = errCorruptState
		return 0
	}
	return int(n)
}

// value appends one value written by stateWriter.value to v.
func (r *stateReader) value(v *Vector) {
	if r.bool() {
		v.AppendNull()
		return
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.AppendUint(r.u64())
	case dag.StoreFloat64:
		v.AppendFloat(r.f64())
	case dag.StoreBytes:
		v.AppendBytes(r.bytes())
	default:
		v.AppendInt(r.i64())
	}
}

// satSub is a − b clamped at the int64 range, for watermark arithmetic
// where the watermark starts at math.MinInt64.
func satSub(a, b int64) int64 {
	r := a - b
	if (b > 0 && r > a) || (b < 0 && r < a) {
		if b > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return r
}
