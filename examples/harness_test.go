// Package examples runs the example scenarios under examples/ as users do:
// a real `sluice server` process applies an example's SQL files with
// `sluice apply`, against a Kafka-protocol broker (kfake, in the test
// process, so it outlives a killed server), a fresh database on the test
// suite's ClickHouse and PostgreSQL servers, and a files directory. The SQL
// files are applied unchanged: their endpoints are env:NAME references the
// harness sets in the server's environment.
//
// A test of a scenario:
//
//	st, srv := runScenario(t, "orders-dedup-join", needs{topics: []string{"orders", "users"}, clickhouse: true})
//	st.produce(t, "orders", lines...)
//	rows := st.clickhouseRows(t, "SELECT ... ORDER BY ...")
//	p := srv.pipeline(t, "dedup_join_orders") // state and counters
//	srv.kill()                                // SIGKILL; st.startServer(t) resumes
package examples

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sluiceBin is the binary under test, built once by TestMain.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, "./cmd/sluice")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needs says what a scenario runs against.
type needs struct {
	topics     []string // created on the broker before the server starts
	partitions int32    // per topic; 0 means 1
	clickhouse bool     // a fresh ClickHouse database: CLICKHOUSE_URL, _USER, _PASSWORD
	postgres   bool     // a fresh PostgreSQL database: POSTGRES_SINK_URL
	env        []string // more NAME=value for the server's environment
}

// stack is the services one scenario runs against, and the state its
// server keeps across restarts.
type stack struct {
	broker        *kfake.Cluster
	brokers       string // KAFKA_BROKERS
	clickhouseURL string // CLICKHOUSE_URL: a database of its own; "" unless needed
	postgresURL   string // POSTGRES_SINK_URL: a database of its own; "" unless needed
	dataDir       string // the server's catalog and checkpoints
	filesDir      string // the server's files root
	env           []string
}

// newStack starts a broker with the topics and creates the databases the
// scenario needs; a missing ClickHouse or PostgreSQL skips the test (fails
// it in CI).
func newStack(t *testing.T, n needs) *stack {
	t.Helper()
	st := &stack{dataDir: t.TempDir(), filesDir: t.TempDir()}
	if n.clickhouse {
		st.clickhouseURL = clickhouseDatabase(t)
	}
	if n.postgres {
		st.postgresURL = postgresDatabase(t)
	}
	parts := n.partitions
	if parts == 0 {
		parts = 1
	}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(n.topics) > 0 {
		opts = append(opts, kfake.SeedTopics(parts, n.topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	st.broker, st.brokers = c, c.ListenAddrs()[0]
	st.env = append(st.env, "KAFKA_BROKERS="+st.brokers)
	if st.clickhouseURL != "" {
		// The scripts give the user and password as options of their own,
		// as in docker-compose.yml.
		u, _ := url.Parse(st.clickhouseURL)
		user, pass := "default", ""
		if u.User != nil {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		st.env = append(st.env, "CLICKHOUSE_URL="+st.clickhouseURL, "CLICKHOUSE_USER="+user, "CLICKHOUSE_PASSWORD="+pass)
	}
	if st.postgresURL != "" {
		st.env = append(st.env, "POSTGRES_SINK_URL="+st.postgresURL)
	}
	st.env = append(st.env, n.env...)
	return st
}

// runScenario runs an example as a user does: it starts the services n
// asks for and a `sluice server`, and applies files (relative to
// examples/), or, without files, what dir's README applies. The stack
// reads what the sinks hold: clickhouseRows, postgresRows, fileLines (and
// filesDir for other file outputs), topicRecords.
func runScenario(t *testing.T, dir string, n needs, files ...string) (*stack, *server) {
	t.Helper()
	st := newStack(t, n)
	srv := st.startServer(t)
	if len(files) == 0 {
		srv.applyAsReadme(t, dir)
	} else {
		srv.apply(t, files...)
	}
	return st, srv
}

// required returns the environment variable name's value, skipping the
// test when it is unset, except in CI where that is a failure.
func required(t *testing.T, name, why string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: %s", name, why)
		}
		t.Skipf("%s is not set: %s", name, why)
	}
	return v
}

// uniqueName returns a database name no other test uses.
func uniqueName(t *testing.T) string {
	base := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	if len(base) > 30 {
		base = base[:30]
	}
	return fmt.Sprintf("ex_%s_%d_%d", base, os.Getpid(), time.Now().UnixNano()%1e9)
}

// clickhouseDatabase creates a database on the test ClickHouse server and
// returns the URL of it; the database is dropped when the test ends.
func clickhouseDatabase(t *testing.T) string {
	t.Helper()
	base := required(t, "SLUICE_TEST_CLICKHOUSE", "`make test` starts a ClickHouse server")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SLUICE_TEST_CLICKHOUSE: %v", err)
	}
	db := uniqueName(t)
	conn := clickhouseConn(t, base)
	if err := conn.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create clickhouse database: %v", err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	u.Path = "/" + db
	return u.String()
}

// postgresDatabase creates a database on the test PostgreSQL server and
// returns the URL of it; the database is dropped when the test ends.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := required(t, "SLUICE_TEST_POSTGRES", "set it to a PostgreSQL URL (make test uses the local server)")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	db := uniqueName(t)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		conn.Close(ctx)
		t.Fatalf("create postgres database: %v", err)
	}
	t.Cleanup(func() {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		conn.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SLUICE_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + db
	return u.String()
}

// server is a `sluice server` process.
type server struct {
	url    string
	cmd    *exec.Cmd
	mu     sync.Mutex
	output bytes.Buffer
	done   chan struct{}
	err    error
}

// startServer starts `sluice server` on a free port with the stack's data
// and files directories and environment, plus extraEnv (NAME=value).
func (st *stack) startServer(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	s := &server{done: make(chan struct{})}
	s.cmd = exec.Command(sluiceBin, "server", "-listen", "127.0.0.1:0", "-data-dir", st.dataDir, "-files-dir", st.filesDir)
	s.cmd.Env = append(append(append(os.Environ(), "SLUICE_API_TOKEN="), st.env...), extraEnv...)
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sluice server: %v", err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.output.WriteString(line + "\n")
			s.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "sluice server listening on "); ok {
				ready <- u
			}
		}
	}()
	go func() {
		s.err = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("sluice server output:\n%s", s.log())
		}
	})
	select {
	case s.url = <-ready:
	case <-s.done:
		t.Fatalf("sluice server exited: %v\n%s", s.err, s.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice server did not start in 60 s\n%s", s.log())
	}
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// stop stops the server with SIGTERM (rows written, state checkpointed).
func (s *server) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("sluice server did not stop within 60 s of SIGTERM")
	}
}

