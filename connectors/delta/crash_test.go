package delta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

var sluiceBin struct {
	once sync.Once
	path string
	err  error
}

// sluiceBinary builds cmd/sluice once per test process.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	sluiceBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-delta-bin-")
		if err != nil {
			sluiceBin.err = err
			return
		}
		sluiceBin.path = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", sluiceBin.path, "./cmd/sluice")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			sluiceBin.err = fmt.Errorf("build sluice: %v\n%s", err, out)
		}
	})
	if sluiceBin.err != nil {
		t.Fatal(sluiceBin.err)
	}
	return sluiceBin.path
}

// Two pipelines of one process append to one table, each from its own
// generator of n ids.
const crashScript = `
CREATE SOURCE gen_a (id Int64 NOT NULL, name String) WITH (connector = 'datagen', rows_per_second = '3000', rows = '%[1]d', seed = '1',
    fields.id.kind = 'sequence', fields.id.start = '0');
CREATE SOURCE gen_b (id Int64 NOT NULL, name String) WITH (connector = 'datagen', rows_per_second = '3000', rows = '%[1]d', seed = '2',
    fields.id.kind = 'sequence', fields.id.start = '1000000');
CREATE SINK lake WITH (connector = 'delta', path = 'lake/events', batch_size = '400', flush_interval = '100ms', log_checkpoint_interval = '4');
CREATE PIPELINE load_a AS INSERT INTO lake SELECT id, name FROM gen_a;
CREATE PIPELINE load_b AS INSERT INTO lake SELECT id, name FROM gen_b;
`

type run struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startRun(t *testing.T, dir string, env ...string) *run {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), "run", "-f", "p.sql", "--state-dir", "state", "--files-dir", "files", "--progress", "1h")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	r := &run{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return r
}

// committedRows sums numRecords over the table's active files.
func committedRows(t *testing.T, table string) int64 {
	st, err := openDir(table)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := loadSnapshot(st)
	if err != nil {
		return -1
	}
	var n int64
	for _, f := range s.files {
		var stats struct{ NumRecords int64 }
		if err := jsonUnmarshal(f.Stats, &stats); err != nil {
			t.Fatal(err)
		}
		n += stats.NumRecords
	}
	return n
}

// tableIDs reads the id column of every file the log references, with
// parquet-go, and the paths of the Parquet files nothing references.
func tableIDs(t *testing.T, table string) (ids []int64, orphans []string) {
	t.Helper()
	st, err := openDir(table)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := loadSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID int64 `parquet:"id"`
	}
	for name := range s.files {
		f, err := os.Open(filepath.Join(table, name))
		if err != nil {
			t.Fatalf("a file the log references: %v", err)
		}
		rows, err := parquet.Read[row](f, mustSize(t, f))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
	}
	for _, name := range parquetFiles(t, table) {
		if s.files[name] == nil {
			orphans = append(orphans, name)
		}
	}
	slices.Sort(ids)
	return ids, orphans
}

func mustSize(t *testing.T, f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A SIGKILL at any point of a commit — before the epoch's files are
// written, between the files and the log entry, right after the entry
// (before the pipeline's checkpoint), or at a moment the test picks —
// and a restart give a table with every row exactly once: the log never
// references the files left by the killed process, and a commit found in
// the log is not repeated.
func TestExactlyOnceAcrossSIGKILL(t *testing.T) {
	const n = 6000
	for _, tc := range []struct {
		name, crash string
		killAfter   time.Duration
		orphans     bool // the killed run must leave unreferenced files
	}{
		{name: "before-files", crash: "before-files:5"},
		{name: "before-commit", crash: "before-commit:5", orphans: true},
		{name: "after-commit", crash: "after-commit:5"},
		{name: "external", killAfter: 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "p.sql"), []byte(fmt.Sprintf(crashScript, n)), 0o644)
			table := filepath.Join(dir, "files", "lake", "events")

			var env []string
			if tc.crash != "" {
				env = append(env, CrashEnv+"="+tc.crash)
			}
			first := startRun(t, dir, env...)
			if tc.killAfter > 0 {
				time.Sleep(tc.killAfter)
				first.cmd.Process.Signal(syscall.SIGKILL)
			}
			select {
			case err := <-first.done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("first run: %v, want killed by SIGKILL\n%s", err, first.stderr)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("first run was not killed\n%s", first.stderr)
			}
			before := committedRows(t, table)
			if before <= 0 || before >= 2*n {
				t.Fatalf("the killed run committed %d rows: the kill should fall in the middle", before)
			}
			_, orphans := tableIDs(t, table)
			if tc.orphans && len(orphans) == 0 {
				t.Fatal("no staged file was left by the run killed between files and commit")
			}

			second := startRun(t, dir)
			deadline := time.Now().Add(60 * time.Second)
			for committedRows(t, table) < 2*n {
				if time.Now().After(deadline) {
					t.Fatalf("restarted run committed %d of %d rows\n%s", committedRows(t, table), 2*n, second.stderr)
				}
				time.Sleep(100 * time.Millisecond)
			}
			second.cmd.Process.Signal(syscall.SIGTERM)
			if err := <-second.done; err != nil {
				t.Fatalf("restarted run: %v\n%s", err, second.stderr)
			}

			ids, orphans := tableIDs(t, table)
			var want []int64
			for i := int64(0); i < n; i++ {
				want = append(want, i)
			}
			for i := int64(0); i < n; i++ {
				want = append(want, 1_000_000+i)
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("table holds %d rows (%d distinct), want ids 0..%d and 1000000..%d once each", len(ids), len(slices.Compact(slices.Clone(ids))), n-1, 1_000_000+n-1)
			}
			if tc.orphans && len(orphans) == 0 {
				t.Error("the killed run's staged files disappeared")
			}
			// Each pipeline's epochs were committed once each, in order.
			last := map[string]int64{}
			for v, entry := range logActions(t, table) {
				for _, a := range entry {
					if raw, ok := a["txn"]; ok {
						var x txn
						jsonUnmarshal(string(raw), &x)
						if x.Version <= last[x.AppID] {
							t.Fatalf("version %d: %s committed epoch %d after %d", v, x.AppID, x.Version, last[x.AppID])
						}
						last[x.AppID] = x.Version
					}
				}
			}
			if last["sluice.load_a"] == 0 || last["sluice.load_b"] == 0 {
				t.Fatalf("txns %v", last)
			}
			validateLog(t, table)
			if _, err := os.Stat(filepath.Join(table, "_delta_log", "_last_checkpoint")); err != nil {
				t.Error(err)
			}
			if got := readWithDuckDB(t, table).Rows; len(got) != 2*n {
				t.Errorf("DuckDB reads %d rows, want %d", len(got), 2*n)
			}
		})
	}
}

