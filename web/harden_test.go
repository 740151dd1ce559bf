package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/confine"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/sql"
	"github.com/sluice-sql/sluice/web"

	"net/http/httptest"
)

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged starts a server with the embedded catalog in a directory of
// its own (returned, so that a test can read every byte the server
// stored) and its logs (server and HTTP) collected in a buffer.
func startLogged(t *testing.T, cfg web.Config) (*env, *syncBuffer, string) {
	t.Helper()
	dir := t.TempDir()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cat, err := catalog.OpenDir(context.Background(), filepath.Join(dir, "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Catalog: cat, StateDir: filepath.Join(dir, "state"), StopTimeout: 5 * time.Second, Logger: log,
		NewRowEncoder: func(s dag.Schema) server.RowEncoder { return jsonformat.NewEncoder(s).AppendRow },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector())
	cfg.Server, cfg.Gatherer, cfg.Logger = srv, reg, log
	hs := httptest.NewServer(web.Handler(cfg))
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		cat.Close()
	})
	return &env{t: t, url: hs.URL, srv: srv, state: filepath.Join(dir, "state"), token: cfg.Token}, logs, dir
}

// raw sends a request and returns the status and the body as text.
func (e *env) raw(method, path, contentType, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecretsNeverShown feeds every form a secret can take through the
// API and looks for it in every answer, the logs, /metrics and every file
// the server stored.
func TestSecretsNeverShown(t *testing.T) {
	e, logs, dir := startLogged(t, web.Config{})
	// Each secret is distinct, so a leak names its form.
	secrets := map[string]string{
		"ch-userinfo": "Userinfo7q", "ch-query": "Query7q", "pg-libpq": "Libpq7q",
		"pg-query": "PgQuery7q", "ch-password": "Declared7q", "kafka-sasl": "Sasl7q", "pg-quoted": "Quoted 7q",
	}
	script := `CREATE SOURCE ev (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows_per_second = '10');
CREATE SOURCE k (id UInt64) WITH (connector = 'kafka', brokers = '127.0.0.1:1', topic = 't',
  sasl_mechanism = 'PLAIN', sasl_username = 'u', sasl_password = 'Sasl7q');
CREATE SINK ch1 WITH (connector = 'clickhouse', url = 'clickhouse://u:Userinfo7q@127.0.0.1:1/default', table = 't');
CREATE SINK ch2 WITH (connector = 'clickhouse', url = 'clickhouse://127.0.0.1:1/default?username=u&password=Query7q', table = 't');
CREATE SINK ch3 WITH (connector = 'clickhouse', url = 'clickhouse://127.0.0.1:1/default', user = 'u', password = 'Declared7q', table = 't');
CREATE SINK pg1 WITH (connector = 'postgres', url = 'host=127.0.0.1 port=1 user=u password=Libpq7q dbname=x connect_timeout=1', table = 't');
CREATE SINK pg2 WITH (connector = 'postgres', url = 'postgres://u@127.0.0.1:1/x?sslmode=disable&password=PgQuery7q', table = 't');
CREATE SINK pg3 WITH (connector = 'postgres', url = 'host=127.0.0.1 port=1 password=''Quoted 7q'' dbname=x', table = 't');
`
	pipelines := ""
	for _, s := range []string{"ch1", "ch2", "ch3", "pg1", "pg2", "pg3"} {
		pipelines += "CREATE PIPELINE p_" + s + " AS INSERT INTO " + s + " SELECT id, ts FROM ev;\n"
	}
	var answers []string
	check := func(where, text string) {
		t.Helper()
		for form, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the %s secret %q:\n%s", where, form, s, text)
			}
		}
	}
	// validate (with plans), then apply, then EXPLAIN and DESCRIBE.
	code, body := e.raw("POST", "/api/v1/validate", "application/sql", script+pipelines)
	if code != 200 || !strings.Contains(body, `"plans"`) {
		t.Fatalf("validate: %d %s", code, body)
	}
	answers = append(answers, "validate: "+body)
	code, body = e.raw("POST", "/api/v1/scripts", "application/sql", script+pipelines)
	if code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	answers = append(answers, "apply: "+body)
	code, body = e.raw("POST", "/api/v1/scripts", "application/sql",
		"EXPLAIN CREATE PIPELINE x AS INSERT INTO pg1 SELECT id, ts FROM ev;\nEXPLAIN CREATE PIPELINE y AS INSERT INTO ch2 SELECT id, ts FROM ev;\nDESCRIBE ch1;\nDESCRIBE pg3;\nDESCRIBE k;\nSHOW SINKS;")
	if code != 200 || !strings.Contains(body, "u:****@127.0.0.1:1") || !strings.Contains(body, "password=****") {
		t.Errorf("EXPLAIN and DESCRIBE should show the masked forms: %d %s", code, body)
	}
	answers = append(answers, "explain: "+body)
	// A mistake in a script with secrets: the messages quote no secret
	// (the rendered line quotes the script as its sender wrote it).
	var fail apiErr
	code = e.call("POST", "/api/v1/validate", "application/sql", strings.NewReader(
		"CREATE SINK bad WITH (connector = 'postgres', url = 'host=h password=Libpq7q', table = 't', batch_size = 'x');"), &fail)
	if code != 422 || len(fail.Errors) == 0 {
		t.Errorf("bad script: %d %+v", code, fail)
	}
	for _, d := range fail.Errors {
		answers = append(answers, "422: "+d.Message+" "+d.Hint)
	}
	// The pipelines fail to connect; their errors are in the answers and
	// the logs.
	waitFor(t, "every pipeline to fail", func() bool {
		for _, s := range []string{"ch1", "ch2", "ch3", "pg1", "pg2", "pg3"} {
			if e.pipeline("p_"+s).State != "failed" {
				return false
			}
		}
		return true
	})
	for _, path := range []string{"/api/v1/sources", "/api/v1/sinks", "/api/v1/pipelines", "/api/v1/sources/k",
		"/api/v1/sinks/ch1", "/api/v1/sinks/ch2", "/api/v1/sinks/ch3", "/api/v1/sinks/pg1", "/api/v1/sinks/pg2",
		"/api/v1/sinks/pg3", "/api/v1/pipelines/p_pg1", "/api/v1/objects/ch1", "/metrics", "/"} {
		code, body := e.raw("GET", path, "", "")
		if code != 200 {
			t.Errorf("GET %s: %d", path, code)
		}
		answers = append(answers, path+": "+body)
	}
	for _, a := range answers {
		check("an answer", a)
	}
	// What is not secret is still shown: the host of a URL, the user.
	_, sink := e.raw("GET", "/api/v1/sinks/pg1", "", "")
	if !strings.Contains(sink, "host=127.0.0.1 port=1 user=u password=****") {
		t.Errorf("GET of a sink should show the masked connection string: %s", sink)
	}
	e.srv.Close()
	check("the logs", logs.String())
	if !strings.Contains(logs.String(), "pipeline failed") {
		t.Errorf("the pipelines' failures are not logged:\n%s", logs.String())
	}
	// Nothing the server stored holds a secret.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		check(path, string(b))
		return nil
	})
}

