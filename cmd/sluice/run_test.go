package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sluice run runs its pipelines through the server's supervisor but does
// not retry: a pipeline that fails ends the run at once with its error,
// after the other pipelines stopped in order, and its progress is
// reported.
func TestRunFailsFast(t *testing.T) {
	dir := t.TempDir()
	// The file sink's path is a directory: the sink cannot open.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- runScript(context.Background(), `CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '1000', 'fields.id.kind' = 'sequence');
CREATE SINK void WITH (connector = 'blackhole');
CREATE SINK bad WITH (connector = 'file', path = 'taken');
CREATE PIPELINE fine AS INSERT INTO void SELECT id FROM gen;
CREATE PIPELINE broken AS INSERT INTO bad SELECT id FROM gen;`, "p.sql", runConfig{
			stateDir: filepath.Join(dir, "state"), progress: time.Hour, groupID: "sluice", filesDir: dir,
			stdout: &stderr, stderr: &stderr,
		})
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice run did not end on a failed pipeline:\n%s", stderr.String())
	}
	if err == nil || !strings.HasPrefix(err.Error(), "pipeline broken: ") {
		t.Fatalf("got %v, want the failure of pipeline broken", err)
	}
	if strings.Contains(stderr.String(), "will be started again") {
		t.Errorf("the failed pipeline was scheduled for a retry:\n%s", stderr.String())
	}
	for _, want := range []string{"progress pipeline=fine ", "progress pipeline=broken "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("no final progress line %q:\n%s", want, stderr.String())
		}
	}
	t.Logf("ended after %v with: %v", time.Since(start), err)
}
