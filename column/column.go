// Package column holds the columnar batches rows travel in — the vectors
// the runtime computes over and the record formats decode into and encode
// from — and the conversions of column values (times, decimals) both
// share. It imports nothing of Sluice but planner/dag.
package column

import (
	"slices"
	"unsafe"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Vector is one column of a batch. Which slice holds the values follows
// Type.Kind.Storage(); the others are empty. Reset keeps capacity, so a
// vector reused across batches stops allocating once it has grown.
type Vector struct {
	Type dag.Type
	// Nulls[i] is true where row i is NULL. nil means no row is NULL.
	// Inside the runtime an empty (len 0) Nulls also means no NULLs, so
	// Reset can keep its capacity; otherwise len(Nulls) is the row count.
	Nulls []bool
	I64   []int64   // signed integers, Bool (0/1), Date (days), DateTime/DateTime64 (ns), Decimal (unscaled)
	U64   []uint64  // unsigned integers
	F64   []float64 // floats
	// Strings: row i is Data[Offs[i]:Offs[i+1]]; len(Offs) is rows+1.
	Data []byte
	Offs []uint32
}

// Batch is a set of rows stored by column. All vectors have Len rows.
type Batch struct {
	Vecs []Vector
	Len  int
}

// NewVector returns an empty vector of type t.
func NewVector(t dag.Type) Vector {
	v := Vector{Type: t}
	if t.Kind.Storage() == dag.StoreBytes {
		v.Offs = []uint32{0}
	}
	return v
}

// NewBatch returns an empty batch with one vector per column of s.
func NewBatch(s dag.Schema) *Batch {
	b := &Batch{Vecs: make([]Vector, len(s))}
	for i, c := range s {
		b.Vecs[i] = NewVector(c.Type)
	}
	return b
}

// Len returns the number of rows in v.
func (v *Vector) Len() int {
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		return len(v.U64)
	case dag.StoreFloat64:
		return len(v.F64)
	case dag.StoreBytes:
		if len(v.Offs) == 0 {
			return 0
		}
		return len(v.Offs) - 1
	}
	return len(v.I64)
}

// Reset empties v and keeps its capacity.
func (v *Vector) Reset() {
	v.Nulls = v.Nulls[:0]
	v.I64 = v.I64[:0]
	v.U64 = v.U64[:0]
	v.F64 = v.F64[:0]
	v.Data = v.Data[:0]
	if v.Type.Kind.Storage() == dag.StoreBytes {
		v.Offs = append(v.Offs[:0], 0)
	} else {
		v.Offs = v.Offs[:0]
	}
}

// Truncate drops the rows of v from n on; n must not exceed v.Len().
func (v *Vector) Truncate(n int) {
	if len(v.Nulls) > n {
		v.Nulls = v.Nulls[:n]
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.U64 = v.U64[:n]
	case dag.StoreFloat64:
		v.F64 = v.F64[:n]
	case dag.StoreBytes:
		v.Data = v.Data[:v.Offs[n]]
		v.Offs = v.Offs[:n+1]
	default:
		v.I64 = v.I64[:n]
	}
}

// IsNull reports whether row i is NULL.
func (v *Vector) IsNull(i int) bool { return len(v.Nulls) > 0 && v.Nulls[i] }

// HasNulls reports whether any row may be NULL.
func (v *Vector) HasNulls() bool { return len(v.Nulls) > 0 }

// Bytes returns string row i without copying; the slice aliases v.Data and
// is valid until v is next modified.
func (v *Vector) Bytes(i int) []byte { return v.Data[v.Offs[i]:v.Offs[i+1]] }

// Str returns string row i as a string sharing v.Data's memory, so that map
// lookups and comparisons need no allocation. It must not be retained
// beyond the next change to v.
func (v *Vector) Str(i int) string {
	b := v.Data[v.Offs[i]:v.Offs[i+1]]
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// markNull records row (about to be appended) as NULL or not, materialising
// the Nulls slice only when the first NULL arrives.
func (v *Vector) markNull(null bool, rows int) {
	if null {
		if len(v.Nulls) == 0 {
			v.Nulls = growBools(v.Nulls[:0], rows)
		}
		v.Nulls = append(v.Nulls, true)
	} else if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
}

func growBools(s []bool, n int) []bool {
	for i := 0; i < n; i++ {
		s = append(s, false)
	}
	return s
}

// AppendNull appends a NULL (the storage slot holds the zero value).
func (v *Vector) AppendNull() {
	n := v.Len()
	v.markNull(true, n)
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.U64 = append(v.U64, 0)
	case dag.StoreFloat64:
		v.F64 = append(v.F64, 0)
	case dag.StoreBytes:
		v.Offs = append(v.Offs, uint32(len(v.Data)))
	default:
		v.I64 = append(v.I64, 0)
	}
}

// AppendInt appends a non-NULL value of an int64-stored kind.
func (v *Vector) AppendInt(x int64) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	v.I64 = append(v.I64, x)
}

// AppendUint appends a non-NULL unsigned value.
func (v *Vector) AppendUint(x uint64) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	v.U64 = append(v.U64, x)
}

// AppendFloat appends a non-NULL float.
func (v *Vector) AppendFloat(x float64) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	v.F64 = append(v.F64, x)
}

// AppendBytes appends a non-NULL string.
func (v *Vector) AppendBytes(s []byte) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	if len(v.Offs) == 0 {
		v.Offs = append(v.Offs, uint32(len(v.Data)))
	}
	v.Data = append(v.Data, s...)
	v.Offs = append(v.Offs, uint32(len(v.Data)))
}

