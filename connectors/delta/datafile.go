package delta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-sql/sluice/column"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
)

// statsPrefix is how much of a string column the statistics keep
// (Delta's dataSkippingStringPrefixLength is 32 characters too).
const statsPrefix = 32

// colStats gathers one column's statistics for the add action's stats
// ("Per-file Statistics"): nulls, and the least and greatest values.
type colStats struct {
	nulls   int64
	have    bool
	noRange bool // a value (NaN) or type (Bool) without an order for readers
	minI    int64
	maxI    int64
	minU    uint64
	maxU    uint64
	minF    float64
	maxF    float64
	minS    []byte
	maxS    []byte
}

// dataFile is one Parquet file being written.
type dataFile struct {
	name   string
	out    io.WriteCloser
	count  *countingWriter
	w      *parquet.GenericWriter[any]
	schema dag.Schema
	rows   int64
	stats  []colStats
	scr    *scratch
}

// scratch is the memory one write's rows are built in, kept by the sink
// across files so that writing stops allocating once it has grown.
type scratch struct {
	rows   []parquet.Row
	values []parquet.Value
	fixed  []byte // UInt64 values as 9-byte decimals
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newDataFile(name string, out io.WriteCloser, schema dag.Schema, ps *parquet.Schema, codec parquet.WriterOption, scr *scratch) *dataFile {
	cw := &countingWriter{w: out}
	return &dataFile{name: name, out: out, count: cw, schema: schema, stats: make([]colStats, len(schema)), scr: scr,
		w: parquet.NewGenericWriter[any](cw, ps, codec, parquet.CreatedBy("sluice", "", ""))}
}

// size is the file's size so far, the buffered row group included.
func (f *dataFile) size() int64 { return f.w.Size() }

// write appends rows [from, to) of b to the current row group.
func (f *dataFile) write(b *column.Batch, from, to int) error {
	n := to - from
	cols := len(f.schema)
	scr := f.scr
	if cap(scr.rows) < n {
		scr.rows = make([]parquet.Row, n)
		scr.values = make([]parquet.Value, n*cols)
		scr.fixed = nil
	}
	rows := scr.rows[:n]
	for i := range rows {
		rows[i] = scr.values[i*cols : i*cols : (i+1)*cols]
	}
	scr.fixed = scr.fixed[:0]
	for c := range f.schema {
		v := &b.Vecs[c]
		t := f.schema[c].Type
		st := &f.stats[c]
		for i := from; i < to; i++ {
			var pv parquet.Value
			if v.IsNull(i) {
				st.nulls++
				pv = parquet.NullValue().Level(0, 0, c)
			} else {
				pv = f.value(v, t, i, st)
				if t.Nullable {
					pv = pv.Level(0, 1, c)
				} else {
					pv = pv.Level(0, 0, c)
				}
			}
			rows[i-from] = append(rows[i-from], pv)
		}
	}
	if _, err := f.w.WriteRows(rows); err != nil {
		return err
	}
	f.rows += int64(n)
	return nil
}

// value converts row i of v to its Parquet value (see deltaType) and
// updates the column's statistics.
func (f *dataFile) value(v *column.Vector, t dag.Type, i int, st *colStats) parquet.Value {
	switch t.Kind {
	case dag.String:
		s := v.Bytes(i)
		st.string(s)
		return parquet.ByteArrayValue(s)
	case dag.UInt8, dag.UInt16, dag.UInt32:
		x := v.U64[i]
		st.int(int64(x))
		if t.Kind == dag.UInt32 {
			return parquet.Int64Value(int64(x))
		}
		return parquet.Int32Value(int32(x))
	case dag.UInt64:
		x := v.U64[i]
		st.uint(x)
		// The values point into scratch.fixed until WriteRows has copied
		// them; it is sized for a whole write, and were it to grow, the
		// values already made would keep the old array alive.
		if cap(f.scr.fixed) == 0 {
			f.scr.fixed = make([]byte, 0, 9*len(f.scr.rows)*len(f.schema))
		}
		at := len(f.scr.fixed)
		f.scr.fixed = binary.BigEndian.AppendUint64(append(f.scr.fixed, 0), x)
		return parquet.FixedLenByteArrayValue(f.scr.fixed[at : at+9])
	case dag.Float32:
		st.float(v.F64[i])
		return parquet.FloatValue(float32(v.F64[i]))
	case dag.Float64:
		st.float(v.F64[i])
		return parquet.DoubleValue(v.F64[i])
	case dag.Bool:
		st.noRange = true
		return parquet.BooleanValue(v.I64[i] != 0)
	case dag.DateTime, dag.DateTime64:
		us := column.FloorDiv(v.I64[i], 1000)
		st.int(us)
		return parquet.Int64Value(us)
	case dag.Int64:
		st.int(v.I64[i])
		return parquet.Int64Value(v.I64[i])
	case dag.Decimal:
		st.int(v.I64[i])
		if t.Precision <= 9 {
			return parquet.Int32Value(int32(v.I64[i]))
		}
		return parquet.Int64Value(v.I64[i])
	}
	// Int8, Int16, Int32, Date
	st.int(v.I64[i])
	return parquet.Int32Value(int32(v.I64[i]))
}

func (s *colStats) int(x int64) {
	if !s.have || x < s.minI {
		s.minI = x
	}
	if !s.have || x > s.maxI {
		s.maxI = x
	}
	s.have = true
}

func (s *colStats) uint(x uint64) {
	if !s.have || x < s.minU {
		s.minU = x
	}
	if !s.have || x > s.maxU {
		s.maxU = x
	}
	s.have = true
}

func (s *colStats) float(x float64) {
	if math.IsNaN(x) {
		s.noRange = true
		return
	}
	if !s.have || x < s.minF {
		s.minF = x
	}
	if !s.have || x > s.maxF {
		s.maxF = x
	}
	s.have = true
}

func (s *colStats) string(x []byte) {
	if !s.have || bytes.Compare(x, s.minS) < 0 {
		s.minS = append(s.minS[:0], x...)
	}
	if !s.have || bytes.Compare(x, s.maxS) > 0 {
		s.maxS = append(s.maxS[:0], x...)
	}
	s.have = true
}

// close finishes the file and returns its add action's statistics.
func (f *dataFile) close() (size int64, stats string, err error) {
	if err := f.w.Close(); err != nil {
		f.out.Close()
		return 0, "", err
	}
	if err := f.out.Close(); err != nil {
		return 0, "", err
	}
	return f.count.n, f.statsJSON(), nil
}

// statsJSON renders "Per-file Statistics": numRecords, and per column
// minValues, maxValues and nullCount. A bound is left out where it could
// mislead a reader that skips files by it: floats with NaN, booleans,
// and the maximum of a string longer than the prefix kept.
func (f *dataFile) statsJSON() string {
	var b []byte
	b = append(b, `{"numRecords":`...)
	b = strconv.AppendInt(b, f.rows, 10)
	for _, part := range []string{"minValues", "maxValues"} {
		b = append(b, `,"`...)
		b = append(b, part...)
		b = append(b, `":{`...)
		first := true
		for c, col := range f.schema {
			st := &f.stats[c]
			if !st.have || st.noRange {
				continue
			}
			val, ok := statValue(col.Type, st, part == "maxValues")
			if !ok {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			name, _ := json.Marshal(col.Name)
			b = append(b, name...)
			b = append(b, ':')
			b = append(b, val...)
		}
		b = append(b, '}')
	}
	b = append(b, `,"nullCount":{`...)
	for c, col := range f.schema {
		if c > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(col.Name)
		b = append(b, name...)
		b = append(b, ':')
		b = strconv.AppendInt(b, f.stats[c].nulls, 10)
	}
	b = append(b, "}}"...)
	return string(b)
}

// statValue renders a column's least or greatest value as Delta writes
// statistics: numbers as JSON numbers, dates as "YYYY-MM-DD", timestamps
// in ISO 8601 UTC with milliseconds (the least rounded down, the
// greatest up, so both still bound the microsecond values).
func statValue(t dag.Type, st *colStats, isMax bool) ([]byte, bool) {
	switch t.Kind {
	case dag.String:
		s := st.minS
		if isMax {
			s = st.maxS
		}
		if utf8.RuneCount(s) > statsPrefix {
			if isMax {
				return nil, false
			}
			n := 0
			for i := range string(s) {
				if n == statsPrefix {
					s = s[:i]
					break
				}
				n++
			}
		}
		out, _ := json.Marshal(string(s))
		return out, true
	case dag.UInt64:
		x := st.minU
		if isMax {
			x = st.maxU
		}
		return strconv.AppendUint(nil, x, 10), true
	case dag.Float32, dag.Float64:
		x := st.minF
		if isMax {
			x = st.maxF
		}
		if math.IsInf(x, 0) {
			return nil, false
		}
		bits := 64
		if t.Kind == dag.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(nil, x, 'g', -1, bits), true
	}
	x := st.minI
	if isMax {
		x = st.maxI
	}
	switch t.Kind {
	case dag.Date:
		y, m, d := column.CivilFromDays(x)
		out := append([]byte{'"'}, column.AppendDate(nil, y, m, d)...)
		return append(out, '"'), true
	case dag.DateTime, dag.DateTime64:
		ms := column.FloorDiv(x, 1000)
		if isMax && x%1000 != 0 {
			ms++
		}
		out := append([]byte{'"'}, column.AppendTime(nil, ms*1_000_000, 3)...)
		out[bytes.IndexByte(out, ' ')] = 'T'
		return append(out, 'Z', '"'), true
	case dag.Decimal:
		return jsonformat.AppendDecimal(nil, x, int(t.Scale)), true
	}
	return strconv.AppendInt(nil, x, 10), true
}
