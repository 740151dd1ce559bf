package planner

import (
	"strings"
	"testing"
)

// BenchmarkErrorRanges measures finding the ranges of errors: a type error
// over a 100 000-term sum (its range is the whole sum), and 1 000 unknown
// columns in one select list.
func BenchmarkErrorRanges(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"long-sum", "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " +
			strings.Repeat("1 + ", 100_000) + "'x' AS total FROM s"},
		{"1000-errors", "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " +
			strings.TrimSuffix(strings.Repeat("o.nope + (id * 2), ", 1000), ", ") + " FROM s AS o"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, errs := ApplyScript(c.src, NewMem())
				if len(errs) == 0 || errs[0].End.Offset <= errs[0].Pos.Offset {
					b.Fatalf("errors: %v", errs)
				}
			}
		})
	}
}
