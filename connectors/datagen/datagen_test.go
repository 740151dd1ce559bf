package datagen

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var schema = dag.Schema{
	{Name: "id", Type: dag.T(dag.Int64)},
	{Name: "user_id", Type: dag.T(dag.UInt64)},
	{Name: "email", Type: dag.T(dag.String).WithNull(true)},
	{Name: "amount", Type: dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}},
	{Name: "score", Type: dag.T(dag.Float64)},
	{Name: "ok", Type: dag.T(dag.Bool)},
	{Name: "at", Type: dag.Timestamp},
	{Name: "city", Type: dag.T(dag.String), Path: []string{"address", "city"}},
	{Name: "_offset", Type: dag.T(dag.Int64), Pseudo: true},
}

var fields = map[string]map[string]string{
	"id":      {"kind": "sequence", "start": "100"},
	"user_id": {"min": "1", "max": "5"},
	"email":   {"kind": "values", "values": "a@x.io, b@x.io", "null_ratio": "0.5"},
	"amount":  {"min": "0.5", "max": "2"},
	"at":      {"kind": "sequence", "start": "2025-03-01 12:00:00", "step": "1500ms"},
}

func open(t *testing.T, opts map[string]string, resume runtime.Offsets) *Source {
	t.Helper()
	src, err := OpenSource(context.Background(), runtime.SourceConfig{
		Spec:   &dag.SourceSpec{Name: "gen", Connector: "datagen", Options: opts, Declared: schema, ColumnOptions: fields},
		Resume: resume,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

// take polls n records and returns them as "partition/offset value".
func take(t *testing.T, s *Source, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		recs, err := s.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, fmt.Sprintf("%d/%d %s", r.Partition, r.Offset, r.Value))
		}
	}
	return out[:n]
}

func TestDeterministicAndResumable(t *testing.T) {
	opts := map[string]string{"rows_per_second": "0", "seed": "42", "partitions": "3", "duplicate_ratio": "0.2"}
	a := take(t, open(t, opts, nil), 300)
	b := take(t, open(t, opts, nil), 300)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatal("two sources with one seed differ")
	}
	if fmt.Sprint(open(t, opts, nil).Partitions()) != "[0 1 2]" {
		t.Fatal("partitions")
	}
	// Resume where a checkpoint left each partition (row n is partition
	// n%3, offset n/3): the same rows follow, skipping row 149 (2/49),
	// which partition 2 had already produced.
	resumed := take(t, open(t, opts, runtime.Offsets{0: 50, 1: 49, 2: 50}), 300-149)
	want := append([]string{a[148]}, a[150:]...)
	if strings.Join(resumed, "\n") != strings.Join(want, "\n") {
		t.Fatalf("resumed rows differ:\n%s\nwant\n%s", strings.Join(resumed[:3], "\n"), strings.Join(want[:3], "\n"))
	}
	other := take(t, open(t, map[string]string{"rows_per_second": "0", "seed": "7", "partitions": "3"}, nil), 300)
	if strings.Join(other, "\n") == strings.Join(a, "\n") {
		t.Fatal("another seed gave the same rows")
	}
}

func TestValues(t *testing.T) {
	s := open(t, map[string]string{"rows_per_second": "0", "duplicate_ratio": "0.3", "rows": "2000"}, nil)
	recs := take(t, s, 2000)
	ids := map[int64]int{}
	nulls := 0
	for i, r := range recs {
		_, js, _ := strings.Cut(r, " ")
		var v struct {
			ID      int64
			UserID  uint64 `json:"user_id"`
			Email   *string
			Amount  json.Number
			Score   float64
			OK      bool
			At      string
			Address struct{ City string }
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatalf("record %d %s: %v", i, js, err)
		}
		ids[v.ID]++
		if i == 0 && (v.ID != 100 || v.At != "2025-03-01 12:00:00.000") {
			t.Fatalf("first row %s", js)
		}
		if v.UserID < 1 || v.UserID > 5 || v.Score < 0 || v.Score > 1 || len(v.Address.City) != 8 {
			t.Fatalf("row out of range: %s", js)
		}
		if a := string(v.Amount); a < "0.50" && len(a) == 4 || !strings.Contains(a, ".") || len(a) > 4 && a > "2.00" {
			t.Fatalf("amount %s", a)
		}
		if v.Email == nil {
			nulls++
		} else if *v.Email != "a@x.io" && *v.Email != "b@x.io" {
			t.Fatalf("email %q", *v.Email)
		}
	}
	dups := 2000 - len(ids)
	if dups < 450 || dups > 750 {
		t.Fatalf("%d duplicates in 2000 rows, want about 600", dups)
	}
	if nulls < 800 || nulls > 1200 {
		t.Fatalf("%d NULL emails, want about 1000", nulls)
	}
	// rows ends the stream: Poll waits for ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if recs, err := s.Poll(ctx); len(recs) != 0 || err == nil {
		t.Fatalf("after rows: %d records, %v", len(recs), err)
	}
}

