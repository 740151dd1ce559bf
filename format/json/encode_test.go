package json

import (
	"math"
	"testing"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		u     int64
		scale int
		want  string
	}{
		{0, 0, "0"}, {0, 2, "0.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {12345, 2, "123.45"},
		{-12345, 4, "-1.2345"}, {math.MinInt64, 18, "-9.223372036854775808"}, {math.MaxInt64, 0, "9223372036854775807"},
	} {
		if got := string(AppendDecimal(nil, tc.u, tc.scale)); got != tc.want {
			t.Errorf("AppendDecimal(%d, %d) = %s, want %s", tc.u, tc.scale, got, tc.want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	ts := int64(1_700_000_000_123_456_789)
	for _, tc := range []struct {
		t    dag.Type
		want string
	}{
		{dag.T(dag.DateTime), `"2023-11-14 22:13:20"`},
		{dag.Type{Kind: dag.DateTime64, Precision: 3}, `"2023-11-14 22:13:20.123"`},
		{dag.Type{Kind: dag.DateTime64, Precision: 9}, `"2023-11-14 22:13:20.123456789"`},
	} {
		if got := string(AppendTime(nil, ts, tc.t)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	if got := string(AppendString(nil, "a\"\\\n\x7f\xffé\u2028")); got != `"a\"\\\n`+"\x7f"+`\ufffdé`+"\u2028"+`"` {
		t.Errorf("got %s", got)
	}
}

func BenchmarkAppendDecimal(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = AppendDecimal(buf[:0], -123456789, 4)
	}
}

// The runtime keeps Nulls' capacity across batches: an empty, non-nil
// Nulls means no NULLs.
func TestEncoderEmptyNulls(t *testing.T) {
	schema := dag.Schema{{Name: "n", Type: dag.T(dag.Int64).WithNull(true)}, {Name: "s", Type: dag.T(dag.String).WithNull(true)}}
	b := &column.Batch{Len: 2, Vecs: []column.Vector{
		{I64: []int64{1, 2}, Nulls: make([]bool, 0, 8)},
		{Data: []byte("ab"), Offs: []uint32{0, 1, 2}, Nulls: []bool{true, false}},
	}}
	e := NewEncoder(schema)
	var got []byte
	for i := range b.Len {
		got = e.AppendRow(got, b, i)
	}
	if string(got) != `{"n":1,"s":null}{"n":2,"s":"b"}` {
		t.Fatalf("got %s", got)
	}
}