// randomBytes is n bytes from a fixed seed: the same "garbage" every run.
func randomBytes(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// TestGarbageCostsLittle: a megabyte of random bytes to /validate is
// answered quickly with at most 100 errors and the count of the rest,
// and costs the server little memory (it made a 270 MB answer and took
// 1.7 GB when every error was listed with its whole line).
func TestGarbageCostsLittle(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{})
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	code, body := e.raw("POST", "/api/v1/validate", "application/sql", randomBytes(1<<20))
	goruntime.ReadMemStats(&after)
	var fail apiErr
	var more struct {
		More int `json:"more"`
	}
	json.Unmarshal([]byte(body), &fail)
	json.Unmarshal([]byte(body), &more)
	if code != 422 || len(fail.Errors) != 100 || more.More < 1 || 100+more.More > sql.MaxErrors+1 {
		t.Fatalf("answer %d with %d errors and %d more", code, len(fail.Errors), more.More)
	}
	if len(body) > 256<<10 {
		t.Errorf("the answer is %d bytes", len(body))
	}
	for _, d := range fail.Errors {
		if len(d.Rendered) > 2048 {
			t.Errorf("a rendered error is %d bytes", len(d.Rendered))
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 300<<20 {
		t.Errorf("the request allocated %d MB", alloc>>20)
	}
	t.Logf("answer %d bytes, %d errors + %d more, %d MB allocated", len(body), len(fail.Errors), more.More, (after.TotalAlloc-before.TotalAlloc)>>20)
}

// TestHealthzWhileLargeRequests: four large requests at once are planned
// in turn (MaxPlanning), so /healthz answers at once meanwhile; a request
// that waits longer than PlanWait for its turn is answered 503.
func TestHealthzWhileLargeRequests(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{MaxPlanning: 1})
	big := "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " + strings.Repeat("id + ", 99_990) + "id AS total FROM s;"
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = e.raw("POST", "/api/v1/validate", "application/sql", big)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	worst, polls := time.Duration(0), 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(20 * time.Millisecond):
			start := time.Now()
			if code, _ := e.raw("GET", "/healthz", "", ""); code != 200 {
				t.Fatalf("healthz: %d", code)
			}
			worst, polls = max(worst, time.Since(start)), polls+1
		}
	}
	for _, c := range codes {
		if c != 200 {
			t.Errorf("large request answered %d", c)
		}
	}
	if worst > time.Second {
		t.Errorf("/healthz took up to %v while four large requests ran", worst)
	}
	t.Logf("%d /healthz polls, slowest %v", polls, worst)

	e2, _, _ := startLogged(t, web.Config{MaxPlanning: 1, PlanWait: time.Millisecond})
	busy := 0
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = e2.raw("POST", "/api/v1/validate", "application/sql", big)
		}()
	}
	wg.Wait()
	for _, c := range codes {
		switch c {
		case 503:
			busy++
		case 200:
		default:
			t.Errorf("answer %d", c)
		}
	}
	if busy == 0 || busy == len(codes) {
		t.Errorf("with 1 ms to wait for a turn, %d of %d requests were refused", busy, len(codes))
	}
}

