package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/catalog"
)

// testServer starts a server in this process on a free port.
func testServer(t *testing.T, token string) string {
	t.Helper()
	// The tests' file sinks write in their own temporary directories.
	cfg := serverConfig{listen: "127.0.0.1:0", dataDir: t.TempDir(), filesDir: os.TempDir(), token: token, stderr: io.Discard}
	if url := os.Getenv("SLUICE_TEST_POSTGRES"); url != "" {
		cfg.postgres = url
		cfg.schema = fmt.Sprintf("sluice_clitest_%d_%d", os.Getpid(), time.Now().UnixNano())
		t.Cleanup(func() { catalog.DropSchema(context.Background(), cfg.postgres, cfg.schema) })
	}
	rs, err := startServer(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.shutdown() })
	return rs.url
}

// sluice runs the CLI in this process and returns stdout, stderr and the
// exit code main would use.
func sluice(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	err := dispatch(args, &out, &errb)
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(&errb, "sluice:", err)
	}
	return out.String(), errb.String(), code
}

func TestCLI(t *testing.T) {
	url := testServer(t, "")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	os.WriteFile(filepath.Join(dir, "1-sources.sql"), []byte(`CREATE SOURCE ev (id UInt64, name String)
  WITH (connector = 'datagen', rows_per_second = '500');
CREATE SINK out WITH (connector = 'file', path = '`+out+`');
`), 0o644)
	os.WriteFile(filepath.Join(dir, "2-pipeline.sql"), []byte(`CREATE PIPELINE copy AS INSERT INTO out
SELECT id, name FROM ev;
`), 0o644)

	stdout, stderr, code := sluice("apply", "-f", dir, "--server", url)
	if code != 0 || !strings.Contains(stdout, "pipeline copy created") || !strings.Contains(stdout, "3 changed, 0 unchanged") {
		t.Fatalf("apply: %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = sluice("apply", "-f", dir, "--server", url)
	if code != 0 || !strings.Contains(stdout, "0 changed, 3 unchanged") {
		t.Errorf("re-apply: %d\n%s", code, stdout)
	}
	// A changed pipeline is replaced (kubectl-like), and restarts.
	os.WriteFile(filepath.Join(dir, "2-pipeline.sql"), []byte("CREATE PIPELINE copy AS INSERT INTO out\nSELECT id, name FROM ev WHERE id > 5;\n"), 0o644)
	stdout, _, code = sluice("apply", "-f", dir, "--server", url)
	if code != 0 || !strings.Contains(stdout, "pipeline copy replaced (restarted, state kept)") || !strings.Contains(stdout, "1 changed, 2 unchanged") {
		t.Errorf("apply a change: %d\n%s", code, stdout)
	}

	bad := filepath.Join(dir, "bad.sql.txt")
	os.WriteFile(bad, []byte("CREATE PIPELINE p2 AS INSERT INTO out\nSELECT idd FROM ev;\n"), 0o644)
	_, stderr, code = sluice("validate", "-f", bad, "--server", url)
	if code != 1 || !strings.Contains(stderr, bad+":2:8: unknown column \"idd\"") || !strings.Contains(stderr, "^") {
		t.Errorf("validate a bad file: %d\n%s", code, stderr)
	}
	good := filepath.Join(dir, "good.sql.txt")
	os.WriteFile(good, []byte("CREATE PIPELINE p2 AS INSERT INTO out SELECT id, name FROM ev;\n"), 0o644)
	stdout, _, code = sluice("validate", "-f", good, "--server", url)
	if code != 0 || !strings.Contains(stdout, "pipeline p2 would be created") || !strings.Contains(stdout, "source ev") {
		t.Errorf("validate: %d\n%s", code, stdout)
	}

	stdout, _, code = sluice("pipelines", "--server", url)
	if code != 0 || !strings.Contains(stdout, "copy") || !strings.Contains(stdout, "running") || strings.Contains(stdout, "p2") {
		t.Errorf("pipelines: %d\n%s", code, stdout)
	}
	stdout, _, code = sluice("describe", "copy", "--server", url)
	if code != 0 || !strings.Contains(stdout, "WHERE id > 5") || !strings.Contains(stdout, "state          running") {
		t.Errorf("describe: %d\n%s", code, stdout)
	}
	stdout, stderr, code = sluice("preview", "--server", url, "SELECT id, name FROM ev LIMIT 3")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "id") || !strings.Contains(stderr, "3 row(s)") {
		t.Errorf("preview: %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = sluice("preview", "--server", url, "SELECT nope FROM ev")
	if code != 1 || !strings.Contains(stderr, "preview:1:8: unknown column") {
		t.Errorf("preview error: %d\n%s", code, stderr)
	}
	for _, step := range []struct{ verb, want string }{
		{"stop", "pipeline copy stopped"}, {"start", "pipeline copy started"}, {"drop", "pipeline copy dropped"},
	} {
		stdout, stderr, code = sluice(step.verb, "copy", "--server", url)
		if code != 0 || !strings.Contains(stdout, step.want) {
			t.Errorf("%s: %d\n%s%s", step.verb, code, stdout, stderr)
		}
	}
	_, stderr, code = sluice("describe", "copy", "--server", url)
	if code != 1 || !strings.Contains(stderr, "no such") {
		t.Errorf("describe a dropped pipeline: %d %s", code, stderr)
	}
}

func TestCLIErrors(t *testing.T) {
	url := testServer(t, "tok")
	_, stderr, code := sluice("pipelines", "--server", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "cannot reach the Sluice server at http://127.0.0.1:1") {
		t.Errorf("unreachable: %d %s", code, stderr)
	}
	t.Setenv("SLUICE_API_TOKEN", "")
	_, stderr, code = sluice("pipelines", "--server", url)
	if code != 1 || !strings.Contains(stderr, "unauthorized") || !strings.Contains(stderr, "SLUICE_API_TOKEN") {
		t.Errorf("no token: %d %s", code, stderr)
	}
	t.Setenv("SLUICE_API_TOKEN", "tok")
	if _, stderr, code = sluice("pipelines", "--server", url); code != 0 {
		t.Errorf("with token: %d %s", code, stderr)
	}
	if _, stderr, code = sluice("preview", "--server", url, "SELECT 1 FROM nope"); code != 1 || !strings.Contains(stderr, "unknown") {
		t.Errorf("preview with token: %d %s", code, stderr)
	}
}

func TestFlagsMayFollowArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rest []string
		srv  string
	}{
		{[]string{"SELECT 1", "--server", "http://h:1"}, []string{"SELECT 1"}, "http://h:1"},
		{[]string{"--server=http://h:2", "a", "b"}, []string{"a", "b"}, "http://h:2"},
		{[]string{"a", "--", "--server", "x"}, []string{"a", "--server", "x"}, "http://default"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		srv := fs.String("server", "http://default", "")
		rest, err := parseInterspersed(fs, tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(rest, tc.rest) || *srv != tc.srv {
			t.Errorf("%q: arguments %q, server %q; want %q, %q", tc.args, rest, *srv, tc.rest, tc.srv)
		}
	}
}
