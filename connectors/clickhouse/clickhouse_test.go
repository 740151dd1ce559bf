package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/connectors/clickhouse/chtest"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var tableSeq atomic.Int64

// tableName returns a table name no other test run uses.
func tableName(t *testing.T) string {
	return fmt.Sprintf("%s_%d_%d", strings.ToLower(t.Name()), time.Now().UnixNano()%1e9, tableSeq.Add(1))
}

func open(t *testing.T, schema dag.Schema, opts map[string]string) *Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Connector: "clickhouse", Options: opts}, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

// col builds a vector; values are int64, uint64, float64, string or nil.
func col(t dag.Type, vals ...any) runtime.Vector {
	v := runtime.Vector{Type: t}
	if t.Kind.Storage() == dag.StoreBytes {
		v.Offs = []uint32{0}
	}
	for i, x := range vals {
		if x == nil {
			if v.Nulls == nil {
				v.Nulls = make([]bool, len(vals))
			}
			v.Nulls[i] = true
		}
		switch t.Kind.Storage() {
		case dag.StoreInt64:
			n, _ := x.(int64)
			v.I64 = append(v.I64, n)
		case dag.StoreUint64:
			n, _ := x.(uint64)
			v.U64 = append(v.U64, n)
		case dag.StoreFloat64:
			f, _ := x.(float64)
			v.F64 = append(v.F64, f)
		case dag.StoreBytes:
			s, _ := x.(string)
			v.Data = append(v.Data, s...)
			v.Offs = append(v.Offs, uint32(len(v.Data)))
		}
	}
	if v.Nulls == nil && t.Nullable {
		// As the runtime leaves it: empty but with capacity, no NULLs.
		v.Nulls = make([]bool, 0, len(vals))
	}
	return v
}

func batch(vecs ...runtime.Vector) *runtime.Batch {
	n := max(len(vecs[0].I64), len(vecs[0].U64), len(vecs[0].F64), len(vecs[0].Offs)-1)
	return &runtime.Batch{Vecs: vecs, Len: n}
}

func write(t *testing.T, s *Sink, b *runtime.Batch, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Write(ctx, b, token); err != nil {
		t.Fatal(err)
	}
}

// query returns the rows of q, each column rendered by toString.
func query(t *testing.T, q string) []string {
	t.Helper()
	return queryAt(t, chtest.URL(t), q)
}

