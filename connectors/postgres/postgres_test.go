package postgres

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// pgURL returns the test database (SLUICE_TEST_POSTGRES); without it the
// test is skipped, except in CI, where that is a failure.
func pgURL(t *testing.T) string {
	u := os.Getenv("SLUICE_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_POSTGRES is not set")
		}
		t.Skip("SLUICE_TEST_POSTGRES is not set (postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return u
}

func exec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func queryStrings(t *testing.T, url, q string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tableName(t *testing.T) string {
	return fmt.Sprintf("%s_%d", strings.ToLower(t.Name()), time.Now().UnixNano()%1e9)
}

func TestCopyEveryType(t *testing.T) {
	url := pgURL(t)
	table := tableName(t)
	t.Cleanup(func() { exec(t, url, "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize()) })
	dec := dag.Type{Kind: dag.Decimal, Precision: 12, Scale: 3}
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.Int32)},
		{Name: "s", Type: dag.T(dag.String).WithNull(true)},
		{Name: "i8", Type: dag.T(dag.Int8)},
		{Name: "i64", Type: dag.T(dag.Int64)},
		{Name: "u32", Type: dag.T(dag.UInt32)},
		{Name: "u64", Type: dag.T(dag.UInt64)},
		{Name: "f32", Type: dag.T(dag.Float32)},
		{Name: "f64", Type: dag.T(dag.Float64).WithNull(true)},
		{Name: "b", Type: dag.T(dag.Bool)},
		{Name: "d", Type: dag.T(dag.Date)},
		{Name: "ts", Type: dag.Timestamp},
		{Name: "dec", Type: dec.WithNull(true)},
	}
	b := &runtime.Batch{Len: 2, Vecs: []runtime.Vector{
		{I64: []int64{1, 2}},
		{Data: []byte("héllo"), Offs: []uint32{0, 6, 6}, Nulls: []bool{false, true}},
		{I64: []int64{-128, 127}},
		{I64: []int64{math.MinInt64, math.MaxInt64}},
		{U64: []uint64{0, math.MaxUint32}},
		{U64: []uint64{math.MaxUint64, 1}},
		{F64: []float64{1.5, -0.25}},
		{F64: []float64{0, 2.5}, Nulls: []bool{true, false}},
		{I64: []int64{1, 0}},
		{I64: []int64{19675, 0}},
		{I64: []int64{1_700_000_000_123_000_000, 0}},
		{I64: []int64{-1234, 0}, Nulls: []bool{false, true}},
	}}
	snk, err := OpenSink(context.Background(), runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "out", Connector: "postgres", Options: map[string]string{"url": url, "table": table, "create_table": "true"}},
		Schema: schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	if err := snk.Write(context.Background(), b, "t1"); err != nil {
		t.Fatal(err)
	}
	got := queryStrings(t, url, `SELECT concat_ws('|', id, coalesce(s, 'NULL'), i8, i64, u32, u64, f32, coalesce(f64::text, 'NULL'), b, d,
		to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), coalesce(dec::text, 'NULL')) FROM `+pgx.Identifier{table}.Sanitize()+` ORDER BY id`)
	want := []string{
		"1|héllo|-128|-9223372036854775808|0|18446744073709551615|1.5|NULL|t|2023-11-14|2023-11-14 22:13:20.123|-1.234",
		"2|NULL|127|9223372036854775807|4294967295|1|-0.25|2.5|f|1970-01-01|1970-01-01 00:00:00.000|NULL",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSchemaFitAndQuoting(t *testing.T) {
	url := pgURL(t)
	victim := tableName(t) + "_victim"
	hostile := `x"; DROP TABLE ` + victim + `; --`
	t.Cleanup(func() {
		exec(t, url, "DROP TABLE IF EXISTS "+pgx.Identifier{victim}.Sanitize(), "DROP TABLE IF EXISTS "+pgx.Identifier{hostile}.Sanitize())
	})
	exec(t, url, "CREATE TABLE "+pgx.Identifier{victim}.Sanitize()+" (a text, b integer)")
	open := func(table string, schema dag.Schema, create bool) (runtime.Sink, error) {
		return OpenSink(context.Background(), runtime.SinkConfig{
			Spec:   &dag.SinkSpec{Name: "out", Options: map[string]string{"url": url, "table": table, "create_table": fmt.Sprint(create)}},
			Schema: schema,
		})
	}
	for _, tc := range []struct {
		schema dag.Schema
		want   string
	}{
		{dag.Schema{{Name: "b", Type: dag.T(dag.Int64)}}, `column "b": the pipeline writes Int64 but table "` + victim + `" has integer`},
		{dag.Schema{{Name: "z", Type: dag.T(dag.Int64)}}, `column "z" of the pipeline's output is not in table "` + victim + `" (its columns: a, b)`},
	} {
		if _, err := open(victim, tc.schema, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	if _, err := open("no_such_table", dag.Schema{{Name: "a", Type: dag.T(dag.String)}}, false); err == nil ||
		!strings.Contains(err.Error(), `table "no_such_table" does not exist; create it, or set create_table = 'true'`) {
		t.Errorf("missing table: %v", err)
	}

	schema := dag.Schema{{Name: `col"; DROP`, Type: dag.T(dag.Int64)}}
	snk, err := open(hostile, schema, true)
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	if err := snk.Write(context.Background(), &runtime.Batch{Len: 1, Vecs: []runtime.Vector{{I64: []int64{7}}}}, ""); err != nil {
		t.Fatal(err)
	}
	if got := queryStrings(t, url, "SELECT count(*)::text FROM "+pgx.Identifier{victim}.Sanitize()); fmt.Sprint(got) != "[0]" {
		t.Fatalf("victim: %v", got)
	}
	if got := queryStrings(t, url, "SELECT "+pgx.Identifier{schema[0].Name}.Sanitize()+"::text FROM "+pgx.Identifier{hostile}.Sanitize()); fmt.Sprint(got) != "[7]" {
		t.Fatalf("hostile: %v", got)
	}
}
