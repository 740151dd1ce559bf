// Package chtest gives tests the ClickHouse server that scripts/clickhouse.sh
// started (SLUICE_TEST_CLICKHOUSE), and servers of their own that they may
// stop and start again to test outages.
package chtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	return ConnAt(t, URL(t))
}

// ConnAt opens a connection to the server at url.
func ConnAt(t testing.TB, url string) driver.Conn {
	t.Helper()
	opts, err := ch.ParseDSN(url)
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

// Own starts a ClickHouse server for the calling test alone, with
// scripts/clickhouse.sh, and returns its URL and directory; it is removed
// when the test ends. A test that stops its server uses its own: go test
// runs packages at the same time, and they share the server make test
// starts. Skipped, or a failure in CI, as URL.
func Own(t testing.TB) (url, dir string) {
	t.Helper()
	URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", scriptPath(t), "start").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("clickhouse.sh start: %v\n%s", err, stderr)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export SLUICE_TEST_CLICKHOUSE="); ok {
			url = v
		}
		if v, ok := strings.CutPrefix(line, "export SLUICE_CLICKHOUSE_DIR="); ok {
			dir = v
		}
	}
	if url == "" || dir == "" {
		t.Fatalf("clickhouse.sh start printed no server:\n%s", out)
	}
	t.Cleanup(func() { exec.Command("bash", scriptPath(t), "stop", dir).Run() })
	return url, dir
}

// StopServer stops the server in dir (one started by Own), keeping its
// data.
func StopServer(t testing.TB, dir string) {
	t.Helper()
	script(t, "stop-server", dir)
}

// StartServer starts the server in dir again on its data.
func StartServer(t testing.TB, dir string) {
	t.Helper()
	script(t, "start-server", dir)
}

func script(t testing.TB, cmd, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", scriptPath(t), cmd, dir).CombinedOutput()
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