// queryAt runs q on the server at url and returns its rows as text.
func queryAt(t *testing.T, url, q string) []string {
	t.Helper()
	rows, err := chtest.ConnAt(t, url).Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func idSeq(n int) runtime.Vector {
	v := runtime.Vector{Type: dag.T(dag.Int64)}
	for i := range n {
		v.I64 = append(v.I64, int64(i))
	}
	return v
}

func TestRoundTripEveryType(t *testing.T) {
	url := chtest.URL(t)
	N := func(k dag.Kind) dag.Type { return dag.T(k).WithNull(true) }
	dec := dag.Type{Kind: dag.Decimal, Precision: 18, Scale: 4}
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.Int32)},
		{Name: "s", Type: dag.T(dag.String)},
		{Name: "i8", Type: dag.T(dag.Int8)}, {Name: "i16", Type: dag.T(dag.Int16)},
		{Name: "i32", Type: dag.T(dag.Int32)}, {Name: "i64", Type: dag.T(dag.Int64)},
		{Name: "u8", Type: dag.T(dag.UInt8)}, {Name: "u16", Type: dag.T(dag.UInt16)},
		{Name: "u32", Type: dag.T(dag.UInt32)}, {Name: "u64", Type: dag.T(dag.UInt64)},
		{Name: "f32", Type: dag.T(dag.Float32)}, {Name: "f64", Type: dag.T(dag.Float64)},
		{Name: "b", Type: dag.T(dag.Bool)},
		{Name: "d", Type: dag.T(dag.Date)},
		{Name: "dt", Type: dag.T(dag.DateTime)},
		{Name: "dt64", Type: dag.Timestamp},
		{Name: "dec", Type: dec},
		{Name: "ns", Type: N(dag.String)},
		{Name: "ni64", Type: N(dag.Int64)},
		{Name: "nu64", Type: N(dag.UInt64)},
		{Name: "nf64", Type: N(dag.Float64)},
		{Name: "nb", Type: N(dag.Bool)},
		{Name: "ndt64", Type: dag.Timestamp.WithNull(true)},
		{Name: "ndec", Type: dec.WithNull(true)},
		{Name: "nn", Type: N(dag.String)},
	}
	const ts = int64(1_700_000_000_123_000_000) // 2023-11-14 22:13:20.123 UTC
	b := batch(
		col(schema[0].Type, int64(1), int64(2)),
		col(schema[1].Type, "héllo, `world`", ""),
		col(schema[2].Type, int64(math.MinInt8), int64(math.MaxInt8)),
		col(schema[3].Type, int64(math.MinInt16), int64(math.MaxInt16)),
		col(schema[4].Type, int64(math.MinInt32), int64(math.MaxInt32)),
		col(schema[5].Type, int64(math.MinInt64), int64(math.MaxInt64)),
		col(schema[6].Type, uint64(0), uint64(math.MaxUint8)),
		col(schema[7].Type, uint64(1), uint64(math.MaxUint16)),
		col(schema[8].Type, uint64(2), uint64(math.MaxUint32)),
		col(schema[9].Type, uint64(3), uint64(math.MaxUint64)),
		col(schema[10].Type, 1.5, -0.25),
		col(schema[11].Type, 1e-300, -2.5),
		col(schema[12].Type, int64(1), int64(0)),
		col(schema[13].Type, int64(19675), int64(1)), // 2023-11-14, 1970-01-02
		// (18.16 shows the zero date and time as 0000-00-00.)
		col(schema[14].Type, ts, int64(86400e9)),
		col(schema[15].Type, ts, int64(86400e9+1e6)),
		col(schema[16].Type, int64(123456), int64(-5)), // 12.3456, -0.0005
		col(schema[17].Type, "x", nil),
		col(schema[18].Type, nil, int64(-7)),
		col(schema[19].Type, uint64(math.MaxUint64), nil),
		col(schema[20].Type, nil, 2.5),
		col(schema[21].Type, int64(1), nil),
		col(schema[22].Type, ts, nil),
		col(schema[23].Type, nil, int64(12345)),
		col(schema[24].Type, "p", "q"),
	)
	table := tableName(t)
	s := open(t, schema, map[string]string{"url": url, "table": table, "create_table": "true"})
	write(t, s, b, "tok-1")
	t.Logf("server %s revision %d: %+v", s.feat.version, s.feat.revision, s.feat)

	dtText := "2023-11-14 22:13:20"
	dt64 := []string{dtText, "1970-01-02 00:00:00"}
	if s.feat.dateTime64 {
		dt64 = []string{dtText + ".123", "1970-01-02 00:00:00.001"}
	}
	var exprs []string
	for _, c := range schema {
		exprs = append(exprs, fmt.Sprintf("ifNull(toString(%s), 'NULL')", quoteIdent(c.Name)))
	}
	got := query(t, fmt.Sprintf("SELECT arrayStringConcat([%s], '|') FROM %s ORDER BY id", strings.Join(exprs, ", "), quoteIdent(table)))
	want := []string{
		"1|héllo, `world`|-128|-32768|-2147483648|-9223372036854775808|0|1|2|3|1.5|1e-300|1|2023-11-14|" + dtText + "|" + dt64[0] + "|12.3456|x|NULL|18446744073709551615|NULL|1|" + dt64[0] + "|NULL|p",
		"2||127|32767|2147483647|9223372036854775807|255|65535|4294967295|18446744073709551615|-0.25|-2.5|0|1970-01-02|1970-01-02 00:00:00|" + dt64[1] + "|-0.0005|NULL|-7|NULL|2.5|NULL|NULL|1.2345|q",
	}
	if s.feat.boolType {
		// Bool columns render as true/false.
		for i := range want {
			f := strings.Split(want[i], "|")
			f[12] = map[string]string{"1": "true", "0": "false"}[f[12]]
			if f[21] != "NULL" {
				f[21] = map[string]string{"1": "true", "0": "false"}[f[21]]
			}
			want[i] = strings.Join(f, "|")
		}
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("read back\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	types := query(t, fmt.Sprintf("SELECT concat(name, ' ', type) FROM system.columns WHERE database = currentDatabase() AND table = %s AND name IN ('dt64', 'ndt64', 'b', 'ndec')", quoteString(table)))
	wantTypes := "[dt64 DateTime b UInt8 ndt64 Nullable(DateTime) ndec Nullable(Decimal(18, 4))]"
	if s.feat.dateTime64 {
		wantTypes = "[dt64 DateTime64(3) b Bool ndt64 Nullable(DateTime64(3)) ndec Nullable(Decimal(18, 4))]"
	}
	if fmt.Sprint(sortedLike(types, wantTypes)) != wantTypes {
		t.Errorf("created column types %v, want %s", types, wantTypes)
	}
}

// sortedLike orders got as the words of want, to compare sets.
func sortedLike(got []string, want string) []string {
	var out []string
	for _, w := range strings.Fields(strings.Trim(want, "[]")) {
		for _, g := range got {
			if strings.HasPrefix(g, w+" ") {
				out = append(out, g)
			}
		}
	}
	return out
}

func TestSchemaFit(t *testing.T) {
	url := chtest.URL(t)
	table := tableName(t)
	chtest.Exec(t, "CREATE TABLE "+quoteIdent(table)+" (a String, b Int32, c Nullable(Float64), d DateTime, e Int64) ENGINE = MergeTree ORDER BY tuple()")
	ctx := context.Background()
	for _, tc := range []struct {
		schema dag.Schema
		want   string
	}{
		{dag.Schema{{Name: "b", Type: dag.T(dag.Int64)}}, `column "b": the pipeline writes Int64 but table ` + "`default`.`" + table + "` has Int32"},
		{dag.Schema{{Name: "a", Type: dag.T(dag.Int32)}}, `column "a": the pipeline writes Int32 but table`},
		{dag.Schema{{Name: "x", Type: dag.T(dag.String)}}, `column "x" of the pipeline's output is not in table ` + "`default`.`" + table + "` (its columns: a, b, c, d, e)"},
		{dag.Schema{{Name: "c", Type: dag.T(dag.Float32)}, {Name: "e", Type: dag.T(dag.UInt64)}}, `column "e": the pipeline writes UInt64 but table`},
		{dag.Schema{{Name: "a`b", Type: dag.T(dag.String)}}, "column \"a`b\" cannot be written to ClickHouse: the ClickHouse client matches"},
	} {
		_, err := OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Options: map[string]string{"url": url, "table": table}}, Schema: tc.schema})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("schema %v: error %v, want one containing %q", tc.schema, err, tc.want)
		}
	}
	// Widening, nullable into a non-Nullable column, DateTime64 into DateTime.
	ok := dag.Schema{
		{Name: "b", Type: dag.T(dag.Int16).WithNull(true)}, {Name: "c", Type: dag.T(dag.Float32)},
		{Name: "d", Type: dag.Timestamp}, {Name: "e", Type: dag.T(dag.UInt32)}, {Name: "a", Type: dag.T(dag.String)},
	}
	s := open(t, ok, map[string]string{"url": url, "table": table})
	write(t, s, batch(col(ok[0].Type, nil, int64(-3)), col(ok[1].Type, 0.5, 1.0), col(ok[2].Type, int64(1_500_000_000), int64(2_000_000_000)),
		col(ok[3].Type, uint64(math.MaxUint32), uint64(1)), col(ok[4].Type, "p", "q")), "")
	got := query(t, "SELECT concat(a, '|', toString(b), '|', ifNull(toString(c), 'NULL'), '|', toString(d), '|', toString(e)) FROM "+quoteIdent(table)+" ORDER BY a")
	if fmt.Sprint(got) != "[p|0|0.5|1970-01-01 00:00:01|4294967295 q|-3|1|1970-01-01 00:00:02|1]" {
		t.Fatalf("got %v", got)
	}

	_, err := OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Options: map[string]string{"url": url, "table": "no_such_table"}}, Schema: ok})
	if err == nil || !strings.Contains(err.Error(), "table `default`.`no_such_table` does not exist; create it, or set create_table = 'true'") {
		t.Fatalf("missing table: %v", err)
	}
}

