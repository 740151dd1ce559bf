package column

import (
	"math"
	"strconv"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Times are int64 nanoseconds since the Unix epoch. The parser below is
// purpose-built because decode must not allocate per row, and time.Parse
// needs a string and a layout per attempt.

const (
	NsPerSec = int64(time.Second)
	NsPerDay = 86400 * NsPerSec
	// epochMillisFrom: epoch numbers below 10^11 are seconds, otherwise
	// milliseconds (SQL.md).
	epochMillisFrom = 1e11
)

// DaysFromCivil converts a proleptic Gregorian date to days since
// 1970-01-01 (Howard Hinnant's algorithm).
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func CivilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func Digits(b []byte, n int) (int64, bool) {
	if len(b) < n {
		return 0, false
	}
	var v int64
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

var daysIn = [13]int64{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// ParseTime parses RFC 3339 (`2024-01-02T03:04:05.123Z`, `+02:00`), the
// same with a space for T, and without a zone (UTC); or a bare date
// `YYYY-MM-DD` (midnight UTC). It returns nanoseconds since the epoch; ok
// is false when b is not such a time or names one beyond the int64
// nanoseconds Sluice keeps times in (1677-09-21 to 2262-04-11).
func ParseTime(b []byte) (int64, bool) {
	ns, ok, over := ParseTimeOver(b)
	return ns, ok && !over
}

// ParseTimeOver is ParseTime telling apart a time that is well-formed but
// beyond int64 nanoseconds (over).
func ParseTimeOver(b []byte) (ns int64, ok, over bool) {
	y, ok1 := Digits(b, 4)
	if !ok1 || len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false, false
	}
	mo, ok2 := Digits(b[5:], 2)
	d, ok3 := Digits(b[8:], 2)
	if !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn[mo] {
		return 0, false, false
	}
	if mo == 2 && d == 29 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return 0, false, false
	}
	// Seconds first: with at most 4 year Digits they cannot overflow.
	secs := DaysFromCivil(y, mo, d) * 86400
	var frac int64
	if len(b) == 10 {
		return secsToNanos(secs, 0)
	}
	if len(b) < 19 || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false, false
	}
	h, ok4 := Digits(b[11:], 2)
	mi, ok5 := Digits(b[14:], 2)
	s, ok6 := Digits(b[17:], 2)
	if !ok4 || !ok5 || !ok6 || h > 23 || mi > 59 || s > 60 {
		return 0, false, false
	}
	secs += h*3600 + mi*60 + s
	rest := b[19:]
	if len(rest) > 0 && rest[0] == '.' {
		rest = rest[1:]
		var scale int64 = 100000000
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if scale > 0 {
				frac += int64(rest[n]-'0') * scale
				scale /= 10
			}
			n++
		}
		if n == 0 {
			return 0, false, false
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok7 := Digits(rest[1:], 2)
		om, ok8 := Digits(rest[4:], 2)
		if !ok7 || !ok8 || oh > 23 || om > 59 {
			return 0, false, false
		}
		off := oh*3600 + om*60
		if rest[0] == '+' {
			secs -= off
		} else {
			secs += off
		}
	default:
		return 0, false, false
	}
	return secsToNanos(secs, frac)
}

// secsToNanos is secs seconds and frac nanoseconds (0 ≤ frac < 10⁹) as
// nanoseconds; over reports that they do not fit in an int64.
func secsToNanos(secs, frac int64) (ns int64, ok, over bool) {
	const maxSecs = math.MaxInt64 / NsPerSec
	if secs > maxSecs || secs < -maxSecs {
		return 0, true, true
	}
	ns = secs*NsPerSec + frac
	if ns < 0 && secs >= 0 {
		return 0, true, true
	}
	return ns, true, false
}

// Time ranges. Times are int64 nanoseconds, and each type holds what its
// ClickHouse column stores:
//
//   - Date: 1970-01-01 to 2149-06-06 (ClickHouse's UInt16 days);
//   - DateTime: 1970-01-01 00:00:00 to 2106-02-07 06:28:15 (UInt32
//     seconds);
//   - DateTime64(p), every p: 1900-01-01 00:00:00 (ClickHouse's lower
//     bound) to 2262-04-11 23:47:16.854775807 (the last int64 nanosecond;
//     ClickHouse itself goes to 2299-12-31 for p ≤ 8).
const (
	minDateTime64 = -2208988800 * NsPerSec // 1900-01-01 00:00:00
	maxDate       = 65535                  // days: 2149-06-06
	maxDateTime   = 1<<32 - 1              // seconds: 2106-02-07 06:28:15
)

// TimeRange returns the first and last nanosecond t holds: a value in
// [lo, hi] keeps its meaning once truncated to t's unit.
func TimeRange(t dag.Type) (lo, hi int64) {
	switch t.Kind {
	case dag.Date:
		return 0, (maxDate+1)*NsPerDay - 1
	case dag.DateTime:
		return 0, (maxDateTime+1)*NsPerSec - 1
	}
	return minDateTime64, math.MaxInt64
}

