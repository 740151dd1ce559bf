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

// TestHostileNamesEndToEnd: a pipeline whose sink tables are named with a
// backquote, a double quote, a quote and a semicolon creates those tables
// and writes its rows into them, in the real ClickHouse and PostgreSQL;
// nothing else is created or dropped. (A column named with a backquote is
// refused by the ClickHouse sink: its client matches columns by name with
// backquotes removed.)
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
	chTable := "ord`ers \"" + suffix + "\"; DROP TABLE x -- '\\"
	pgTable := "ord`ers \"" + suffix + "\"; DROP TABLE x -- '"
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	t.Cleanup(func() {
		pg.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{pgTable}.Sanitize())
		chtest.Exec(t, "DROP TABLE IF EXISTS `"+strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(chTable)+"`")
	})
	e, _, _ := startLogged(t, web.Config{})
	src := `CREATE SOURCE ev (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts)
  WITH (connector = 'datagen', rows = '25');
CREATE SINK ch WITH (connector = 'clickhouse', url = ` + sqlString(chURL) + `, table = ` + sqlString(chTable) + `, create_table = 'true', flush_interval = '100ms');
CREATE SINK pg WITH (connector = 'postgres', url = ` + sqlString(pgURL) + `, table = ` + sqlString(pgTable) + `, create_table = 'true', flush_interval = '100ms');
CREATE PIPELINE to_ch AS INSERT INTO ch SELECT id AS "we""ird; col", ts FROM ev;
CREATE PIPELINE to_pg AS INSERT INTO pg SELECT id AS "we""ird` + "`" + `col", ts FROM ev;
`
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql", src); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	conn := chtest.Conn(t)
	chCount := func() uint64 {
		var n uint64
		conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", chTable).Scan(&n)
		if n == 0 {
			return 0
		}
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM `"+strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(chTable)+"`").Scan(&rows); err != nil {
			t.Logf("count: %v", err)
		}
		return rows
	}
	pgCount := func() int64 {
		var n int64
		if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{pgTable}.Sanitize()).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	waitFor(t, "25 rows in both tables", func() bool {
		for _, p := range []string{"to_ch", "to_pg"} {
			if o := e.pipeline(p); o.State == "failed" {
				t.Fatalf("%s failed: %s", p, o.Error)
			}
		}
		return chCount() == 25 && pgCount() == 25
	})
}