func TestHostileTableName(t *testing.T) {
	url := chtest.URL(t)
	victim := tableName(t) + "_victim"
	chtest.Exec(t, "CREATE TABLE "+quoteIdent(victim)+" (x Int8) ENGINE = MergeTree ORDER BY tuple()")
	hostile := "x; DROP TABLE " + victim + " -- `\\'"
	schema := dag.Schema{{Name: "weird col; DROP", Type: dag.T(dag.String)}}
	s := open(t, schema, map[string]string{"url": url, "table": hostile, "create_table": "true"})
	write(t, s, batch(col(schema[0].Type, "v")), "")
	if got := query(t, "SELECT toString(count()) FROM system.tables WHERE database = currentDatabase() AND name IN ("+quoteString(hostile)+", "+quoteString(victim)+")"); fmt.Sprint(got) != "[2]" {
		t.Fatalf("tables %v, want both the hostile-named one and the victim", got)
	}
	if got := query(t, "SELECT "+quoteIdent(schema[0].Name)+" FROM "+quoteIdent(hostile)); fmt.Sprint(got) != "[v]" {
		t.Fatalf("rows %v", got)
	}
	chtest.Exec(t, "DROP TABLE "+quoteIdent(hostile))
}

// TestHostileColumnNames: columns named with double and single quotes,
// commas, semicolons, comment markers, spaces and non-ASCII letters, in a
// table named with backquotes, parentheses and backslashes, are created,
// inserted into (in either column order) and read back; a column named
// with a backquote is refused when the sink opens, saying why.
func TestHostileColumnNames(t *testing.T) {
	url := chtest.URL(t)
	table := tableName(t) + " `(x), \\ \"y\" -- é"
	schema := dag.Schema{
		{Name: "we\"ird", Type: dag.T(dag.String)},
		{Name: "a \"b\", c; -- #; 'x' /*", Type: dag.T(dag.Int64)},
		{Name: "plain", Type: dag.T(dag.Int64)},
		{Name: "größe", Type: dag.T(dag.Int64)},
	}
	s := open(t, schema, map[string]string{"url": url, "table": table, "create_table": "true"})
	write(t, s, batch(col(schema[0].Type, "v", "w"), col(schema[1].Type, int64(1), int64(2)), col(schema[2].Type, int64(3), int64(4)), col(schema[3].Type, int64(5), int64(6))), "")
	s.Close()
	sel := "SELECT concat(" + quoteIdent(schema[0].Name) + ", '|', toString(" + quoteIdent(schema[1].Name) + "), '|', toString(plain), '|', toString(" + quoteIdent(schema[3].Name) + ")) FROM " + quoteIdent(table) + " ORDER BY plain"
	if got := query(t, sel); fmt.Sprint(got) != "[v|1|3|5 w|2|4|6]" {
		t.Fatalf("rows %v", got)
	}
	re := dag.Schema{schema[3], schema[2], schema[1], schema[0]}
	s = open(t, re, map[string]string{"url": url, "table": table})
	write(t, s, batch(col(re[0].Type, int64(9)), col(re[1].Type, int64(8)), col(re[2].Type, int64(7)), col(re[3].Type, "u")), "")
	s.Close()
	if got := query(t, sel); fmt.Sprint(got) != "[v|1|3|5 w|2|4|6 u|7|8|9]" {
		t.Fatalf("rows after the reordered insert %v", got)
	}
	chtest.Exec(t, "DROP TABLE "+quoteIdent(table))

	bad := dag.Schema{{Name: "we`ird", Type: dag.T(dag.String)}}
	_, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Options: map[string]string{"url": url, "table": table, "create_table": "true"}}, Schema: bad})
	if err == nil || !strings.Contains(err.Error(), "column \"we`ird\" cannot be written to ClickHouse: the ClickHouse client matches inserted columns by name with backquotes removed") {
		t.Fatalf("backquote in a column name: %v", err)
	}
	chtest.Exec(t, "DROP TABLE IF EXISTS "+quoteIdent(table))
}

