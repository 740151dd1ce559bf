package dag

import (
	"math"
	"testing"
)

func TestIntegerRanges(t *testing.T) {
	for _, tc := range []struct {
		k      Kind
		lo, hi int64
		umax   uint64
	}{
		{Int8, math.MinInt8, math.MaxInt8, math.MaxUint8},
		{UInt16, math.MinInt16, math.MaxInt16, math.MaxUint16},
		{Int32, math.MinInt32, math.MaxInt32, math.MaxUint32},
		{Int64, math.MinInt64, math.MaxInt64, math.MaxUint64},
		{DateTime64, math.MinInt64, math.MaxInt64, math.MaxUint64},
	} {
		lo, hi := tc.k.SignedRange()
		if lo != tc.lo || hi != tc.hi || tc.k.UnsignedMax() != tc.umax {
			t.Errorf("%s: range %d..%d, unsigned max %d", tc.k, lo, hi, tc.k.UnsignedMax())
		}
	}
}