// AppendString appends a non-NULL string.
func (v *Vector) AppendString(s string) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	if len(v.Offs) == 0 {
		v.Offs = append(v.Offs, uint32(len(v.Data)))
	}
	v.Data = append(v.Data, s...)
	v.Offs = append(v.Offs, uint32(len(v.Data)))
}

// AppendValue appends a dag.Value of v's type.
func (v *Vector) AppendValue(x dag.Value) {
	if x.Null {
		v.AppendNull()
		return
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.AppendUint(x.U)
	case dag.StoreFloat64:
		v.AppendFloat(x.F)
	case dag.StoreBytes:
		v.AppendString(x.S)
	default:
		v.AppendInt(x.I)
	}
}

// AppendFrom appends row i of src, which has the same storage class.
func (v *Vector) AppendFrom(src *Vector, i int) {
	if src.IsNull(i) {
		v.AppendNull()
		return
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.AppendUint(src.U64[i])
	case dag.StoreFloat64:
		v.AppendFloat(src.F64[i])
	case dag.StoreBytes:
		v.AppendBytes(src.Bytes(i))
	default:
		v.AppendInt(src.I64[i])
	}
}

// AppendVector appends every row of src, which has the same storage class.
func (v *Vector) AppendVector(src *Vector) {
	n := src.Len()
	if n == 0 {
		return
	}
	before := v.Len()
	if src.HasNulls() {
		if len(v.Nulls) == 0 {
			v.Nulls = growBools(v.Nulls[:0], before)
		}
		v.Nulls = append(v.Nulls, src.Nulls[:n]...)
	} else if len(v.Nulls) > 0 {
		v.Nulls = growBools(v.Nulls, n)
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.U64 = append(v.U64, src.U64[:n]...)
	case dag.StoreFloat64:
		v.F64 = append(v.F64, src.F64[:n]...)
	case dag.StoreBytes:
		if len(v.Offs) == 0 {
			v.Offs = append(v.Offs, uint32(len(v.Data)))
		}
		base := uint32(len(v.Data)) - src.Offs[0]
		v.Data = append(v.Data, src.Data[src.Offs[0]:src.Offs[n]]...)
		for _, o := range src.Offs[1 : n+1] {
			v.Offs = append(v.Offs, o+base)
		}
	default:
		v.I64 = append(v.I64, src.I64[:n]...)
	}
}

// Gather appends the rows of src listed in sel, in that order.
func (v *Vector) Gather(src *Vector, sel []int32) {
	srcNulls := src.HasNulls()
	if srcNulls || len(v.Nulls) > 0 {
		if len(v.Nulls) == 0 {
			v.Nulls = growBools(v.Nulls[:0], v.Len())
		}
		for _, i := range sel {
			v.Nulls = append(v.Nulls, srcNulls && src.Nulls[i])
		}
	}
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		for _, i := range sel {
			v.U64 = append(v.U64, src.U64[i])
		}
	case dag.StoreFloat64:
		for _, i := range sel {
			v.F64 = append(v.F64, src.F64[i])
		}
	case dag.StoreBytes:
		if len(v.Offs) == 0 {
			v.Offs = append(v.Offs, uint32(len(v.Data)))
		}
		for _, i := range sel {
			v.Data = append(v.Data, src.Data[src.Offs[i]:src.Offs[i+1]]...)
			v.Offs = append(v.Offs, uint32(len(v.Data)))
		}
	default:
		for _, i := range sel {
			v.I64 = append(v.I64, src.I64[i])
		}
	}
}

// Reserve grows v's capacity for n more rows (strings: bytesPerString
// bytes each), so appending them does not reallocate.
func (v *Vector) Reserve(n, bytesPerString int) {
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		v.U64 = slices.Grow(v.U64, n)
	case dag.StoreFloat64:
		v.F64 = slices.Grow(v.F64, n)
	case dag.StoreBytes:
		v.Offs = slices.Grow(v.Offs, n+1)
		v.Data = slices.Grow(v.Data, n*bytesPerString)
	default:
		v.I64 = slices.Grow(v.I64, n)
	}
}

// Reset empties every vector of b and keeps capacity.
func (b *Batch) Reset() {
	for i := range b.Vecs {
		b.Vecs[i].Reset()
	}
	b.Len = 0
}

// Gather appends the rows of src listed in sel to b (same schema).
func (b *Batch) Gather(src *Batch, sel []int32) {
	for i := range b.Vecs {
		b.Vecs[i].Gather(&src.Vecs[i], sel)
	}
	b.Len += len(sel)
}

// AppendRow appends row i of src to b (same schema).
func (b *Batch) AppendRow(src *Batch, i int) {
	for c := range b.Vecs {
		b.Vecs[c].AppendFrom(&src.Vecs[c], i)
	}
	b.Len++
}

// AppendBatch appends every row of src to b (same schema).
func (b *Batch) AppendBatch(src *Batch) {
	for c := range b.Vecs {
		b.Vecs[c].AppendVector(&src.Vecs[c])
	}
	b.Len += src.Len
}

// Clone returns a deep copy of b.
func (b *Batch) Clone() *Batch {
	out := &Batch{Vecs: make([]Vector, len(b.Vecs))}
	for i := range b.Vecs {
		out.Vecs[i] = NewVector(b.Vecs[i].Type)
	}
	out.AppendBatch(b)
	return out
}
