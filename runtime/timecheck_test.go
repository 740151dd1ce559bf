package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Every time type takes exactly its range, from strings and from epoch
// numbers, and dead-letters the rest with the range in the reason.
func TestDecodeTimeRanges(t *testing.T) {
	types := map[string]dag.Type{
		"Date":          dag.T(dag.Date),
		"DateTime":      dag.T(dag.DateTime),
		"DateTime64(3)": tTS,
		"DateTime64(9)": {Kind: dag.DateTime64, Precision: 9},
	}
	cases := []struct {
		typ, in, want string // want "" for a dead letter
	}{
		{"Date", `"1970-01-01"`, "1970-01-01"},
		{"Date", `"2149-06-06 23:59:59"`, "2149-06-06"},
		{"Date", `"2149-06-07"`, ""},
		{"Date", `"1969-12-31 23:59:59"`, ""},
		{"Date", `-1`, ""},
		{"DateTime", `"1970-01-01 00:00:00"`, "1970-01-01 00:00:00"},
		{"DateTime", `"2106-02-07 06:28:15.999"`, "2106-02-07 06:28:15"},
		{"DateTime", `"2106-02-07 06:28:16"`, ""},
		{"DateTime", `"1969-12-31 23:59:59"`, ""},
		{"DateTime", `4294967295`, "2106-02-07 06:28:15"},
		{"DateTime", `4294967296`, ""},
		{"DateTime", `-1`, ""},
		{"DateTime64(3)", `"9999-12-31 23:59:59"`, ""},
		{"DateTime64(3)", `"2262-04-11 23:47:16.854"`, "2262-04-11 23:47:16.854"},
		{"DateTime64(3)", `"2262-04-11 23:47:16.855"`, ""},
		{"DateTime64(3)", `"2262-04-11T23:47:17+00:01"`, "2262-04-11 23:46:17.000"},
		{"DateTime64(3)", `"2262-04-11T22:47:17-01:00"`, ""},
		{"DateTime64(3)", `"1900-01-01 00:00:00"`, "1900-01-01 00:00:00.000"},
		{"DateTime64(3)", `"1899-12-31 23:59:59.999"`, ""},
		{"DateTime64(3)", `"0000-01-01"`, ""},
		{"DateTime64(3)", `-2208988800`, "1900-01-01 00:00:00.000"},
		{"DateTime64(3)", `-2208988801`, ""},
		{"DateTime64(3)", `9223372036854`, "2262-04-11 23:47:16.854"},
		{"DateTime64(3)", `9223372036855`, ""},
		{"DateTime64(9)", `"2262-04-11 23:47:16.854775807"`, "2262-04-11 23:47:16.854775807"},
		{"DateTime64(9)", `"2262-04-11 23:47:16.854775808"`, ""},
	}
	for _, c := range cases {
		typ := types[c.typ]
		schema := dag.Schema{{Name: "ts", Type: typ}}
		b, err := decodeOne(t, schema, schema, Record{Value: []byte(`{"ts":` + c.in + `}`)})
		if c.want == "" {
			want := fmt.Sprintf("column ts: time %s out of range for %s (%s)", c.in, c.typ, timeRangeText(typ))
			if err == nil || err.Error() != want {
				t.Errorf("%s into %s: got %v (%d rows), want the dead letter %q", c.in, c.typ, err, b.Len, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s into %s: %v", c.in, c.typ, err)
			continue
		}
		if got := render(&b.Vecs[0], 0); got != c.want {
			t.Errorf("%s into %s: got %s, want %s", c.in, c.typ, got, c.want)
		}
	}
}

// CAST of an out-of-range time is NULL, never a wrapped time.
func TestCastTimeRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		typ  dag.Type
		null bool
	}{
		{"9999-12-31 23:59:59", tTS, true},
		{"2200-01-01 00:00:00", tTS, false},
		{"2200-01-01 00:00:00", dag.T(dag.DateTime), true},
		{"2100-01-01 00:00:00", dag.T(dag.DateTime), false},
		{"2150-01-01", dag.T(dag.Date), true},
	} {
		src := NewVector(dag.T(dag.String))
		src.AppendString(c.in)
		out := NewVector(c.typ)
		castRow(&src, 0, &out)
		if out.IsNull(0) != c.null {
			t.Errorf("CAST(%q AS %s): got %s, want NULL %v", c.in, c.typ, render(&out, 0), c.null)
		}
	}
}

// A record dated beyond max_future is a dead letter naming the limit,
// whichever column type holds the event time; without the option it is
// decoded.
func TestDecodeMaxFuture(t *testing.T) {
	now := time.Now()
	for _, typ := range []dag.Type{tTS, dag.T(dag.DateTime), dag.T(dag.Date)} {
		schema := dag.Schema{{Name: "id", Type: dag.T(dag.String)}, {Name: "ts", Type: typ}}
		d, err := newDecoder(schema, schema)
		if err != nil {
			t.Fatal(err)
		}
		d.limitFuture(1, 24*time.Hour)
		d.setNow(now)
		b := NewBatch(schema)
		in := func(at time.Time) error {
			rec := Record{Value: fmt.Appendf(nil, `{"id":"a","ts":%q}`, at.UTC().Format("2006-01-02 15:04:05"))}
			return d.decode(&rec, b)
		}
		if err := in(now.Add(20 * time.Hour)); err != nil && typ.Kind != dag.Date {
			t.Errorf("%s: 20h ahead: %v", typ, err)
		}
		err = in(now.Add(72 * time.Hour))
		if _, ok := err.(*futureError); !ok || !strings.Contains(err.Error(), "is more than max_future (24h0m0s) ahead of the clock") {
			t.Errorf("%s: 72h ahead: got %v, want a max_future dead letter", typ, err)
		}
		d.limitFuture(1, 0)
		if err := in(now.Add(72 * time.Hour)); err != nil {
			t.Errorf("%s: without max_future: %v", typ, err)
		}
	}
	// The pseudo-column _timestamp as event time.
	schema := dag.Schema{{Name: "_timestamp", Type: tTS, Pseudo: true}}
	d, _ := newDecoder(schema, nil)
	d.limitFuture(0, time.Hour)
	d.setNow(now)
	rec := Record{Value: []byte(`{}`), Timestamp: now.Add(2 * time.Hour).UnixNano()}
	if _, ok := d.decode(&rec, NewBatch(schema)).(*futureError); !ok {
		t.Errorf("_timestamp 2h ahead with max_future 1h was decoded")
	}
}
