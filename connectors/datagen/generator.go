package datagen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
)

// The per-column settings (fields.<column>.<setting>):
//
//   - kind: how values are made:
//     'random' (default for every type but times): uniform in [min, max]
//     for numbers, decimals and times; `length` random letters and digits
//     for strings; true or false for Bool.
//     'sequence': start, start+step, start+2·step, … over the source's row
//     number (unique across partitions: good for ids); strings are
//     prefix + the number.
//     'values': one of the comma-separated `values`, uniformly.
//     'now' (default for Date, DateTime, DateTime64): the time the row is
//     generated, minus a random delay up to max_delay, for out-of-order
//     events.
//   - min, max: the range of 'random' (numbers: 0 and 1000, floats 0 and 1;
//     times: 2025-01-01 00:00:00 and 2025-01-02 00:00:00).
//   - start, step: the first value and increment of 'sequence' (1 and 1;
//     times: 2025-01-01 00:00:00 and 1s).
//   - values: the list for 'values' ('a,b,c'; for times and numbers the same
//     spellings as min and max).
//   - length: the length of random strings (8).
//   - prefix: what string sequences start with (”).
//   - max_delay: the largest delay of 'now' (0s).
//   - null_ratio: the fraction of NULLs, from 0 to 1 (0); only for nullable
//     columns.
var settingNames = []string{"kind", "min", "max", "start", "step", "values", "length", "prefix", "max_delay", "null_ratio"}

var defaultTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type kind uint8

const (
	kindRandom kind = iota
	kindSequence
	kindValues
	kindNow
)

// generator makes one column's values as JSON text.
type generator struct {
	col       dag.Column
	kind      kind
	nullRatio float64

	// Numbers and times are kept in one of these, by the column's storage:
	// signed (also Decimal unscaled, times in ns, Date in days), unsigned,
	// float.
	imin, imax, istart, istep int64
	umin, umax, ustart, ustep uint64
	fmin, fmax, fstart, fstep float64

	length   int
	prefix   string
	values   [][]byte // 'values': each value's JSON text
	maxDelay time.Duration
}

func newGenerator(c dag.Column, set map[string]string) (*generator, error) {
	g := &generator{col: c, length: 8}
	t := c.Type
	fail := func(key, format string, args ...any) error {
		return fmt.Errorf("fields.%s.%s = '%s': %s", c.Name, key, set[key], fmt.Sprintf(format, args...))
	}
	for k := range set {
		if !slices.Contains(settingNames, k) {
			return nil, fmt.Errorf("fields.%s.%s: unknown setting (settings: %s)", c.Name, k, strings.Join(settingNames, ", "))
		}
	}
	if t.Kind.IsTime() {
		g.kind = kindNow
	}
	if k, ok := set["kind"]; ok {
		switch strings.ToLower(k) {
		case "random":
			g.kind = kindRandom
		case "sequence":
			g.kind = kindSequence
		case "values":
			g.kind = kindValues
		case "now":
			if !t.Kind.IsTime() {
				return nil, fail("kind", "'now' is for Date, DateTime and DateTime64 columns; %s is %s", c.Name, t)
			}
			g.kind = kindNow
		default:
			return nil, fail("kind", "want 'random', 'sequence', 'values' or 'now'")
		}
	}
	if v, ok := set["null_ratio"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fail("null_ratio", "want a number from 0 to 1")
		}
		if !t.Nullable && f > 0 {
			return nil, fail("null_ratio", "column %s is NOT NULL", c.Name)
		}
		g.nullRatio = f
	}
	if v, ok := set["length"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1<<20 {
			return nil, fail("length", "want a whole number of characters, such as '8'")
		}
		g.length = n
	}
	g.prefix = set["prefix"]
	if v, ok := set["max_delay"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fail("max_delay", "want a duration such as '5s'")
		}
		g.maxDelay = d
	}

	// Defaults, then the settings, in the column's storage.
	switch {
	case t.Kind.IsTime():
		g.imin, g.imax, g.istart = timeUnits(t, defaultTime), timeUnits(t, defaultTime.Add(24*time.Hour)), timeUnits(t, defaultTime)
		g.istep = timeStep(t, time.Second)
	case t.Kind == dag.Decimal:
		g.imin, g.imax, g.istart, g.istep = 0, 1000*pow10(t.Scale), pow10(t.Scale), pow10(t.Scale)
	case t.Kind.Storage() == dag.StoreInt64:
		_, maxSigned := t.Kind.SignedRange()
		g.imin, g.imax, g.istart, g.istep = 0, min(1000, maxSigned), 1, 1
		if t.Kind == dag.Bool {
			g.imax = 1
		}
	case t.Kind.Storage() == dag.StoreUint64:
		g.umin, g.umax, g.ustart, g.ustep = 0, min(1000, t.Kind.UnsignedMax()), 1, 1
	case t.Kind.Storage() == dag.StoreFloat64:
		g.fmin, g.fmax, g.fstart, g.fstep = 0, 1, 1, 1
	default: // strings: sequences count from 1
		g.istart, g.istep = 1, 1
	}
	for _, key := range []string{"min", "max", "start", "step"} {
		v, ok := set[key]
		if !ok {
			continue
		}
		if key == "step" && t.Kind.IsTime() {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fail(key, "want a duration such as '1s'")
			}
			g.istep = timeStep(t, d)
			continue
		}
		if t.Kind == dag.String {
			if key == "min" || key == "max" {
				return nil, fail(key, "String columns use length, not min and max")
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fail(key, "want a whole number")
			}
			if key == "start" {
				g.istart = n
			} else {
				g.istep = n
			}
			continue
		}
		if err := g.parseInto(key, v); err != nil {
			return nil, fail(key, "%v", err)
		}
	}
	if g.imin > g.imax || g.umin > g.umax || g.fmin > g.fmax {
		return nil, fmt.Errorf("fields.%s: min is above max", c.Name)
	}
	if g.kind == kindValues {
		list, ok := set["values"]
		if !ok {
			return nil, fmt.Errorf("fields.%s.kind = 'values' needs fields.%s.values = 'a,b,c'", c.Name, c.Name)
		}
		for _, v := range strings.Split(list, ",") {
			js, err := g.literal(strings.TrimSpace(v))
			if err != nil {
				return nil, fail("values", "%q: %v", strings.TrimSpace(v), err)
			}
			g.values = append(g.values, js)
		}
	}
	return g, nil
}

