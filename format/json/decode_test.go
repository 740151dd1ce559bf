package json

import (
	stdjson "encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

var (
	tInt   = dag.T(dag.Int64).WithNull(true)
	tFloat = dag.T(dag.Float64).WithNull(true)
	tStr   = dag.T(dag.String).WithNull(true)
	tBool  = dag.T(dag.Bool).WithNull(true)
	tTS    = dag.Timestamp.WithNull(true)
	tDate  = dag.T(dag.Date).WithNull(true)
	tDec   = dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2, Nullable: true}
	tDT    = dag.T(dag.DateTime).WithNull(true)
)

// decodeOne decodes value as one row of a batch of schema.
func decodeOne(t *testing.T, schema, declared dag.Schema, value string) (*column.Batch, error) {
	t.Helper()
	d, err := NewDecoder(schema, declared)
	if err != nil {
		t.Fatal(err)
	}
	b := column.NewBatch(schema)
	if err = d.Decode([]byte(value), b); err == nil {
		b.Len++
	}
	return b, err
}

// render shows row i of v as the JSON encoder writes it, strings unquoted.
func render(v *column.Vector, i int) string {
	if v.IsNull(i) {
		return "NULL"
	}
	out := AppendValue(nil, v, v.Type, i)
	var s string
	if out[0] == '"' && stdjson.Unmarshal(out, &s) == nil {
		return s
	}
	return string(out)
}

