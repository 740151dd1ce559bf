// Package e2e runs Sluice end to end as its users do: the sluice binary runs
// a SQL script against a Kafka-protocol broker (kfake, in this test process,
// so it outlives a killed pipeline) and a real ClickHouse server started by
// scripts/clickhouse.sh, and the tests check the exact contents of the
// ClickHouse tables.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, "./cmd/sluice")
	build.Dir = "../.."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// clickhouseURL returns the test server's URL, skipping the test when no
// server was started — except in CI, where a missing server is a failure.
func clickhouseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SLUICE_TEST_CLICKHOUSE")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SLUICE_TEST_CLICKHOUSE is not set: run the tests with `make test`, which starts ClickHouse")
		}
		t.Skip("SLUICE_TEST_CLICKHOUSE is not set; `make test` starts a ClickHouse server")
	}
	return u
}

// ch opens a ClickHouse connection for checking results.
func ch(t *testing.T) driver.Conn {
	t.Helper()
	return chAt(t, clickhouseURL(t))
}

// chAt opens a connection to the ClickHouse server at url.
func chAt(t *testing.T, url string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(url)
	if err != nil {
		t.Fatalf("parse clickhouse url: %v", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// chTable returns a table name unique to this test run and drops it at the end.
func chTable(t *testing.T, conn driver.Conn, base string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", base, time.Now().UnixNano()%1e9)
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name
}

func chCount(t *testing.T, conn driver.Conn, table string) uint64 {
	t.Helper()
	var n uint64
	row := conn.QueryRow(context.Background(), "SELECT count() FROM "+table)
	if err := row.Scan(&n); err != nil {
		if strings.Contains(err.Error(), "doesn't exist") || strings.Contains(err.Error(), "UNKNOWN_TABLE") {
			return 0
		}
		t.Logf("count %s: %v", table, err)
		return 0
	}
	return n
}

// waitCount waits until table holds at least want rows.
func waitCount(t *testing.T, conn driver.Conn, table string, want uint64, timeout time.Duration) {
	t.Helper()
	if !tryWaitCount(t, conn, table, want, timeout) {
		t.Fatalf("table %s has %d rows after %v, want %d", table, chCount(t, conn, table), timeout, want)
	}
}

// tryWaitCount is waitCount for tests that explain a shortfall themselves.
func tryWaitCount(t *testing.T, conn driver.Conn, table string, want uint64, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if chCount(t, conn, table) >= want {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("table %s has %d rows after %v, want %d", table, chCount(t, conn, table), timeout, want)
	return false
}

// broker starts an in-process Kafka-protocol broker with the given topics.
func broker(t *testing.T, partitions int32, topics ...string) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// producer returns a client that produces to addr.
func producer(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// msg is one record to produce.
type msg struct {
	key, value string
}

// produce writes msgs to topic in order (per key they land in one partition,
// so per-key order is kept).
func produce(t *testing.T, cl *kgo.Client, topic string, msgs []msg) {
	t.Helper()
	if err := produceErr(cl, topic, msgs); err != nil {
		t.Fatal(err)
	}
}

// produceErr is produce for goroutines other than the test's.
func produceErr(cl *kgo.Client, topic string, msgs []msg) error {
	const chunk = 5000
	for i := 0; i < len(msgs); i += chunk {
		end := min(i+chunk, len(msgs))
		recs := make([]*kgo.Record, 0, end-i)
		for _, m := range msgs[i:end] {
			r := &kgo.Record{Topic: topic, Value: []byte(m.value)}
			if m.key != "" {
				r.Key = []byte(m.key)
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}

// consumeAll reads every record of topic from the start.
func consumeAll(t *testing.T, addr, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// run is a `sluice run` process.
type run struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	output strings.Builder
	done   chan struct{}
	err    error
}

// startRun starts `sluice run -f script` with the given state directory.
func startRun(t *testing.T, script, stateDir string, extra ...string) *run {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script.sql")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "-f", f, "--state-dir", stateDir, "--progress", "500ms"}, extra...)
	r := &run{t: t, cmd: exec.Command(sluiceBin, args...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start sluice run: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.mu.Lock()
			r.output.WriteString(sc.Text())
			r.output.WriteByte('\n')
			r.mu.Unlock()
		}
	}()
	go func() {
		r.err = r.cmd.Wait()
		pw.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("sluice run output:\n%s", r.Output())
		}
	})
	return r
}

// Output returns what the process printed so far.
func (r *run) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.output.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (r *run) stop() {
	r.t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.t.Fatalf("sluice run did not exit within 60 s of SIGTERM")
	}
	if r.err != nil {
		r.t.Fatalf("sluice run exited with %v", r.err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *run) kill() {
	r.cmd.Process.Kill()
	<-r.done
}

// exited reports whether the process has ended, failing the test when it
// ended on its own.
func (r *run) checkAlive() {
	r.t.Helper()
	select {
	case <-r.done:
		r.t.Fatalf("sluice run exited early: %v", r.err)
	default:
	}
}

// counter returns the last value printed for a progress field such as
// "dlq=12", or -1 when none was printed.
func (r *run) counter(name string) int64 {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `=(\d+)`)
	m := re.FindAllStringSubmatch(r.Output(), -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}
