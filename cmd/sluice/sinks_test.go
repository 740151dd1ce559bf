package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The blackhole sink takes every row and keeps none: sluice run's progress
// counts them written.
func TestBlackholeSink(t *testing.T) {
	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runScript(ctx, `CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '0', rows = '5000', 'fields.id.kind' = 'sequence');
CREATE SINK void WITH (connector = 'blackhole', flush_interval = '50ms');
CREATE PIPELINE bench AS INSERT INTO void SELECT id FROM gen;`, "bench.sql", runConfig{progress: 20 * time.Millisecond, stdout: &stderr, stderr: &stderr})
	}()
	waitUntil(t, "5000 rows written to the blackhole", 30*time.Second, func() bool {
		return strings.Contains(stderr.String(), "out=5000 ")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "out=5001") {
		t.Errorf("more rows than generated:\n%s", stderr.String())
	}
}

// The stdout sink writes each row as a JSON line on the process's
// standard output (here a real `sluice run` process).
func TestStdoutSink(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "p.sql")
	os.WriteFile(script, []byte(`CREATE SOURCE gen (id UInt64, name String) WITH (connector = 'datagen', rows_per_second = '0', rows = '100',
  'fields.id.kind' = 'sequence', 'fields.name.kind' = 'values', 'fields.name.values' = 'a');
CREATE SINK out WITH (connector = 'stdout');
CREATE PIPELINE show AS INSERT INTO out SELECT id, name FROM gen;
`), 0o644)
	argv, _ := json.Marshal([]string{"run", "-f", script, "--state-dir", ""})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "100 rows on standard output", 30*time.Second, func() bool {
		return strings.Count(stdout.String(), "\n") >= 100
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice run: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 100 {
		t.Fatalf("%d lines on standard output, want 100:\n%s", len(lines), stdout.String())
	}
	seen := map[uint64]bool{}
	for _, l := range lines {
		var r struct {
			ID   uint64 `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Name != "a" {
			t.Fatalf("line %q: %v", l, err)
		}
		seen[r.ID] = true
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct ids, want 100", len(seen))
	}
}