func TestRate(t *testing.T) {
	s := open(t, map[string]string{"rows_per_second": "200"}, nil)
	start := time.Now()
	take(t, s, 100)
	if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
		t.Fatalf("100 rows at 200/s took %v", d)
	}
}

func TestSettingErrors(t *testing.T) {
	for _, tc := range []struct {
		fields map[string]map[string]string
		want   string
	}{
		{map[string]map[string]string{"nope": {"kind": "random"}}, "fields.nope: no such column (columns: id, user_id"},
		{map[string]map[string]string{"id": {"kind": "zigzag"}}, "fields.id.kind = 'zigzag': want 'random', 'sequence', 'values' or 'now'"},
		{map[string]map[string]string{"id": {"colour": "red"}}, "fields.id.colour: unknown setting (settings: kind, min"},
		{map[string]map[string]string{"id": {"null_ratio": "0.1"}}, "fields.id.null_ratio = '0.1': column id is NOT NULL"},
		{map[string]map[string]string{"user_id": {"min": "-1"}}, "fields.user_id.min = '-1': not a UInt64 value"},
		{map[string]map[string]string{"id": {"kind": "values"}}, "fields.id.kind = 'values' needs fields.id.values"},
		{map[string]map[string]string{"id": {"kind": "values", "values": "1,x"}}, `fields.id.values = '1,x': "x": not a Int64 value`},
		{map[string]map[string]string{"id": {"kind": "now"}}, "'now' is for Date, DateTime and DateTime64 columns"},
	} {
		_, err := OpenSource(context.Background(), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "gen", Declared: schema, ColumnOptions: tc.fields}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `open datagen source "gen": `) {
			t.Errorf("%v: error %v, want %q", tc.fields, err, tc.want)
		}
	}
	_, err := OpenSource(context.Background(), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "gen", Declared: schema,
		Options: map[string]string{"duplicate_ratio": "2"}}})
	if err == nil || !strings.Contains(err.Error(), "option duplicate_ratio = '2': want a number from 0 to 1") {
		t.Errorf("duplicate_ratio: %v", err)
	}
}

// Options spelled fields.<column>.<setting> work without the planner.
func TestFieldOptions(t *testing.T) {
	src, err := OpenSource(context.Background(), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "gen", Declared: dag.Schema{{Name: "n", Type: dag.T(dag.Int32)}},
		Options: map[string]string{"rows_per_second": "0", "fields.n.kind": "sequence", "fields.n.step": "5"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := take(t, src.(*Source), 3)
	if fmt.Sprint(got) != `[0/0 {"n":1} 0/1 {"n":6} 0/2 {"n":11}]` {
		t.Fatalf("got %v", got)
	}
}

func BenchmarkGenerate(b *testing.B) {
	src, err := OpenSource(context.Background(), runtime.SourceConfig{
		Spec: &dag.SourceSpec{Name: "gen", Options: map[string]string{"rows_per_second": "0", "duplicate_ratio": "0.1"}, Declared: schema, ColumnOptions: fields}})
	if err != nil {
		b.Fatal(err)
	}
	s := src.(*Source)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		recs, _ := s.Poll(context.Background())
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