// parseInto stores a min, max or start value in the column's storage.
func (g *generator) parseInto(key, v string) error {
	t := g.col.Type
	var err error
	var i int64
	var u uint64
	var f float64
	switch {
	case t.Kind.IsTime():
		var tm time.Time
		if tm, err = parseTime(v); err == nil {
			i = timeUnits(t, tm)
		}
	case t.Kind == dag.Decimal:
		i, err = parseDecimal(v, int(t.Scale))
	case t.Kind == dag.Bool:
		i, err = parseBool(v)
	case t.Kind.Storage() == dag.StoreInt64:
		i, err = strconv.ParseInt(v, 10, 64)
		if lo, hi := t.Kind.SignedRange(); err == nil && (i > hi || i < lo) {
			err = fmt.Errorf("out of the range of %s", t.Base())
		}
	case t.Kind.Storage() == dag.StoreUint64:
		u, err = strconv.ParseUint(v, 10, 64)
		if err == nil && u > t.Kind.UnsignedMax() {
			err = fmt.Errorf("out of the range of %s", t.Base())
		}
	default:
		f, err = strconv.ParseFloat(v, 64)
	}
	if err != nil {
		return fmt.Errorf("not a %s value", t.Base())
	}
	switch key {
	case "min":
		g.imin, g.umin, g.fmin = i, u, f
	case "max":
		g.imax, g.umax, g.fmax = i, u, f
	case "start":
		g.istart, g.ustart, g.fstart = i, u, f
	case "step":
		g.istep, g.ustep, g.fstep = i, u, f
	}
	return nil
}

