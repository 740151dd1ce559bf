package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/confine"
	"github.com/sluice-sql/sluice/connectors/clickhouse/chtest"
	"github.com/sluice-sql/sluice/server"
)

// hookEvent is one request a test webhook received.
type hookEvent struct {
	Path        string
	ContentType string
	Pipeline    string    `json:"pipeline"`
	State       string    `json:"state"`
	Error       string    `json:"error"`
	Time        time.Time `json:"time"`
	URL         string    `json:"url"`
	Page        string    `json:"page"`
	Lag         *int64    `json:"lag"`
}

// webhook is a local HTTP server that records the events posted to it.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	events []hookEvent
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ev hookEvent
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook got a body that is not JSON: %q", body)
		}
		ev.Path, ev.ContentType = r.URL.Path, r.Header.Get("Content-Type")
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) got() []hookEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]hookEvent(nil), w.events...)
}

// notifyServer starts a server in this process whose notifications go to
// cfg, looking at lag and recoveries every 100 ms.
func notifyServer(t *testing.T, cfg server.NotifyConfig) *runningServer {
	t.Helper()
	if cfg.Poll == 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	sc := serverConfig{listen: "127.0.0.1:0", dataDir: t.TempDir(), filesDir: t.TempDir(), stderr: io.Discard, notify: cfg}
	if url := os.Getenv("SLUICE_TEST_POSTGRES"); url != "" {
		sc.postgres = url
		sc.schema = fmt.Sprintf("sluice_notifytest_%d_%d", os.Getpid(), time.Now().UnixNano())
		t.Cleanup(func() { catalog.DropSchema(context.Background(), sc.postgres, sc.schema) })
	}
	rs, err := startServer(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.shutdown() })
	return rs
}

func applySQL(t *testing.T, rs *runningServer, name, script string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pipeline that fails at once makes apply exit 1 after applying:
	// what the test looks at is the webhook.
	sluice("apply", "-f", f, "--server", rs.url)
}

// Two pipelines write to ClickHouse tables that do not exist yet: each
// fails, and its webhook — the pipeline's own notify_url, given as
// env:NAME, or the server's -notify-url — gets one failed event, not one
// per failed retry. Once the tables exist the retries succeed, rows reach
// ClickHouse, and each webhook gets a recovered event.
func TestNotifyFailedAndRecovered(t *testing.T) {
	chURL := chtest.URL(t)
	hook := newWebhook(t)
	t.Setenv("SLUICE_TEST_NOTIFY_HOOK", hook.URL+"/own")
	rs := notifyServer(t, server.NotifyConfig{
		URL:       hook.URL + "/default",
		PublicURL: "http://sluice.example.com:8080",
		// Recovery is seen from rows written, not from time alone.
		RecoverAfter: time.Hour,
	})
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano())
	own, def := "notify_own_"+suffix, "notify_default_"+suffix
	chtest.Exec(t, "DROP TABLE IF EXISTS "+own, "DROP TABLE IF EXISTS "+def)
	t.Cleanup(func() { chtest.Exec(t, "DROP TABLE IF EXISTS "+own, "DROP TABLE IF EXISTS "+def) })
	applySQL(t, rs, "notify.sql", fmt.Sprintf(`
CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '200', fields.id.kind = 'sequence');
CREATE SINK ch_own WITH (connector = 'clickhouse', url = '%[1]s', table = '%[2]s', flush_interval = '100ms');
CREATE SINK ch_def WITH (connector = 'clickhouse', url = '%[1]s', table = '%[3]s', flush_interval = '100ms');
CREATE PIPELINE p_own WITH (notify_url = 'env:SLUICE_TEST_NOTIFY_HOOK') AS INSERT INTO ch_own SELECT id FROM gen;
CREATE PIPELINE p_default AS INSERT INTO ch_def SELECT id FROM gen;
`, chURL, own, def))

	waitUntil(t, "two failed events", 30*time.Second, func() bool { return len(hook.got()) >= 2 })
	start := time.Now()
	byPipeline := map[string]hookEvent{}
	for _, ev := range hook.got() {
		byPipeline[ev.Pipeline] = ev
	}
	for p, want := range map[string]struct{ path, table string }{"p_own": {"/own", own}, "p_default": {"/default", def}} {
		ev, ok := byPipeline[p]
		switch {
		case !ok:
			t.Fatalf("no event for %s; got %+v", p, hook.got())
		case ev.State != "failed" || ev.Path != want.path || !strings.Contains(ev.Error, want.table):
			t.Errorf("%s: event %+v, want state failed at %s with an error naming table %s", p, ev, want.path, want.table)
		case ev.URL != "http://sluice.example.com:8080/api/v1/pipelines/"+p || ev.Page != "http://sluice.example.com:8080/#/pipelines/"+p:
			t.Errorf("%s: url %q, page %q", p, ev.URL, ev.Page)
		case ev.ContentType != "application/json" || time.Since(ev.Time) > time.Minute:
			t.Errorf("%s: content type %q, time %v", p, ev.ContentType, ev.Time)
		}
	}
	// The supervisor retries after 1 s, 2 s, …: let two retries fail.
	waitUntil(t, "a failed retry", 30*time.Second, func() bool {
		obj, err := rs.srv.Object("", "p_own")
		return err == nil && obj.Attempts >= 2
	})
	if n := len(hook.got()); n != 2 {
		t.Fatalf("after failed retries: %d events, want still 2: %+v", n, hook.got())
	}
	chtest.Exec(t,
		"CREATE TABLE "+own+" (id UInt64) ENGINE = MergeTree ORDER BY id",
		"CREATE TABLE "+def+" (id UInt64) ENGINE = MergeTree ORDER BY id")
	waitUntil(t, "two recovered events", 60*time.Second, func() bool { return len(hook.got()) >= 4 })
	for _, ev := range hook.got()[2:] {
		wantPath := map[string]string{"p_own": "/own", "p_default": "/default"}[ev.Pipeline]
		if ev.State != "recovered" || ev.Path != wantPath || ev.Error != "" {
			t.Errorf("event %+v, want recovered at %s", ev, wantPath)
		}
	}
	var n uint64
	if err := chtest.Conn(t).QueryRow(context.Background(), "SELECT count() FROM "+own).Scan(&n); err != nil || n == 0 {
		t.Errorf("rows in %s after recovery: %d, %v", own, n, err)
	}
	t.Logf("recovered %v after the tables were created", time.Since(start))
	if sent, failed, dropped := rs.srv.NotifyStats(); sent != 4 || failed != 0 || dropped != 0 {
		t.Errorf("notifications sent %d, failed %d, dropped %d; want 4, 0, 0", sent, failed, dropped)
	}
	metrics := get(t, rs.url+"/metrics")
	if !strings.Contains(metrics, `sluice_notifications_total{result="sent"} 4`) {
		t.Errorf("/metrics does not count 4 sent notifications:\n%s", grepLines(metrics, "sluice_notifications"))
	}
}

