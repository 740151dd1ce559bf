package runtime

import (
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
)

func decodeOne(t *testing.T, schema, declared dag.Schema, rec Record) (*Batch, error) {
	t.Helper()
	d, err := newDecoder(schema, declared)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(schema)
	err = d.decode(&rec, b)
	return b, err
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
		b, err := decodeOne(t, schema, nil, Record{Value: []byte(`{"ts":` + c.in + `}`)})
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
		Record{Value: []byte(`{"a":"2024-03-01 10:20:30.9","b":"2024-03-01T23:59:59Z"}`)})
	if err != nil || render(&b.Vecs[0], 0) != "2024-03-01 10:20:30" || render(&b.Vecs[1], 0) != "2024-03-01" {
		t.Errorf("DateTime/Date: %v %s %s", err, render(&b.Vecs[0], 0), render(&b.Vecs[1], 0))
	}
}

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
	rec := Record{
		Key: []byte("k1"), Topic: "orders", Partition: 3, Offset: 42, Timestamp: 1700000000123456789,
		Value: []byte(` { "skip": {"deep": [1, "}", {"x": null}]}, "id": "a\"b\u00e9\ud83d\ude00",
			"n": -12, "u": 255, "f": 3, "ok": true, "amt": 12.345, "addr": {"zip": 1, "city": "Köln"},
			"raw": {"k": [1, 2]}, "extra": "ignored" } `),
	}
	b, err := decodeOne(t, schema, nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a\"bé😀", "-12", "255", "3", "true", "12.35", "Köln", `{"k": [1, 2]}`, "k1", "3", "42", "orders", "2023-11-14 22:13:20.123"}
	for i, w := range want {
		if got := render(&b.Vecs[i], 0); got != w {
			t.Errorf("column %s: got %q, want %q", schema[i].Name, got, w)
		}
	}
	// Missing fields and a nil key read as NULL.
	b, err = decodeOne(t, schema, nil, Record{Value: []byte(`{"id":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
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
		b, err := decodeOne(t, schema, declared, Record{Value: []byte(c.in)})
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
	d, _ := newDecoder(schema, nil)
	b := NewBatch(schema)
	run := func() {
		b.Reset()
		for i := range recs {
			if err := d.decode(&recs[i], b); err != nil {
				t.Fatal(err)
			}
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
