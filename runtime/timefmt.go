package runtime

// The conversions of time and decimal values live in package column,
// which the record formats share; these are the runtime's short names.

import (
	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

const (
	nsPerSec = column.NsPerSec
	nsPerDay = column.NsPerDay
)

var pow10 = column.Pow10

func daysFromCivil(y, m, d int64) int64                { return column.DaysFromCivil(y, m, d) }
func civilFromDays(z int64) (y, m, d int64)            { return column.CivilFromDays(z) }
func parseTime(b []byte) (int64, bool)                 { return column.ParseTime(b) }
func timeRange(t dag.Type) (lo, hi int64)              { return column.TimeRange(t) }
func epochToNanos(f float64) (int64, bool)             { return column.EpochToNanos(f) }
func epochIntToNanos(i int64) (int64, bool)            { return column.EpochIntToNanos(i) }
func floorDiv(a, b int64) int64                        { return column.FloorDiv(a, b) }
func appendTime(dst []byte, ns int64, prec int) []byte { return column.AppendTime(dst, ns, prec) }
func appendDate(dst []byte, y, m, d int64) []byte      { return column.AppendDate(dst, y, m, d) }
func toTimeKind(ns int64, t dag.Type) int64            { return column.ToTimeKind(ns, t) }
func rescale(x int64, from, to int) (int64, bool)      { return column.Rescale(x, from, to) }
func parseDecimal(s []byte, scale int) (int64, bool)   { return column.ParseDecimal(s, scale) }
