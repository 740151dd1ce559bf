package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain lets a test start this binary as a real `sluice` process:
// with SLUICE_TEST_MAIN set, the test binary is the command.
func TestMain(m *testing.M) {
	if args := os.Getenv("SLUICE_TEST_MAIN"); args != "" {
		var argv []string
		json.Unmarshal([]byte(args), &argv)
		os.Args = append([]string{"sluice"}, argv...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProc is a `sluice server` in its own process.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

// startProc starts `sluice server` with args and waits until it is ready.
func startProc(t testing.TB, args ...string) *serverProc {
	t.Helper()
	argv, _ := json.Marshal(append([]string{"server", "--listen", "127.0.0.1:0"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		// Under -race the server is race-checked too.
		if out := p.stderr.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("data race in the server:\n%s", out[strings.Index(out, "WARNING: DATA RACE"):])
		}
		// A failed test shows what the server did, requests left out.
		if t.Failed() {
			var keep []string
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if l != "" && !strings.Contains(l, `"msg":"http request"`) {
					keep = append(keep, l)
				}
			}
			t.Logf("server %s log:\n%s", p.url, strings.Join(keep[max(len(keep)-200, 0):], "\n"))
		}
	})
	lines := bufio.NewScanner(out)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "sluice server listening on "); ok {
				urlc <- u
			}
		}
	}()
	select {
	case p.url = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", p.stderr)
	}
	waitUntil(t, "the server to be ready", 30*time.Second, func() bool {
		r, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func waitUntil(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// catalogArgs points a server at PostgreSQL (a schema of its own) when
// SLUICE_TEST_POSTGRES is set, else at the embedded catalog.
func catalogArgs(t testing.TB) []string {
	url := os.Getenv("SLUICE_TEST_POSTGRES")
	if url == "" {
		t.Log("SLUICE_TEST_POSTGRES is not set: using the embedded catalog")
		return nil
	}
	schema := fmt.Sprintf("sluice_cmdtest_%d_%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { catalog.DropSchema(context.Background(), url, schema) })
	return []string{"--postgres", url, "--schema", schema}
}

// TestRestartAfterKill kills the server with SIGKILL while a pipeline
// runs and checks that the next start resumes it from its checkpoint
// with nothing lost.
func TestRestartAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute: the broker expires the killed consumer's session first")
	}
	const n = 30000 // distinct ids; each is produced twice
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, to int) {
		ctx := context.Background()
		var recs []*kgo.Record
		base := time.Now().UnixMilli()
		for i := from; i < to; i++ {
			v := fmt.Sprintf(`{"id":%d,"ts":%d}`, i/2, base+int64(i))
			recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i / 2)), Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Error(err)
		}
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	args := append([]string{"--data-dir", filepath.Join(dir, "data"), "--files-dir", dir}, catalogArgs(t)...)
	p := startProc(t, args...)
	script := filepath.Join(dir, "p.sql")
	os.WriteFile(script, []byte(fmt.Sprintf(`
CREATE SOURCE events (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'file', path = '%s');
CREATE PIPELINE copy AS INSERT INTO out SELECT id, ts FROM events DEDUPLICATE BY id WITHIN INTERVAL 1 HOUR;
`, brokers, out)), 0o644)
	var stdout, stderr bytes.Buffer
	if err := dispatch([]string{"apply", "-f", script, "--server", p.url}, &stdout, &stderr); err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr.String())
	}

	produce(0, n)
	waitUntil(t, "the first half in the sink", 30*time.Second, func() bool { return countLines(out) >= n/2 })
	// Produce the second half over a few seconds and kill the server once
	// some of it is written: the rest is in flight, in operator state or
	// not yet read.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := n; i < 2*n; i += 500 {
			produce(i, i+500)
			time.Sleep(60 * time.Millisecond)
		}
	}()
	waitUntil(t, "part of the second half in the sink", 30*time.Second, func() bool { return countLines(out) > n/2 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	<-done
	before := countLines(out)
	t.Logf("killed with %d rows written", before)

	p2 := startProc(t, args...)
	waitUntil(t, "every id in the sink", 60*time.Second, func() bool { return distinctIDs(t, out) == n })
	var list []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Metrics struct {
			PossibleDuplicates int64 `json:"possible_duplicates"`
		} `json:"metrics"`
	}
	resp, err := http.Get(p2.url + "/api/v1/pipelines")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || list[0].State != "running" {
		t.Errorf("pipelines after restart = %+v", list)
	}
	total := countLines(out)
	t.Logf("%d distinct ids, %d rows (%d written again after the kill)", n, total, total-n)
	// The rows written twice are those of the write whose checkpoint the
	// kill prevented, and the restarted pipeline counts them.
	if dups := int64(total - n); len(list) == 1 && dups > list[0].Metrics.PossibleDuplicates {
		t.Errorf("%d rows written twice, %d counted as possible duplicates", dups, list[0].Metrics.PossibleDuplicates)
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func distinctIDs(t *testing.T, path string) int {
	b, _ := os.ReadFile(path)
	seen := map[uint64]bool{}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r struct{ ID uint64 }
		if err := json.Unmarshal(l, &r); err != nil {
			continue // a line being written
		}
		seen[r.ID] = true
	}
	return len(seen)
}