// TestFilesConfined: file sinks write only under the files directory: a
// path outside it is an error at the path's place when applied, a
// relative path is taken under it, and a symbolic link out of it is
// refused at apply and again when the sink opens.
func TestFilesConfined(t *testing.T) {
	root := filepath.Join(t.TempDir(), "files")
	outside := t.TempDir()
	if err := confine.SetRoot(root); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { confine.SetRoot("") })
	root = confine.Root()
	e, _, _ := startLogged(t, web.Config{})
	src := `CREATE SOURCE ev (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts)
  WITH (connector = 'datagen', rows = '10');
`
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql", src); code != 200 {
		t.Fatalf("source: %d %s", code, body)
	}
	if err := os.Symlink(outside, filepath.Join(root, "esc")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"../../x.jsonl", filepath.Join(outside, "x.jsonl"), "/root/.bashrc", "a/../../x.jsonl", "esc/x.jsonl"} {
		sink := "CREATE SINK bad WITH (connector = 'file',\n  path = '" + path + "');"
		var fail apiErr
		code := e.call("POST", "/api/v1/scripts", "application/sql", strings.NewReader(sink), &fail)
		if code != 422 || len(fail.Errors) != 1 {
			t.Errorf("path %s: %d %+v", path, code, fail)
			continue
		}
		d := fail.Errors[0]
		if d.Line != 2 || d.Column != 10 || !strings.Contains(d.Message, root) || !strings.Contains(d.Rendered, "^") {
			t.Errorf("path %s: error %+v", path, d)
		}
	}
	// A relative path is under the root.
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql",
		"CREATE SINK good WITH (connector = 'file', path = 'sub/out.jsonl');\nCREATE PIPELINE p AS INSERT INTO good SELECT id, ts FROM ev;"); code != 200 {
		t.Fatalf("relative path: %d %s", code, body)
	}
	waitFor(t, "rows under the files directory", func() bool {
		b, _ := os.ReadFile(filepath.Join(root, "sub", "out.jsonl"))
		return strings.Count(string(b), "\n") == 10
	})
	// Delta tables are directories confined the same way.
	var fail apiErr
	code := e.call("POST", "/api/v1/scripts", "application/sql", strings.NewReader("CREATE SINK lake_bad WITH (connector = 'delta',\n  path = '../lake');"), &fail)
	if code != 422 || len(fail.Errors) != 1 || fail.Errors[0].Line != 2 || fail.Errors[0].Column != 10 ||
		!strings.Contains(fail.Errors[0].Message, "delta sink lake_bad: path \"../lake\" is outside the files directory "+root) {
		t.Errorf("delta path outside: %d %+v", code, fail)
	}
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql",
		"CREATE SINK lake WITH (connector = 'delta', path = 'lake/ev', flush_interval = '100ms');\nCREATE PIPELINE pd AS INSERT INTO lake SELECT id, ts FROM ev;"); code != 200 {
		t.Fatalf("delta sink: %d %s", code, body)
	}
	waitFor(t, "a Delta table of 10 rows under the files directory", func() bool {
		logs, _ := filepath.Glob(filepath.Join(root, "lake", "ev", "_delta_log", "*.json"))
		rows := 0
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			for _, m := range regexp.MustCompile(`numRecords\\":(\d+)`).FindAllSubmatch(b, -1) {
				n, _ := strconv.Atoi(string(m[1]))
				rows += n
			}
		}
		return rows == 10
	})
	// A link made after the sink was created is refused when it opens.
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql",
		"CREATE SINK later WITH (connector = 'file', path = 'later/out.jsonl');"); code != 200 {
		t.Fatalf("sink: %d %s", code, body)
	}
	if err := os.Symlink(outside, filepath.Join(root, "later")); err != nil {
		t.Fatal(err)
	}
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql",
		"CREATE PIPELINE p2 AS INSERT INTO later SELECT id, ts FROM ev;"); code != 200 {
		t.Fatalf("pipeline: %d %s", code, body)
	}
	waitFor(t, "the pipeline to fail", func() bool { return e.pipeline("p2").State == "failed" })
	if msg := e.pipeline("p2").Error; !strings.Contains(msg, "outside the files directory "+root) {
		t.Errorf("error %q", msg)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a file was written outside the files directory: %v", entries)
	}
}