func TestDeduplicationToken(t *testing.T) {
	url := chtest.URL(t)
	schema := dag.Schema{{Name: "id", Type: dag.T(dag.Int64)}}
	table := tableName(t)
	s := open(t, schema, map[string]string{"url": url, "table": table, "create_table": "true"})
	if !s.feat.dedupToken {
		// Without tokens the runtime must count a replayed write's rows.
		if s.DeduplicatesTokens() {
			t.Fatalf("server %s has no insert_deduplication_token, but the sink says it deduplicates", s.feat.version)
		}
		t.Skipf("server %s has no insert_deduplication_token", s.feat.version)
	}
	if !s.DeduplicatesTokens() {
		t.Fatal("a table made by create_table on a server with tokens must deduplicate them")
	}
	b := batch(idSeq(10))
	write(t, s, b, "same")
	write(t, s, b, "same")  // a replay: dropped by the server
	write(t, s, b, "other") // same rows, another batch: kept
	if got := query(t, "SELECT toString(count()) FROM "+quoteIdent(table)); fmt.Sprint(got) != "[20]" {
		t.Fatalf("count %v, want [20]", got)
	}
}

// TestOutage stops the server while a Write is under way: the Write waits,
// retrying, and completes once the server is back, with every row written
// exactly once. The connection pool's connections from before the restart
// are dead, so this also covers reconnecting.
func TestOutage(t *testing.T) {
	url, dir := chtest.Own(t)
	schema := dag.Schema{{Name: "id", Type: dag.T(dag.Int64)}}
	table := tableName(t)
	s := open(t, schema, map[string]string{"url": url, "table": table, "create_table": "true"})
	write(t, s, batch(idSeq(1000)), "b1")

	chtest.StopServer(t, dir)
	// A Write whose ctx ends while the server is away gives up with ctx's
	// error (the runtime stops the pipeline that way).
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	start := time.Now()
	err := s.Write(short, batch(idSeq(5)), "b0")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("Write with an ending ctx: %v after %v", err, time.Since(start))
	}

	done := make(chan error, 1)
	second := idSeq(2000)
	for i := range second.I64 {
		second.I64[i] += 1000
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done <- s.Write(ctx, batch(second), "b2")
	}()
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the server was down", err)
	case <-time.After(4 * time.Second):
	}
	chtest.StartServer(t, dir)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("Write did not complete after the server came back")
	}
	got := queryAt(t, url, "SELECT concat(toString(count()), ' ', toString(uniqExact(id)), ' ', toString(min(id)), ' ', toString(max(id))) FROM "+quoteIdent(table))
	if fmt.Sprint(got) != "[3000 3000 0 2999]" {
		t.Fatalf("count, distinct, min, max = %v, want [3000 3000 0 2999]", got)
	}
}