// A webhook that never answers, and one that is down, slow nothing down:
// pipelines keep running and retrying, events beyond the queue are dropped
// and counted, and the server still stops at once.
func TestNotifySlowOrDownWebhook(t *testing.T) {
	hung := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hung) })
	rs := notifyServer(t, server.NotifyConfig{URL: slow.URL, Queue: 2, Attempts: 3, RetryMin: 20 * time.Millisecond, Timeout: time.Hour})
	// A file where the sinks want a directory: their opens fail.
	dir := confine.Root()
	if err := os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '0', rows = '20000', fields.id.kind = 'sequence');\n")
	// Five pipelines fail and retry, telling the hung webhook.
	for i := range 5 {
		fmt.Fprintf(&script, "CREATE SINK bad%d WITH (connector = 'file', path = 'blocker/%d.jsonl');\n", i, i)
		fmt.Fprintf(&script, "CREATE PIPELINE fail%d AS INSERT INTO bad%d SELECT id FROM gen;\n", i, i)
	}
	// And a healthy one writes every row.
	out := filepath.Join(dir, "ok.jsonl")
	script.WriteString("CREATE SINK good WITH (connector = 'file', path = 'ok.jsonl');\n")
	script.WriteString("CREATE PIPELINE ok AS INSERT INTO good SELECT id FROM gen;\n")
	applySQL(t, rs, "slow.sql", script.String())

	waitUntil(t, "the healthy pipeline to write its 20000 rows", 60*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "\n") == 20000
	})
	waitUntil(t, "the failing pipelines to retry", 60*time.Second, func() bool {
		for i := range 5 {
			obj, err := rs.srv.Object("", fmt.Sprintf("fail%d", i))
			if err != nil || obj.Attempts < 3 {
				return false
			}
		}
		return true
	})
	// Five failed events for the hung webhook: one is being posted, two
	// wait in the queue, the other two are dropped.
	waitUntil(t, "dropped notifications counted", 30*time.Second, func() bool {
		_, _, dropped := rs.srv.NotifyStats()
		return dropped >= 2
	})
	sent, failed, dropped := rs.srv.NotifyStats()
	mu.Lock()
	got := requests
	mu.Unlock()
	if sent != 0 || failed != 0 || dropped != 2 || got != 1 {
		t.Errorf("sent %d, failed %d, dropped %d, requests to the hung webhook %d; want 0, 0, 2, 1", sent, failed, dropped, got)
	}
	stopped := make(chan struct{})
	go func() { rs.shutdown(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop while a webhook hung")
	}
}