// browser sends req as a browser would, with Origin and Sec-Fetch-Site
// ("" leaves a header out).
func (e *env) browser(method, path, contentType, body, origin, site, host string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCrossSite: a web page on another site cannot change anything (the
// CSRF of a text/plain POST), while the server's own pages, trusted
// origins, the CLI and curl can.
func TestCrossSite(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{Origins: []string{"https://editor.example.com"}})
	script := func(name string) string {
		return "CREATE SOURCE " + name + " (id UInt64) WITH (connector = 'datagen');"
	}
	for _, c := range []struct {
		name, method, path, origin, site string
		want                             int
	}{
		{"cross-site POST text/plain", "POST", "/api/v1/scripts", "https://evil.example", "cross-site", 403},
		{"cross-site POST, Origin only", "POST", "/api/v1/scripts", "https://evil.example", "", 403},
		{"same-site other origin", "POST", "/api/v1/scripts", "https://sub.evil.example", "same-site", 403},
		{"cross-site validate", "POST", "/api/v1/validate", "https://evil.example", "cross-site", 403},
		{"cross-site stop", "POST", "/api/v1/pipelines/p/stop", "https://evil.example", "cross-site", 403},
		{"cross-site drop", "DELETE", "/api/v1/pipelines/p", "https://evil.example", "cross-site", 403},
		{"same origin", "POST", "/api/v1/scripts", e.url, "same-origin", 200},
		{"same origin, Origin only", "POST", "/api/v1/scripts", e.url, "", 200},
		{"trusted origin", "POST", "/api/v1/scripts", "https://editor.example.com", "cross-site", 200},
		{"curl (no Origin, no Sec-Fetch-Site)", "POST", "/api/v1/scripts", "", "", 200},
		{"typed in the address bar", "POST", "/api/v1/scripts", "", "none", 200},
		{"cross-site GET reads", "GET", "/api/v1/sources", "https://evil.example", "cross-site", 200},
	} {
		name := fmt.Sprintf("s%d", len(c.name))
		body := script(name)
		code, answer := e.browser(c.method, c.path, "text/plain", body, c.origin, c.site, "")
		if c.want == 200 && c.method == "POST" && c.path == "/api/v1/scripts" {
			e.raw("POST", "/api/v1/scripts", "application/sql", "DROP SOURCE "+name+";")
		}
		if code != c.want && !(c.want == 200 && code == 404) {
			t.Errorf("%s: %d, want %d: %s", c.name, code, c.want, answer)
		}
		if code == 403 {
			if _, ok := e.srv.Catalog().Lookup(name); ok {
				t.Errorf("%s: refused, yet %s was created", c.name, name)
			}
			if !strings.Contains(answer, "cross-site") {
				t.Errorf("%s: answer %s", c.name, answer)
			}
		}
	}
}

// TestLocalHostsOnly: with AllowedHosts (what `sluice dev` sets), a
// request addressed to any other host name — a DNS name an attacker
// points at 127.0.0.1 — is refused, API and pages alike.
func TestLocalHostsOnly(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{AllowedHosts: web.LocalHosts})
	for host, want := range map[string]int{
		"localhost:8080": 200, "localhost": 200, "127.0.0.1:9999": 200, "[::1]:8080": 200, "LOCALHOST:1": 200,
		"evil.example:8080": 421, "evil.example": 421, "127.0.0.1.nip.io": 421, "localhost.evil.example": 421,
	} {
		for _, path := range []string{"/api/v1/pipelines", "/"} {
			if code, body := e.browser("GET", path, "", "", "", "", host); code != want && !(want == 200 && code != 421) {
				t.Errorf("Host %s, %s: %d, want %d: %s", host, path, code, want, body)
			}
		}
		code, _ := e.browser("POST", "/api/v1/scripts", "text/plain", "CREATE SOURCE h (id UInt64) WITH (connector = 'datagen');", "", "", host)
		if want == 421 && code != 421 {
			t.Errorf("Host %s: POST answered %d", host, code)
		}
	}
	if _, ok := e.srv.Catalog().Lookup("h"); !ok {
		t.Error("a request to localhost did not apply")
	}
}