// TimeRangeText describes t's range for error messages.
func TimeRangeText(t dag.Type) string {
	switch t.Kind {
	case dag.Date:
		return "1970-01-01 to 2149-06-06"
	case dag.DateTime:
		return "1970-01-01 00:00:00 to 2106-02-07 06:28:15"
	}
	return "1900-01-01 00:00:00 to 2262-04-11 23:47:16"
}

// EpochToNanos applies the epoch-number rule: below 10^11 seconds,
// otherwise milliseconds.
func EpochToNanos(f float64) (int64, bool) {
	if f != f || math.IsInf(f, 0) {
		return 0, false
	}
	var ns float64
	if math.Abs(f) < epochMillisFrom {
		ns = f * 1e9
	} else {
		ns = f * 1e6
	}
	if ns >= 9.2e18 || ns <= -9.2e18 {
		return 0, false
	}
	return int64(math.Round(ns)), true
}

func EpochIntToNanos(i int64) (int64, bool) {
	if i < epochMillisFrom && i > -epochMillisFrom {
		if i > math.MaxInt64/NsPerSec || i < math.MinInt64/NsPerSec {
			return 0, false // beyond 2262, the end of nanosecond time
		}
		return i * NsPerSec, true
	}
	if i > math.MaxInt64/1000000 || i < math.MinInt64/1000000 {
		return 0, false
	}
	return i * 1e6, true
}

// FloorDiv divides rounding towards negative infinity, so that times
// before 1970 truncate to the start of their unit, not the end.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

var Pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
	1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000}

// AppendTime formats ns as `YYYY-MM-DD hh:mm:ss[.fff]` with prec fraction
// Digits (ClickHouse's text form).
func AppendTime(dst []byte, ns int64, prec int) []byte {
	days := FloorDiv(ns, NsPerDay)
	rem := ns - days*NsPerDay
	y, m, d := CivilFromDays(days)
	dst = AppendDate(dst, y, m, d)
	sec := rem / NsPerSec
	dst = append(dst, ' ')
	dst = append2(dst, sec/3600)
	dst = append(dst, ':')
	dst = append2(dst, sec/60%60)
	dst = append(dst, ':')
	dst = append2(dst, sec%60)
	if prec > 0 {
		if prec > 9 {
			prec = 9
		}
		frac := (rem % NsPerSec) / Pow10[9-prec]
		dst = append(dst, '.')
		start := len(dst)
		dst = strconv.AppendInt(dst, frac+Pow10[prec], 10)
		// drop the leading 1 that pads the fraction with zeros
		copy(dst[start:], dst[start+1:])
		dst = dst[:len(dst)-1]
	}
	return dst
}

func AppendDate(dst []byte, y, m, d int64) []byte {
	if y >= 0 && y <= 9999 {
		dst = append2(dst, y/100)
		dst = append2(dst, y%100)
	} else {
		dst = strconv.AppendInt(dst, y, 10)
	}
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func append2(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// ToTimeKind converts ns to the storage of time type t: days for Date,
// truncated to the type's precision otherwise.
func ToTimeKind(ns int64, t dag.Type) int64 {
	switch t.Kind {
	case dag.Date:
		return FloorDiv(ns, NsPerDay)
	case dag.DateTime:
		return FloorDiv(ns, NsPerSec) * NsPerSec
	case dag.DateTime64:
		if t.Precision < 9 {
			u := Pow10[9-t.Precision]
			return FloorDiv(ns, u) * u
		}
	}
	return ns
}

// Rescale converts an unscaled decimal from scale from to scale to,
// rounding half away from zero; ok is false on overflow.
func Rescale(x int64, from, to int) (int64, bool) {
	switch {
	case to == from:
		return x, true
	case to > from:
		m := Pow10[to-from]
		r := x * m
		if x != 0 && (r/m != x) {
			return 0, false
		}
		return r, true
	default:
		d := Pow10[from-to]
		q, r := x/d, x%d
		if r*2 >= d {
			q++
		} else if r*2 <= -d {
			q--
		}
		return q, true
	}
}

// ParseDecimal parses a decimal literal (digits, optional point and
// exponent-free fraction) into an unscaled integer of the given scale,
// rounding half away from zero.
func ParseDecimal(s []byte, scale int) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var x int64
	frac := -1
	nd := 0
	roundUp := false
	for _, c := range s {
		if c == '.' {
			if frac >= 0 {
				return 0, false
			}
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		nd++
		if frac >= 0 {
			if frac == scale {
				if frac == scale && !roundUp {
					roundUp = c >= '5'
				}
				frac++
				continue
			}
			if frac > scale {
				continue
			}
			frac++
		}
		if x > (math.MaxInt64-9)/10 {
			return 0, false
		}
		x = x*10 + int64(c-'0')
	}
	if nd == 0 {
		return 0, false
	}
	if frac < 0 {
		frac = 0
	}
	if frac > scale {
		frac = scale
	}
	x, ok := Rescale(x, 0, scale-frac)
	if !ok {
		return 0, false
	}
	if roundUp {
		x++
	}
	if neg {
		x = -x
	}
	return x, true
}
