// Package chtest gives tests the ClickHouse server that scripts/clickhouse.sh
// started (SLUICE_TEST_CLICKHOUSE), and lets them stop and start it again
// to test outages.
package chtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// URL returns the test server's URL. Without one the test is skipped,
// except in CI (CI=true), where a missing server is a failure: CI must not
// pass by testing nothing.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SLUICE_TEST_CLICKHOUSE")
	if u == "" {
		need(t, "SLUICE_TEST_CLICKHOUSE is not set (eval \"$(bash scripts/clickhouse.sh start)\")")
	}
	return u
}

func need(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// Conn opens a connection to the test server for checking results.
func Conn(t testing.TB) driver.Conn {
	t.Helper()
	opts, err := ch.ParseDSN(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ch.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Exec runs statements on the test server.
func Exec(t testing.TB, stmts ...string) {
	t.Helper()
	conn := Conn(t)
	for _, s := range stmts {
		if err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// StopServer stops the test server, keeping its data, and makes sure it is
// started again when the test ends.
func StopServer(t testing.TB) {
	t.Helper()
	script(t, "stop-server")
	t.Cleanup(func() {
		if exec.Command("bash", scriptPath(t), "status").Run() != nil {
			script(t, "start-server")
		}
	})
}

// StartServer starts the test server stopped by StopServer.
func StartServer(t testing.TB) {
	t.Helper()
	script(t, "start-server")
}

func script(t testing.TB, cmd string) {
	t.Helper()
	if os.Getenv("SLUICE_CLICKHOUSE_DIR") == "" {
		need(t, "SLUICE_CLICKHOUSE_DIR is not set: the server was not started by scripts/clickhouse.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", scriptPath(t), cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("clickhouse.sh %s: %v\n%s", cmd, err, out)
	}
}

// scriptPath finds scripts/clickhouse.sh from the test's directory up to
// the module root.
func scriptPath(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "scripts", "clickhouse.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				t.Fatal(fmt.Errorf("no scripts/clickhouse.sh beside go.mod in %s", dir))
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
