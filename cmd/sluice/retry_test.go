package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A pipeline whose sink cannot open (its path is a directory) is failed
// with the error, and describe says when the server tries it again.
func TestDescribeShowsRetry(t *testing.T) {
	url := testServer(t, "")
	dir := t.TempDir()
	script := filepath.Join(dir, "p.sql")
	os.WriteFile(script, []byte(`CREATE SOURCE ev (id UInt64) WITH (connector = 'datagen', rows_per_second = '100');
CREATE SINK out WITH (connector = 'file', path = '`+dir+`');
CREATE PIPELINE stuck AS INSERT INTO out SELECT id FROM ev;
`), 0o644)
	// apply reports the failed start; the pipeline stays wanted.
	if stdout, stderr, _ := sluice("apply", "-f", script, "--server", url); !strings.Contains(stdout, "pipeline stuck created") {
		t.Fatalf("apply:\n%s%s", stdout, stderr)
	}
	retry := regexp.MustCompile(`retry\s+attempt (\d+) at \S+ \(in \d+s\)`)
	var stdout string
	deadline := time.Now().Add(15 * time.Second)
	for {
		stdout, _, _ = sluice("describe", "stuck", "--server", url)
		if m := retry.FindStringSubmatch(stdout); m != nil && m[1] != "1" && m[1] != "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe shows no third attempt:\n%s", stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !regexp.MustCompile(`state\s+failed\n`).MatchString(stdout) || !strings.Contains(stdout, "is a directory") {
		t.Errorf("describe of a failing pipeline:\n%s", stdout)
	}
}
