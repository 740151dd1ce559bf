package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartScript is the windowed, deduplicated pipeline whose restarts used
// to crash: each stop leaves a checkpoint chain with dedup deltas and
// window state, and each start restores it.
const restartScript = `
CREATE SOURCE ev (
    k  String,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND
) WITH (connector = 'datagen', rows_per_second = '2000', fields.k.kind = 'values', fields.k.values = 'a,b,c,d');
CREATE SINK out (window_start TIMESTAMP, k String, n UInt64) WITH (connector = 'file', path = '$OUT');
CREATE PIPELINE p AS INSERT INTO out
SELECT window_start, k, COUNT(*) AS n FROM ev
GROUP BY TUMBLE(ts, INTERVAL 2 SECOND), k DEDUPLICATE BY k WITHIN INTERVAL 1 SECOND;
`

// Stopping and starting `sluice run` on one state directory, again and
// again, restores the window and dedup state every time: no crash, every
// (window, key) written once, and no count above what the dedup allows.
func TestRunRestartsWindowAndDedup(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	state := filepath.Join(dir, "state")
	script := strings.ReplaceAll(restartScript, "$OUT", out)
	for i := 0; i < 5; i++ {
		r := startRun(t, script, state, "--files-dir", dir)
		time.Sleep(1500 * time.Millisecond)
		r.checkAlive()
		r.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Fatal("sluice run did not stop within 30 s of SIGINT")
		}
		if r.err != nil || strings.Contains(r.Output(), "panic") {
			t.Fatalf("run %d: exit %v\n%s", i+1, r.err, r.Output())
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row struct {
			WindowStart string `json:"window_start"`
			K           string `json:"k"`
			N           int    `json:"n"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		id := row.WindowStart + " " + row.K
		if seen[id] {
			t.Errorf("window %s written twice", id)
		}
		seen[id] = true
		// Deduplicated within 1 s, a key has at most 2 rows in a 2 s window.
		if row.N < 1 || row.N > 2 {
			t.Errorf("window %s: count %d, want 1 or 2", id, row.N)
		}
		rows++
	}
	if rows < 8 {
		t.Errorf("only %d windows written over five runs", rows)
	}
}

// A state directory whose checkpoint is damaged makes `sluice run` exit 1
// with a message naming the checkpoint and what to do, not crash.
func TestRunBrokenStateExitsWithMessage(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "p.checkpoint"), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "m.sql")
	os.WriteFile(f, []byte(strings.ReplaceAll(restartScript, "$OUT", filepath.Join(dir, "out.jsonl"))), 0o644)
	cmd := exec.Command(sluiceBin, "run", "-f", f, "--state-dir", state, "--files-dir", dir)
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, outb)
	}
	msg := string(outb)
	for _, want := range []string{"sluice: pipeline p:", "load checkpoint", "p.checkpoint", "cannot be used; remove"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
		t.Errorf("output shows a crash:\n%s", msg)
	}
}
