package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-sql/sluice/connectors/clickhouse/chtest"
	"github.com/sluice-sql/sluice/web"
)

// sqlString writes s as a SQL string literal of Sluice.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestHostileNamesEndToEnd: a pipeline whose sink tables and columns are
// named with backquotes, double quotes, quotes, semicolons, comment
// markers, spaces and non-ASCII letters creates those tables, writes its
// rows into them and they read back, in the real ClickHouse and
// PostgreSQL; nothing else is created or dropped. A column name the
// ClickHouse sink cannot write (a backquote, a backslash, a parenthesis)
// is a positioned error at apply, in a pipeline and in a sink's declared
// columns, and the script changes nothing.
func TestHostileNamesEndToEnd(t *testing.T) {
	chURL := chtest.URL(t)
	pgURL := os.Getenv("SLUICE_TEST_POSTGRES")
	if pgURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_POSTGRES is not set")
		}
		t.Skip("SLUICE_TEST_POSTGRES is not set")
	}
	suffix := fmt.Sprintf("%d", os.Getpid())
	chTable := "ord`ers (é) \"" + suffix + "\"; DROP TABLE x -- '\\"
	pgTable := "ord`ers (é) \"" + suffix + "\"; DROP TABLE x -- '"
	chCol := "we\"ird; 'col' -- größe"
	pgCol := "we\"ird`; 'col' (größe) -- \\"
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	chQuoted := "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(chTable) + "`"
	drop := func() {
		if _, err := pg.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{pgTable}.Sanitize()); err != nil {
			t.Errorf("drop the PostgreSQL table: %v", err)
		}
		chtest.Exec(t, "DROP TABLE IF EXISTS "+chQuoted)
	}
	drop() // what an interrupted earlier run left
	t.Cleanup(func() {
		drop()
		pg.Close(ctx)
	})
	e, _, _ := startLogged(t, web.Config{})
	quoted := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	sinks := `CREATE SOURCE ev (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts)
  WITH (connector = 'datagen', rows = '25', 'fields.id.kind' = 'sequence');
CREATE SINK ch WITH (connector = 'clickhouse', url = ` + sqlString(chURL) + `, table = ` + sqlString(chTable) + `, create_table = 'true', flush_interval = '100ms');
CREATE SINK pg WITH (connector = 'postgres', url = ` + sqlString(pgURL) + `, table = ` + sqlString(pgTable) + `, create_table = 'true', flush_interval = '100ms');
`
	// A column the ClickHouse sink cannot write is refused where it is
	// named, and nothing of the script is applied.
	for _, tc := range []struct{ src, near string }{
		{sinks + "CREATE PIPELINE to_ch AS INSERT INTO ch SELECT id AS \"we`ird\", ts FROM ev;\n", "\"we`ird\""},
		{sinks + "CREATE PIPELINE to_ch AS INSERT INTO ch SELECT id AS \"a(b\", ts FROM ev;\n", "\"a(b\""},
		{sinks + "CREATE SINK ch2 (\"x\\y\" UInt64) WITH (connector = 'clickhouse', url = " + sqlString(chURL) + ");\n", "\"x\\y\""},
	} {
		var fail apiErr
		code := e.call("POST", "/api/v1/scripts", "application/sql", strings.NewReader(tc.src), &fail)
		if code != 422 || len(fail.Errors) != 1 {
			t.Fatalf("%s: %d %+v", tc.near, code, fail)
		}
		d := fail.Errors[0]
		line := strings.Split(tc.src, "\n")[d.Line-1]
		if d.Line != 5 || !strings.HasPrefix(string([]rune(line)[d.Column-1:]), tc.near) ||
			!strings.Contains(d.Message, "cannot be written to a clickhouse sink") || !strings.Contains(d.Hint, "backquotes removed") {
			t.Errorf("%s: error %+v", tc.near, d)
		}
	}
	if code, body := e.raw("GET", "/api/v1/sinks", "", ""); code != 200 || strings.Contains(body, `"ch"`) {
		t.Fatalf("a refused script left sinks: %d %s", code, body)
	}

	src := sinks + `CREATE PIPELINE to_ch AS INSERT INTO ch SELECT id AS ` + quoted(chCol) + `, ts FROM ev;
CREATE PIPELINE to_pg AS INSERT INTO pg SELECT id AS ` + quoted(pgCol) + `, ts FROM ev;
`
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql", src); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	conn := chtest.Conn(t)
	chSum := func() uint64 {
		var n uint64
		conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", chTable).Scan(&n)
		if n == 0 {
			return 0
		}
		var sum uint64
		col := "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(chCol) + "`"
		if err := conn.QueryRow(ctx, "SELECT toUInt64(ifNull(sum("+col+"), 0)) + count() * 1000000 FROM "+chQuoted).Scan(&sum); err != nil {
			t.Logf("sum: %v", err)
		}
		return sum
	}
	pgSum := func() int64 {
		var n int64
		if err := pg.QueryRow(ctx, "SELECT sum("+pgx.Identifier{pgCol}.Sanitize()+") + count(*) * 1000000 FROM "+pgx.Identifier{pgTable}.Sanitize()).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	want := int64(25*1000000 + 25*26/2) // the ids are 1…25
	var ch, pgs int64
	defer func() {
		if t.Failed() {
			t.Logf("ClickHouse: %d, PostgreSQL: %d, want %d each", ch, pgs, want)
		}
	}()
	waitFor(t, "25 rows in both tables, the ids read back by column name", func() bool {
		for _, p := range []string{"to_ch", "to_pg"} {
			if o := e.pipeline(p); o.State == "failed" {
				t.Fatalf("%s failed: %s", p, o.Error)
			}
		}
		ch, pgs = int64(chSum()), pgSum()
		return ch == want && pgs == want
	})
}
