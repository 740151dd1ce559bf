package main

import (
	"context"
	"fmt"
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

// Two runs on one state directory would resume from, and overwrite, each
// other's checkpoints: the second is refused, saying why and what to do,
// and neither its pipelines nor the first run are touched.
func TestRunRefusesAStateDirInUse(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	script := `CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '100', 'fields.id.kind' = 'sequence');
CREATE SINK out WITH (connector = 'file', path = 'out.jsonl');
CREATE PIPELINE copy AS INSERT INTO out SELECT id FROM gen;`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runScript(ctx, script, "p.sql", runConfig{stateDir: state, progress: time.Hour, groupID: "sluice", filesDir: dir, stdout: &first, stderr: &first})
	}()
	waitUntil(t, "the first run to write", 30*time.Second, func() bool { return countLines(filepath.Join(dir, "out.jsonl")) > 0 })
	var second lockedBuffer
	err := runScript(context.Background(), script, "p.sql", runConfig{stateDir: state, progress: time.Hour, groupID: "sluice", filesDir: dir, stdout: &second, stderr: &second})
	want := fmt.Sprintf("state directory %s is in use by another sluice process (pid %d)", state, os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "give this run its own -state-dir") {
		t.Fatalf("second run on the state directory: %v\nwant %q", err, want)
	}
	if ee, ok := err.(*exitError); !ok || ee.code != 1 {
		t.Errorf("exit: %#v", err)
	}
	if strings.Contains(second.String(), "pipeline started") {
		t.Errorf("the refused run started a pipeline:\n%s", second.String())
	}
	select {
	case err := <-done:
		t.Fatalf("the first run ended: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	// Once it has ended, the directory is free, and the run resumes.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if err := runScript(ctx2, script, "p.sql", runConfig{stateDir: state, progress: time.Hour, groupID: "sluice", filesDir: dir, stdout: &second, stderr: &second}); err != nil {
		t.Fatalf("run after the first ended: %v", err)
	}
}