// kill ends the server with SIGKILL, as a crash does.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// sluice runs the CLI against the server and returns its output and exit
// code.
func (s *server) sluice(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(sluiceBin, append(args, "--server", s.url)...)
	cmd.Env = append(os.Environ(), "SLUICE_API_TOKEN=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run sluice %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

// apply runs `sluice apply -f` with each file (relative to examples/) in
// turn, failing the test unless every one applies and starts.
func (s *server) apply(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		stdout, stderr, code := s.sluice(t, "apply", "-f", f)
		if code != 0 {
			t.Fatalf("sluice apply -f %s: exit %d\n%s%s", f, code, stdout, stderr)
		}
	}
}

// pipeline is what GET /api/v1/pipelines/NAME says of a pipeline.
type pipeline struct {
	State   string `json:"state"`
	Error   string `json:"error"`
	Metrics struct {
		RecordsIn    int64 `json:"records_in"`
		RowsWritten  int64 `json:"rows_written"`
		DeadLettered int64 `json:"dead_lettered"`
		DedupDropped int64 `json:"dedup_dropped"`
		LateRows     int64 `json:"late_rows"`
	} `json:"metrics"`
}

// pipeline reads a pipeline's state and counters from the API.
func (s *server) pipeline(t *testing.T, name string) pipeline {
	t.Helper()
	var p pipeline
	resp, err := http.Get(s.url + "/api/v1/pipelines/" + name)
	if err != nil {
		t.Fatalf("get pipeline %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("get pipeline %s: %d %s", name, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("get pipeline %s: %v", name, err)
	}
	return p
}

// metrics scrapes /metrics and returns every sample, by its name with
// labels as printed (`name{a="b"}`).
func (s *server) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// metric sums the samples of a metric whose labels include every one of
// labels ("pipeline=\"x\"").
func (s *server) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	var sum float64
	for k, v := range s.metrics(t) {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// waitFor polls cond every 200 ms until it holds, failing the test after
// timeout with what it waited for.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// produce writes one record per value to topic with kcat, a client
// independent of Sluice, in order; a value "key\tjson" carries a key.
// Records without a key go to partition 0, so their order is kept.
func (st *stack) produce(t *testing.T, topic string, values ...string) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		st.produceKgo(t, topic, values...)
		return
	}
	keyed := len(values) > 0 && strings.Contains(values[0], "\t")
	args := []string{"-P", "-b", st.brokers, "-t", topic, "-X", "enable.idempotence=true"}
	if keyed {
		args = append(args, "-K", "\t")
	} else {
		args = append(args, "-p", "0")
	}
	cmd := exec.Command("kcat", args...)
	cmd.Stdin = strings.NewReader(strings.Join(values, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce to %s: %v\n%s", topic, err, out)
	}
}

// produceKgo is produce with franz-go, where kcat is not installed.
func (st *stack) produceKgo(t *testing.T, topic string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		r := &kgo.Record{Topic: topic, Value: []byte(v)}
		if k, val, ok := strings.Cut(v, "\t"); ok {
			r.Key, r.Value = []byte(k), []byte(val)
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

// record is one Kafka record as an independent consumer reads it.
type record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   map[string]string
}

// topicRecords reads every record now in topic, ordered by partition and
// offset, with kcat (a consumer independent of Sluice) where it is
// installed, else with franz-go.
func (st *stack) topicRecords(t *testing.T, topic string) []record {
	t.Helper()
	var out []record
	if _, err := exec.LookPath("kcat"); err == nil {
		cmd := exec.Command("kcat", "-C", "-b", st.brokers, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat consume %s: %v\n%s", topic, err, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var m struct {
				Partition int32    `json:"partition"`
				Offset    int64    `json:"offset"`
				Headers   []string `json:"headers"`
				Key       *string  `json:"key"`
				Payload   *string  `json:"payload"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("kcat consume %s: %v: %s", topic, err, line)
			}
			rec := record{Partition: m.Partition, Offset: m.Offset, Headers: map[string]string{}}
			if m.Key != nil {
				rec.Key = *m.Key
			}
			if m.Payload != nil {
				rec.Value = *m.Payload
			}
			for i := 0; i+1 < len(m.Headers); i += 2 {
				rec.Headers[m.Headers[i]] = m.Headers[i+1]
			}
			out = append(out, rec)
		}
	} else {
		out = st.topicRecordsKgo(t, topic)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// topicRecordsKgo is topicRecords with franz-go.
func (st *stack) topicRecordsKgo(t *testing.T, topic string) []record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The end offsets now, so the read stops there.
	ends := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			ends[o.Partition] = o.Offset
		}
	})
	var out []record
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: still waiting for partitions %v", topic, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			rec := record{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Headers: map[string]string{}}
			for _, h := range r.Headers {
				rec.Headers[h.Key] = string(h.Value)
			}
			out = append(out, rec)
			if r.Offset+1 >= ends[r.Partition] {
				delete(ends, r.Partition)
			}
		})
	}
	return out
}

// fileLines returns the lines of a file sink's file (path relative to the
// files directory); a missing file has none.
func (st *stack) fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(st.filesDir, path))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// clickhouseRows runs query on the stack's ClickHouse database and returns
// each row as its values rendered by cell, joined by " | ". A missing table
// gives no rows.
func (st *stack) clickhouseRows(t *testing.T, query string) []string {
	t.Helper()
	conn := clickhouseConn(t, st.clickhouseURL)
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		if strings.Contains(err.Error(), "doesn't exist") || strings.Contains(err.Error(), "UNKNOWN_TABLE") {
			return nil
		}
		t.Fatalf("clickhouse %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("clickhouse %q: %v", query, err)
		}
		cells := make([]string, len(dest))
		for i, d := range dest {
			cells[i] = cell(reflect.ValueOf(d).Elem().Interface())
		}
		out = append(out, strings.Join(cells, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("clickhouse %q: %v", query, err)
	}
	return out
}

// postgresRows is clickhouseRows for the stack's PostgreSQL database.
func (st *stack) postgresRows(t *testing.T, query string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, st.postgresURL)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, query)
	if err != nil {
		t.Fatalf("postgres %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("postgres %q: %v", query, err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = cell(v)
		}
		out = append(out, strings.Join(cells, " | "))
	}
	if err := rows.Err(); err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatalf("postgres %q: %v", query, err)
	}
	return out
}

// cell renders a value read from a database: NULL for nil, times in UTC
// to the millisecond, numbers as Go prints them.
func cell(v any) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return "NULL"
	}
	switch x := rv.Interface().(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000")
	case pgtype.Numeric:
		if !x.Valid {
			return "NULL"
		}
		f, _ := new(big.Float).SetInt(x.Int).Float64()
		for e := x.Exp; e < 0; e++ {
			f /= 10
		}
		for e := x.Exp; e > 0; e-- {
			f *= 10
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(rv.Interface())
}

// clickhouseConn opens a connection for checking results.
func clickhouseConn(t *testing.T, u string) clickhouse.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(u)
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