// literal is the JSON text of a value written in the settings.
func (g *generator) literal(v string) ([]byte, error) {
	if g.col.Type.Kind == dag.String {
		return jsonformat.AppendString(nil, v), nil
	}
	save := *g
	if err := g.parseInto("start", v); err != nil {
		return nil, err
	}
	out := g.appendNumber(nil, g.istart, g.ustart, g.fstart)
	g.istart, g.ustart, g.fstart = save.istart, save.ustart, save.fstart
	return out, nil
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// appendValue appends the value of row n (whose scheduled time is at).
func (g *generator) appendValue(dst []byte, rng *rand.Rand, n int64, at time.Time) []byte {
	if g.nullRatio > 0 && rng.Float64() < g.nullRatio {
		return append(dst, "null"...)
	}
	t := g.col.Type
	switch g.kind {
	case kindValues:
		return append(dst, g.values[rng.IntN(len(g.values))]...)
	case kindNow:
		at = at.Add(-time.Duration(rng.Int64N(int64(g.maxDelay) + 1)))
		return g.appendNumber(dst, timeUnits(t, at), 0, 0)
	case kindSequence:
		if t.Kind == dag.String {
			dst = append(dst, '"')
			dst = append(dst, g.prefix...)
			dst = strconv.AppendInt(dst, g.istart+n*g.istep, 10)
			return append(dst, '"')
		}
		return g.appendNumber(dst, g.istart+n*g.istep, g.ustart+uint64(n)*g.ustep, g.fstart+float64(n)*g.fstep)
	}
	switch {
	case t.Kind == dag.String:
		dst = append(dst, '"')
		dst = append(dst, g.prefix...)
		for range g.length {
			dst = append(dst, alnum[rng.IntN(len(alnum))])
		}
		return append(dst, '"')
	case t.Kind.Storage() == dag.StoreUint64:
		span := g.umax - g.umin + 1
		if span == 0 { // the whole uint64 range
			return g.appendNumber(dst, 0, rng.Uint64(), 0)
		}
		return g.appendNumber(dst, 0, g.umin+rng.Uint64N(span), 0)
	case t.Kind.Storage() == dag.StoreFloat64:
		return g.appendNumber(dst, 0, 0, g.fmin+rng.Float64()*(g.fmax-g.fmin))
	default:
		span := uint64(g.imax - g.imin + 1)
		if span == 0 {
			return g.appendNumber(dst, int64(rng.Uint64()), 0, 0)
		}
		return g.appendNumber(dst, g.imin+int64(rng.Uint64N(span)), 0, 0)
	}
}

// appendNumber renders a value held in the column's storage.
func (g *generator) appendNumber(dst []byte, i int64, u uint64, f float64) []byte {
	t := g.col.Type
	switch {
	case t.Kind == dag.Date:
		dst = append(dst, '"')
		dst = time.Unix(i*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
		return append(dst, '"')
	case t.Kind.IsTime():
		return jsonformat.AppendTime(dst, i, t)
	case t.Kind == dag.Decimal:
		return jsonformat.AppendDecimal(dst, i, int(t.Scale))
	case t.Kind == dag.Bool:
		return strconv.AppendBool(dst, i != 0)
	case t.Kind.Storage() == dag.StoreUint64:
		return strconv.AppendUint(dst, u, 10)
	case t.Kind.Storage() == dag.StoreFloat64:
		if t.Kind == dag.Float32 {
			return strconv.AppendFloat(dst, f, 'g', -1, 32)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return strconv.AppendInt(dst, i, 10)
}

// timeUnits is tm in the storage of a time column: days for Date, else ns.
func timeUnits(t dag.Type, tm time.Time) int64 {
	if t.Kind == dag.Date {
		return int64(math.Floor(float64(tm.Unix()) / 86400))
	}
	return tm.UnixNano()
}

func timeStep(t dag.Type, d time.Duration) int64 {
	if t.Kind == dag.Date {
		return max(1, int64(d/(24*time.Hour)))
	}
	return int64(d)
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

func parseBool(s string) (int64, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return 1, nil
	case "false", "0":
		return 0, nil
	}
	return 0, fmt.Errorf("not a Bool")
}

// parseDecimal reads "12.34" as an unscaled integer with scale digits.
func parseDecimal(s string, scale int) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) > scale {
		return 0, fmt.Errorf("too many digits after the point")
	}
	fp += strings.Repeat("0", scale-len(fp))
	n, err := strconv.ParseInt(ip+fp, 10, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		n = -n
	}
	return n, nil
}

func pow10(n uint8) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// node is one level of the JSON object a row becomes: columns with a PATH
// are nested objects.
type node struct {
	key      []byte // quoted name and colon
	col      int    // column index for a leaf, -1 for an object
	children []*node
}

func buildTree(cols dag.Schema) *node {
	root := &node{col: -1}
	for i, c := range cols {
		path := c.Path
		if len(path) == 0 {
			path = []string{c.Name}
		}
		n := root
		for depth, name := range path {
			var child *node
			for _, ch := range n.children {
				if string(ch.key) == string(append(jsonformat.AppendString(nil, name), ':')) {
					child = ch
				}
			}
			if child == nil {
				child = &node{key: append(jsonformat.AppendString(nil, name), ':'), col: -1}
				n.children = append(n.children, child)
			}
			if depth == len(path)-1 {
				child.col = i
			}
			n = child
		}
	}
	return root
}

func (n *node) appendJSON(dst []byte, vals [][]byte) []byte {
	if n.col >= 0 {
		return append(dst, vals[n.col]...)
	}
	dst = append(dst, '{')
	for i, ch := range n.children {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, ch.key...)
		dst = ch.appendJSON(dst, vals)
	}
	return append(dst, '}')
}