// TestReplayWarning: a pipeline whose sink cannot drop a batch replayed
// after a crash (here a file) says so once in the log, at start, and in
// its GET answer while it runs.
func TestReplayWarning(t *testing.T) {
	e, logs, _ := startLogged(t, web.Config{})
	src := demoScript(t.TempDir())
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql", src); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	waitFor(t, "the warning", func() bool { return len(e.pipeline("p1").Warnings) > 0 })
	if w := e.pipeline("p1").Warnings; len(w) != 1 || !strings.Contains(w[0], `sink "out" cannot drop a batch replayed after a crash`) {
		t.Errorf("warnings %q", w)
	}
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(logs.String(), "cannot drop a batch replayed"); n != 1 || !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("%d warnings logged:\n%s", n, logs.String())
	}
}

// TestPlanTimeout: a script that takes longer to plan than PlanTimeout is
// answered 422 with one error at the statement where checking stopped,
// saying why, and applies nothing; its turn is given back, so the next
// request is planned.
func TestPlanTimeout(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{MaxPlanning: 1, PlanTimeout: 100 * time.Millisecond})
	one := "SELECT " + strings.TrimSuffix(strings.Repeat("1 + ", 99_000), " + ") + " AS total FROM s;\n"
	big := "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\n" + strings.Repeat(one, 10)
	start := time.Now()
	var fail apiErr
	code := e.call("POST", "/api/v1/scripts", "application/sql", strings.NewReader(big), &fail)
	took := time.Since(start)
	if code != 422 || len(fail.Errors) != 1 {
		t.Fatalf("answer %d %+v", code, fail)
	}
	d := fail.Errors[0]
	if !strings.Contains(d.Message, "checking stopped here: planning took longer than the server allows one request (100ms)") ||
		d.Line < 1 || d.Line > 11 || d.Column != 1 || !strings.Contains(d.Rendered, "^") || d.Hint == "" {
		t.Errorf("error %+v", d)
	}
	t.Logf("answered in %v, stopped at line %d", took, d.Line)
	if code, body := e.raw("GET", "/api/v1/sources", "", ""); code != 200 || strings.Contains(body, `"s"`) {
		t.Errorf("the stopped script applied something: %d %s", code, body)
	}
	if code, body := e.raw("POST", "/api/v1/scripts", "application/sql", "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');"); code != 200 {
		t.Errorf("the next request: %d %s", code, body)
	}
}

// TestPreviewPlanTimeout: a preview whose planning outlasts PlanTimeout
// gets an error message at the statement, saying why.
func TestPreviewPlanTimeout(t *testing.T) {
	e, _, _ := startLogged(t, web.Config{PlanTimeout: time.Nanosecond})
	msgs := e.socket(t, "/api/v1/preview", map[string]any{"sql": "SELECT 1 + 1 AS two"})
	last := msgs[len(msgs)-1]
	errs, _ := last["errors"].([]any)
	if last["type"] != "error" || len(errs) != 1 ||
		!strings.Contains(errs[0].(map[string]any)["message"].(string), "checking stopped here: planning took longer than the server allows one request (1ns)") {
		t.Fatalf("preview = %v", last)
	}
}