func TestDecodeTimes(t *testing.T) {
	schema := dag.Schema{{Name: "ts", Type: tTS}}
	cases := []struct{ in, want string }{
		{`"2024-03-01T10:20:30Z"`, "2024-03-01 10:20:30.000"},
		{`"2024-03-01T10:20:30.123456Z"`, "2024-03-01 10:20:30.123"},
		{`"2024-03-01T10:20:30+02:00"`, "2024-03-01 08:20:30.000"},
		{`"2024-03-01T10:20:30.5-01:30"`, "2024-03-01 11:50:30.500"},
		{`"2024-03-01 10:20:30"`, "2024-03-01 10:20:30.000"},
		{`"2024-03-01 10:20:30.25"`, "2024-03-01 10:20:30.250"},
		{`"2024-03-01"`, "2024-03-01 00:00:00.000"},
		{`1700000000`, "2023-11-14 22:13:20.000"},    // seconds
		{`1700000000.5`, "2023-11-14 22:13:20.500"},  // fractional seconds
		{`4102444800`, "2100-01-01 00:00:00.000"},    // seconds
		{`100000000000`, "1973-03-03 09:46:40.000"},  // 10^11: milliseconds
		{`1700000000123`, "2023-11-14 22:13:20.123"}, // milliseconds
		{`null`, "NULL"},
	}
	for _, c := range cases {
		b, err := decodeOne(t, schema, nil, `{"ts":`+c.in+`}`)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := render(&b.Vecs[0], 0); got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
	// DateTime keeps seconds, Date days.
	b, err := decodeOne(t, dag.Schema{{Name: "a", Type: tDT}, {Name: "b", Type: tDate}}, nil,
		`{"a":"2024-03-01 10:20:30.9","b":"2024-03-01T23:59:59Z"}`)
	if err != nil || render(&b.Vecs[0], 0) != "2024-03-01 10:20:30" || render(&b.Vecs[1], 0) != "2024-03-01" {
		t.Errorf("DateTime/Date: %v %s %s", err, render(&b.Vecs[0], 0), render(&b.Vecs[1], 0))
	}
}

// Values of every kind, nested fields read at a PATH, a nested value kept
// as JSON text in a String column; pseudo-columns are left to the runtime.
func TestDecodeValues(t *testing.T) {
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.String)},
		{Name: "n", Type: tInt},
		{Name: "u", Type: dag.T(dag.UInt8).WithNull(true)},
		{Name: "f", Type: tFloat},
		{Name: "ok", Type: tBool},
		{Name: "amt", Type: tDec},
		{Name: "city", Type: tStr, Path: []string{"addr", "city"}},
		{Name: "raw", Type: tStr},
		{Name: "_key", Type: tStr, Pseudo: true},
		{Name: "_partition", Type: dag.T(dag.Int32), Pseudo: true},
		{Name: "_offset", Type: dag.T(dag.Int64), Pseudo: true},
		{Name: "_topic", Type: dag.T(dag.String), Pseudo: true},
		{Name: "_timestamp", Type: dag.Timestamp, Pseudo: true},
	}
	b, err := decodeOne(t, schema, nil, ` { "skip": {"deep": [1, "}", {"x": null}]}, "id": "a\"b\u00e9\ud83d\ude00",
			"n": -12, "u": 255, "f": 3, "ok": true, "amt": 12.345, "addr": {"zip": 1, "city": "Köln"},
			"raw": {"k": [1, 2]}, "extra": "ignored", "_key": "not the key" } `)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a\"bé😀", "-12", "255", "3", "true", "12.35", "Köln", `{"k": [1, 2]}`}
	for i, w := range want {
		if got := render(&b.Vecs[i], 0); got != w {
			t.Errorf("column %s: got %q, want %q", schema[i].Name, got, w)
		}
	}
	for i := len(want); i < len(schema); i++ {
		if n := b.Vecs[i].Len(); n != 0 {
			t.Errorf("pseudo-column %s: the decoder appended %d values", schema[i].Name, n)
		}
	}
	// Missing fields read as NULL.
	b, err = decodeOne(t, schema, nil, `{"id":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2, 3, 4, 5, 6, 7} {
		if !b.Vecs[i].IsNull(0) {
			t.Errorf("column %s: want NULL, got %s", schema[i].Name, render(&b.Vecs[i], 0))
		}
	}
}

func TestDecodeDeadLetters(t *testing.T) {
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.String)},
		{Name: "amount", Type: dag.T(dag.Float64).WithNull(true)},
		{Name: "qty", Type: dag.T(dag.Int32).WithNull(true)},
		{Name: "ts", Type: tTS},
	}
	declared := dag.Schema{
		{Name: "id", Type: dag.T(dag.String)},
		{Name: "amount", Type: dag.T(dag.Float64).WithNull(true)},
		{Name: "qty", Type: dag.T(dag.Int32).WithNull(true)},
		{Name: "ts", Type: tTS},
		{Name: "region", Type: dag.T(dag.String)}, // NOT NULL, unused
	}
	cases := []struct{ in, reason string }{
		{`{"id":"a","region":"x","amount":"abc"}`, `column amount: expected Float64, got string "abc"`},
		{`{"id":"a","region":"x","qty":1.5}`, `column qty: expected Int32, got number 1.5`},
		{`{"id":"a","region":"x","qty":3000000000}`, `column qty: number 3000000000 out of range for Int32`},
		{`{"id":"a","region":"x","qty":true}`, `column qty: expected Int32, got true`},
		{`{"id":"a","region":"x","ts":"yesterday"}`, `column ts: expected DateTime64(3), got string "yesterday"`},
		{`{"id":"a","region":"x","amount":[1]}`, `column amount: expected Float64, got array`},
		{`{"region":"x"}`, `column id: NOT NULL column is missing`},
		{`{"id":null,"region":"x"}`, `column id: NOT NULL column is null`},
		{`{"id":"a"}`, `column region: NOT NULL column is missing`},
		{`{"id":"a","region":7}`, ``}, // a number reads as its text in a String column
		{`[1,2]`, `not a JSON object`},
		{`{"id":"a","region":"x"} {}`, `not one JSON object: unexpected "{}" at byte 24`},
		{`{"id":"a","region":"x"`, `invalid JSON: unexpected end`},
		{`{"id":"a",}`, `invalid JSON: expected a field name at byte 10`},
		{`{"id":"a","region":"x","amount":12}`, ``}, // an integer fits a Float
		{`{"id":"a","region":"x","ts":99999999999}`, `column ts: time 99999999999 out of range for DateTime64(3) (1900-01-01 00:00:00 to 2262-04-11 23:47:16)`},
	}
	for _, c := range cases {
		b, err := decodeOne(t, schema, declared, c.in)
		got := ""
		if err != nil {
			got = err.Error()
			if b.Len != 0 || b.Vecs[0].Len() != 0 {
				t.Errorf("%s: a failed record left %d rows", c.in, b.Len)
			}
		}
		if got != c.reason {
			t.Errorf("%s:\n got  %q\n want %q", c.in, got, c.reason)
		}
	}
}

func TestDecodeNoAllocs(t *testing.T) {
	schema, recs := benchSchemaAndRecords(64)
	d, _ := NewDecoder(schema, nil)
	b := column.NewBatch(schema)
	run := func() {
		b.Reset()
		for i := range recs {
			if err := d.Decode(recs[i], b); err != nil {
				t.Fatal(err)
			}
			b.Len++
		}
	}
	run()
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("decode allocates %.1f times per %d records", a, len(recs))
	}
	if !strings.HasPrefix(render(&b.Vecs[0], 0), "order-") {
		t.Errorf("unexpected first id %q", render(&b.Vecs[0], 0))
	}
}

// benchSchemaAndRecords returns the orders schema and n JSON records of
// about 150 bytes, the size the throughput targets are stated for.
func benchSchemaAndRecords(n int) (dag.Schema, [][]byte) {
	schema := dag.Schema{
		{Name: "order_id", Type: dag.T(dag.String)},
		{Name: "user_id", Type: dag.T(dag.UInt64)},
		{Name: "amount", Type: dag.T(dag.Float64)},
		{Name: "status", Type: dag.T(dag.String)},
		{Name: "created_at", Type: dag.Timestamp},
	}
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([][]byte, n)
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range recs {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		recs[i] = fmt.Appendf(nil, `{"order_id":"order-%08d","user_id":%d,"amount":%.2f,"status":"paid","created_at":"%s","note":"n%d"}`,
			i, r.IntN(100000), r.Float64()*500, ts, i%10)
	}
	return schema, recs
}

func BenchmarkDecode(b *testing.B) {
	schema, recs := benchSchemaAndRecords(4096)
	d, _ := NewDecoder(schema, nil)
	out := column.NewBatch(schema)
	bytes := 0
	for _, r := range recs {
		bytes += len(r)
	}
	b.SetBytes(int64(bytes / len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		if k == 0 {
			out.Reset()
		}
		if err := d.Decode(recs[k], out); err != nil {
			b.Fatal(err)
		}
		out.Len++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

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
		b, err := decodeOne(t, schema, schema, `{"ts":`+c.in+`}`)
		if c.want == "" {
			want := fmt.Sprintf("column ts: time %s out of range for %s (%s)", c.in, c.typ, column.TimeRangeText(typ))
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