// A server error that waiting cannot fix is returned at once.
func TestPermanentError(t *testing.T) {
	url := chtest.URL(t)
	schema := dag.Schema{{Name: "id", Type: dag.T(dag.Int64)}}
	table := tableName(t)
	s := open(t, schema, map[string]string{"url": url, "table": table, "create_table": "true"})
	chtest.Exec(t, "DROP TABLE "+quoteIdent(table))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, batch(idSeq(3)), "")
	if err == nil || !strings.Contains(err.Error(), "code: 60") || time.Since(start) > 5*time.Second {
		t.Fatalf("Write to a dropped table: %v after %v", err, time.Since(start))
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"table": "t"}, "option url is required"},
		{map[string]string{"url": "http://x:8123", "table": "t"}, "option url = 'http://x:8123': want clickhouse://host:9000/database"},
		{map[string]string{"url": "clickhouse://x:9000/db", "table": "t", "batch_size": "many"}, "option batch_size = 'many': want a whole number"},
		{map[string]string{"url": "clickhouse://x:9000/db", "table": "t", "flush_interval": "1"}, "option flush_interval = '1': want a duration"},
		{map[string]string{"url": "clickhouse://x:9000/db", "table": "t", "create_table": "yes"}, "option create_table = 'yes': want 'true' or 'false'"},
		{map[string]string{"url": "clickhouse://x:9000/db", "table": "t", "password": "hunter2", "bogus": "1"}, `unknown option "bogus"`},
	} {
		_, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "o", Options: tc.opts}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `open clickhouse sink "o": `) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("options %v: error %v, want one containing %q", tc.opts, err, tc.want)
		}
	}
}

func TestTypes(t *testing.T) {
	for _, tc := range []struct {
		src  dag.Type
		dst  string
		fits bool
	}{
		{dag.T(dag.String), "LowCardinality(Nullable(String))", true},
		{dag.T(dag.Int32), "Int64", true},
		{dag.T(dag.Int64), "Int32", false},
		{dag.T(dag.UInt32), "Int64", true},
		{dag.T(dag.UInt64), "Int64", false},
		{dag.T(dag.Int8), "UInt8", false},
		{dag.T(dag.Bool), "UInt8", true},
		{dag.Timestamp, "DateTime('UTC')", true},
		{dag.T(dag.DateTime), "DateTime64(6, 'UTC')", true},
		{dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, "Decimal(18, 2)", true},
		{dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, "Decimal64(2)", true},
		{dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, "Decimal(18, 3)", false},
		{dag.T(dag.Float64), "Float32", false},
		{dag.T(dag.Date), "DateTime", false},
	} {
		if got := fits(tc.src, parseType(tc.dst)); got != tc.fits {
			t.Errorf("fits(%s, %s) = %v", tc.src, tc.dst, got)
		}
	}
	old, cur := features{}, features{dateTime64: true, boolType: true}
	if got := columnDDL(dag.Timestamp.WithNull(true), old); got != "Nullable(DateTime)" {
		t.Errorf("old server: %s", got)
	}
	if got := columnDDL(dag.Timestamp, cur); got != "DateTime64(3)" {
		t.Errorf("current server: %s", got)
	}
	if got := quoteIdent("a`b\\c(d), é_1"); got != "`a\\x60b\\x5Cc\\x28d\\x29\\x2C é_1`" {
		t.Errorf("quoteIdent: %s", got)
	}
}