// A webhook that is down: the event is posted Attempts times with
// backoff, then given up and counted failed; the pipeline keeps retrying.
func TestNotifyDownWebhook(t *testing.T) {
	// Nothing listens on this port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/hook"
	l.Close()
	t.Setenv("SLUICE_TEST_DOWN_HOOK", down)
	rs := notifyServer(t, server.NotifyConfig{Attempts: 3, RetryMin: 20 * time.Millisecond})
	if err := os.WriteFile(filepath.Join(confine.Root(), "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	applySQL(t, rs, "down.sql", `CREATE SOURCE gen (id UInt64) WITH (connector = 'datagen', rows_per_second = '100');
CREATE SINK bad WITH (connector = 'file', path = 'blocker/out.jsonl');
CREATE PIPELINE fail_down WITH (notify_url = 'env:SLUICE_TEST_DOWN_HOOK') AS INSERT INTO bad SELECT id FROM gen;`)
	waitUntil(t, "the notification to be given up", 30*time.Second, func() bool {
		_, failed, _ := rs.srv.NotifyStats()
		return failed == 1
	})
	waitUntil(t, "the pipeline to retry", 30*time.Second, func() bool {
		obj, err := rs.srv.Object("", "fail_down")
		return err == nil && obj.Attempts >= 3
	})
	if sent, failed, dropped := rs.srv.NotifyStats(); sent != 0 || failed != 1 || dropped != 0 {
		t.Errorf("sent %d, failed %d, dropped %d; want 0, 1, 0", sent, failed, dropped)
	}
	if m := get(t, rs.url+"/metrics"); !strings.Contains(m, `sluice_notifications_total{result="failed"} 1`) {
		t.Errorf("/metrics:\n%s", grepLines(m, "sluice_notifications"))
	}
}

// A pipeline held back by its sink while its topic holds 300 000 records
// more than it has read is reported behind once its lag has stayed above
// notify_lag_threshold for notify_lag_for, and caught up once the sink
// writes again and it has read them: real Kafka-protocol broker (kfake),
// real PostgreSQL sink, whose table the test locks.
func TestNotifyBehindAndCaughtUp(t *testing.T) {
	pgURL := os.Getenv("SLUICE_TEST_POSTGRES")
	if pgURL == "" {
		t.Skip("SLUICE_TEST_POSTGRES is not set")
	}
	brokers := kafkaCluster(t, "lagging")
	const n = 300_000
	produceIDs(t, brokers, "lagging", 0, n)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	table := fmt.Sprintf("notify_lag_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id numeric(20, 0))"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	// Holding this lock, the sink's COPY waits: the pipeline is held back.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	hook := newWebhook(t)
	rs := notifyServer(t, server.NotifyConfig{URL: hook.URL})
	start := time.Now()
	applySQL(t, rs, "lag.sql", fmt.Sprintf(`
CREATE SOURCE lagging (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'lagging');
CREATE SINK pg WITH (connector = 'postgres', url = '%s', table = '%s');
CREATE PIPELINE p_lag WITH (notify_lag_threshold = '50000', notify_lag_for = '1s') AS INSERT INTO pg SELECT id FROM lagging;
`, brokers, pgURL, table))
	waitUntil(t, "a behind event", 60*time.Second, func() bool { return len(hook.got()) >= 1 })
	ev := hook.got()[0]
	if ev.Pipeline != "p_lag" || ev.State != "behind" || ev.Lag == nil || *ev.Lag <= 50000 || *ev.Lag > n {
		t.Fatalf("event %+v (lag %v), want behind with a lag above 50000", ev, ev.Lag)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("behind after %v, before notify_lag_for", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a caught_up event", 60*time.Second, func() bool { return len(hook.got()) >= 2 })
	if ev := hook.got()[1]; ev.State != "caught_up" || ev.Lag == nil || *ev.Lag > 50000 {
		t.Errorf("event %+v, want caught_up with a lag under the threshold", ev)
	}
	var rows int64
	waitUntil(t, "every row in PostgreSQL", 60*time.Second, func() bool {
		conn.QueryRow(ctx, "SELECT count(DISTINCT id) FROM "+table).Scan(&rows)
		return rows == n
	})
	if len(hook.got()) != 2 {
		t.Errorf("events %+v, want behind and caught_up only", hook.got())
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
