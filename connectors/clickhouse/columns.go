package clickhouse

import (
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// columnWriter turns one vector of a batch into the slice that the
// driver's column Append takes for the target column. The slices are kept
// and reused, so a steady stream of batches stops allocating.
type columnWriter interface {
	values(v *runtime.Vector, n int) any
}

// typed converts element by element into []T, or []*T (nil for NULL) for
// a Nullable target.
type typed[T any] struct {
	get func(v *runtime.Vector, i int) T
	// direct, when set, returns the vector's own storage when it already
	// is a []T: no copy at all for Int64, UInt64 and Float64 columns.
	direct   func(v *runtime.Vector, n int) []T
	nullable bool
	vals     []T
	ptrs     []*T
}

func (w *typed[T]) values(v *runtime.Vector, n int) any {
	var vals []T
	if w.direct != nil && len(v.Nulls) == 0 {
		vals = w.direct(v, n)
	} else {
		vals = w.vals[:0]
		var zero T
		for i := 0; i < n; i++ {
			if len(v.Nulls) != 0 && v.Nulls[i] {
				// A NULL is sent as the default value (the slot is
				// marked NULL below when the column is Nullable).
				vals = append(vals, zero)
				continue
			}
			vals = append(vals, w.get(v, i))
		}
		w.vals = vals
	}
	if !w.nullable {
		return vals
	}
	ptrs := w.ptrs[:0]
	for i := range vals {
		if len(v.Nulls) != 0 && v.Nulls[i] {
			ptrs = append(ptrs, nil)
		} else {
			ptrs = append(ptrs, &vals[i])
		}
	}
	w.ptrs = ptrs
	return ptrs
}

// newWriter returns the writer from a vector of type src to a column of
// type dst; fits(src, dst) must hold.
func newWriter(src dag.Type, dst chType) columnWriter {
	nl := dst.nullable
	unsigned := src.Kind.Storage() == dag.StoreUint64
	switch dst.base {
	case chString:
		return &typed[string]{nullable: nl, get: func(v *runtime.Vector, i int) string {
			b := v.Data[v.Offs[i]:v.Offs[i+1]]
			if len(b) == 0 {
				return ""
			}
			// A view of the batch's bytes, not a copy: the driver copies
			// them into its own buffer during Append, before Write returns.
			return unsafe.String(&b[0], len(b))
		}}
	case chInt8:
		return intWriter[int8](nl, unsigned)
	case chInt16:
		return intWriter[int16](nl, unsigned)
	case chInt32:
		return intWriter[int32](nl, unsigned)
	case chInt64:
		w := intWriter[int64](nl, unsigned).(*typed[int64])
		if !unsigned {
			w.direct = func(v *runtime.Vector, n int) []int64 { return v.I64[:n] }
		}
		return w
	case chUInt8:
		return uintWriter[uint8](nl, unsigned)
	case chUInt16:
		return uintWriter[uint16](nl, unsigned)
	case chUInt32:
		return uintWriter[uint32](nl, unsigned)
	case chUInt64:
		w := uintWriter[uint64](nl, unsigned).(*typed[uint64])
		if unsigned {
			w.direct = func(v *runtime.Vector, n int) []uint64 { return v.U64[:n] }
		}
		return w
	case chFloat32:
		return &typed[float32]{nullable: nl, get: func(v *runtime.Vector, i int) float32 { return float32(v.F64[i]) }}
	case chFloat64:
		return &typed[float64]{nullable: nl,
			get:    func(v *runtime.Vector, i int) float64 { return v.F64[i] },
			direct: func(v *runtime.Vector, n int) []float64 { return v.F64[:n] }}
	case chBool:
		return &typed[bool]{nullable: nl, get: func(v *runtime.Vector, i int) bool { return v.I64[i] != 0 }}
	case chDate, chDate32:
		return &typed[time.Time]{nullable: nl, get: func(v *runtime.Vector, i int) time.Time {
			return time.Unix(v.I64[i]*86400, 0).UTC()
		}}
	case chDateTime, chDateTime64:
		return &typed[time.Time]{nullable: nl, get: func(v *runtime.Vector, i int) time.Time {
			return time.Unix(0, v.I64[i]).UTC()
		}}
	case chDecimal:
		exp := -int32(src.Scale)
		// shopspring's Decimal allocates per value; the driver takes no
		// cheaper representation for Decimal columns.
		return &typed[decimal.Decimal]{nullable: nl, get: func(v *runtime.Vector, i int) decimal.Decimal {
			return decimal.New(v.I64[i], exp)
		}}
	}
	panic("clickhouse: no writer for " + dst.text)
}

func intWriter[T int8 | int16 | int32 | int64](nullable, unsigned bool) columnWriter {
	if unsigned {
		return &typed[T]{nullable: nullable, get: func(v *runtime.Vector, i int) T { return T(v.U64[i]) }}
	}
	return &typed[T]{nullable: nullable, get: func(v *runtime.Vector, i int) T { return T(v.I64[i]) }}
}

func uintWriter[T uint8 | uint16 | uint32 | uint64](nullable, unsigned bool) columnWriter {
	if unsigned {
		return &typed[T]{nullable: nullable, get: func(v *runtime.Vector, i int) T { return T(v.U64[i]) }}
	}
	// Bool into a UInt8 column (servers without Bool).
	return &typed[T]{nullable: nullable, get: func(v *runtime.Vector, i int) T { return T(v.I64[i]) }}
}