// Two sluice processes, each with its own state directory and pipeline,
// append to one table at once: their commits race for the same versions
// (put-if-absent on the log entry, the loser reads the winner's entry and
// takes the next version). One of them is killed with SIGKILL on the way
// and started again. The table holds both generators' rows exactly once.
func TestTwoProcessesOneTable(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	for _, p := range []struct {
		name string
		base int
	}{{"a", 0}, {"b", 1_000_000}} {
		script := fmt.Sprintf(`
CREATE SOURCE gen (id Int64 NOT NULL, name String) WITH (connector = 'datagen', rows_per_second = '2500', rows = '%d',
    seed = '3', fields.id.kind = 'sequence', fields.id.start = '%d');
CREATE SINK lake WITH (connector = 'delta', path = 'shared', batch_size = '300', flush_interval = '50ms');
CREATE PIPELINE load_%s AS INSERT INTO lake SELECT id, name FROM gen;
`, n, p.base, p.name)
		os.MkdirAll(filepath.Join(dir, p.name), 0o755)
		os.WriteFile(filepath.Join(dir, p.name, "p.sql"), []byte(script), 0o644)
	}
	table := filepath.Join(dir, "files", "shared")
	start := func(who string) *run {
		cmd := exec.Command(sluiceBinary(t), "run", "-f", "p.sql", "--state-dir", "state", "--files-dir", filepath.Join(dir, "files"), "--progress", "1h")
		cmd.Dir = filepath.Join(dir, who)
		r := &run{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
		cmd.Stderr = r.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.done <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill() })
		return r
	}
	a, b := start("a"), start("b")
	time.Sleep(800 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	a = start("a")
	deadline := time.Now().Add(60 * time.Second)
	for committedRows(t, table) < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows committed\n%s\n%s", committedRows(t, table), 2*n, a.stderr, b.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range []*run{a, b} {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-r.done; err != nil {
			t.Fatalf("%v\n%s", err, r.stderr)
		}
	}
	ids, _ := tableIDs(t, table)
	var want []int64
	for i := int64(0); i < n; i++ {
		want = append(want, i)
	}
	for i := int64(0); i < n; i++ {
		want = append(want, 1_000_000+i)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("table holds %d rows (%d distinct), want %d once each", len(ids), len(slices.Compact(slices.Clone(ids))), 2*n)
	}
	entries := validateLog(t, table)
	apps := map[string]int{}
	for _, entry := range logActions(t, table) {
		for _, a := range entry {
			if raw, ok := a["txn"]; ok {
				var x txn
				jsonUnmarshal(string(raw), &x)
				apps[x.AppID]++
			}
		}
	}
	if apps["sluice.load_a"] == 0 || apps["sluice.load_b"] == 0 || apps["sluice.load_a"]+apps["sluice.load_b"] != entries-1 {
		t.Fatalf("%d entries, txns per writer %v", entries, apps)
	}
}

// A run that keeps no state (`sluice run` with an empty --state-dir) starts afresh
// every time, its epochs numbered from 1 again: a second run's commits
// are new rows, never mistaken for replays of the first run's epochs.
func TestFreshRunWritesAgain(t *testing.T) {
	const n = 1500
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.sql"), []byte(fmt.Sprintf(`
CREATE SOURCE gen (id Int64 NOT NULL, name String) WITH (connector = 'datagen', rows_per_second = '3000', rows = '%d',
    seed = '5', fields.id.kind = 'sequence', fields.id.start = '0');
CREATE SINK lake WITH (connector = 'delta', path = 'again', batch_size = '500', flush_interval = '100ms');
CREATE PIPELINE load AS INSERT INTO lake SELECT id, name FROM gen;
`, n)), 0o644)
	table := filepath.Join(dir, "files", "again")
	for round := 1; round <= 2; round++ {
		cmd := exec.Command(sluiceBinary(t), "run", "-f", "p.sql", "--state-dir", "", "--files-dir", "files", "--progress", "1h")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for committedRows(t, table) < int64(round*n) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("round %d: %d rows committed\n%s", round, committedRows(t, table), stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, stderr.String())
		}
	}
	ids, _ := tableIDs(t, table)
	var want []int64
	for i := int64(0); i < n; i++ {
		want = append(want, i, i)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("table holds %d rows, want every id twice (%d)", len(ids), 2*n)
	}
}
