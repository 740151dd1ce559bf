package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	_ "github.com/sluice-sql/sluice/connectors/all"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/web"
)

// openCatalog opens a catalog in PostgreSQL, in a schema of its own so
// that parallel runs do not collide, when SLUICE_TEST_POSTGRES is set;
// otherwise the embedded store.
func openCatalog(t *testing.T) *catalog.Store {
	t.Helper()
	ctx := context.Background()
	url := os.Getenv("SLUICE_TEST_POSTGRES")
	if url == "" {
		t.Log("SLUICE_TEST_POSTGRES is not set: using the embedded catalog")
		cat, err := catalog.OpenDir(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}
	schema := fmt.Sprintf("sluice_webtest_%d_%d", os.Getpid(), time.Now().UnixNano())
	cat, err := catalog.OpenPostgres(ctx, url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := catalog.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return cat
}

type env struct {
	t     *testing.T
	url   string
	srv   *server.Server
	state string
	token string
}

func start(t *testing.T, cfg web.Config) *env {
	t.Helper()
	cat := openCatalog(t)
	state := t.TempDir()
	srv, err := server.New(server.Config{
		Catalog: cat, StateDir: state, StopTimeout: 5 * time.Second,
		NewRowEncoder: func(s dag.Schema) server.RowEncoder { return jsonformat.NewEncoder(s).AppendRow },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector())
	cfg.Server, cfg.Gatherer = srv, reg
	hs := httptest.NewServer(web.Handler(cfg))
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		cat.Close()
	})
	return &env{t: t, url: hs.URL, srv: srv, state: state, token: cfg.Token}
}

// call sends a request and decodes the JSON answer into out (if not nil),
// returning the status code.
func (e *env) call(method, path, contentType string, body io.Reader, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
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
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: decode: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func (e *env) script(path, src string) (int, server.ScriptResult, apiErr) {
	e.t.Helper()
	var raw json.RawMessage
	code := e.call(http.MethodPost, path, "application/sql", strings.NewReader(src), &raw)
	var res server.ScriptResult
	var fail apiErr
	json.Unmarshal(raw, &res)
	json.Unmarshal(raw, &fail)
	return code, res, fail
}

type apiErr struct {
	Error  string           `json:"error"`
	Errors []web.Diagnostic `json:"errors"`
}

func actions(r server.ScriptResult) string {
	var out []string
	for _, s := range r.Statements {
		out = append(out, s.Name+":"+s.Action)
	}
	return strings.Join(out, " ")
}

func (e *env) pipeline(name string) server.Object {
	e.t.Helper()
	var o server.Object
	if code := e.call(http.MethodGet, "/api/v1/pipelines/"+name, "", nil, &o); code != 200 {
		e.t.Fatalf("get pipeline %s: %d", name, code)
	}
	return o
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func demoScript(dir string) string {
	return fmt.Sprintf(`CREATE SOURCE ev (id UInt64, name String, ts DateTime64(3),
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows_per_second = '2000', duplicate_ratio = '0.2', seed = '7');
CREATE SINK out WITH (connector = 'file', path = '%s');
CREATE PIPELINE p1 AS INSERT INTO out
SELECT id, name, ts FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;
`, filepath.Join(dir, "out.jsonl"))
}

func TestAPI(t *testing.T) {
	e := start(t, web.Config{})
	dir := t.TempDir()
	src := demoScript(dir)

	t.Run("submit", func(t *testing.T) {
		code, res, fail := e.script("/api/v1/scripts", src)
		if code != 200 || !res.Applied {
			t.Fatalf("submit: %d %+v", code, fail)
		}
		if got := actions(res); got != "ev:created out:created p1:created" {
			t.Errorf("actions = %s", got)
		}
		waitFor(t, "p1 to write rows", func() bool {
			o := e.pipeline("p1")
			return o.State == "running" && o.Metrics != nil && o.Metrics.RowsWritten > 0
		})
	})

	t.Run("apply is idempotent", func(t *testing.T) {
		code, res, _ := e.script("/api/v1/scripts?mode=apply", src)
		if code != 200 || actions(res) != "ev:unchanged out:unchanged p1:unchanged" {
			t.Fatalf("re-apply: %d %s", code, actions(res))
		}
		if res.Changed() {
			t.Error("an identical re-apply reports a change")
		}
		// Plain SQL semantics: CREATE of an existing object is an error.
		code, _, fail := e.script("/api/v1/scripts", src)
		if code != http.StatusUnprocessableEntity || len(fail.Errors) != 3 {
			t.Fatalf("strict re-submit: %d %+v", code, fail)
		}
	})

	t.Run("errors apply nothing", func(t *testing.T) {
		bad := "CREATE SINK s2 WITH (connector = 'file', path = '/tmp/x');\nCREATE PIPELINE bad AS INSERT INTO s2\nSELECT nope FROM ev;\nDROP PIPELINE p1;"
		code, _, fail := e.script("/api/v1/scripts", bad)
		if code != http.StatusUnprocessableEntity || len(fail.Errors) == 0 {
			t.Fatalf("bad script: %d %+v", code, fail)
		}
		d := fail.Errors[0]
		if d.Line != 3 || d.Column != 8 || !strings.Contains(d.Rendered, "^") || !strings.Contains(d.Message, "nope") {
			t.Errorf("diagnostic = %+v", d)
		}
		if code := e.call(http.MethodGet, "/api/v1/sinks/s2", "", nil, nil); code != 404 {
			t.Errorf("sink s2 exists after a failed script: %d", code)
		}
		if e.pipeline("p1").State != "running" {
			t.Error("p1 changed by a failed script")
		}
	})

	t.Run("upload", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "p2.sql")
		io.WriteString(fw, "CREATE PIPELINE p2 AS INSERT INTO out SELECT id, name, ts FROM ev WHERE id < 10;\nSTOP PIPELINE p2;")
		mw.Close()
		var res server.ScriptResult
		if code := e.call(http.MethodPost, "/api/v1/scripts", mw.FormDataContentType(), &body, &res); code != 200 {
			t.Fatalf("upload: %d", code)
		}
		if got := actions(res); got != "p2:created p2:stopped" {
			t.Errorf("actions = %s", got)
		}
		if o := e.pipeline("p2"); o.State != "stopped" || *o.Running {
			t.Errorf("p2 state = %s running=%v", o.State, *o.Running)
		}
	})

	t.Run("validate", func(t *testing.T) {
		code, res, _ := e.script("/api/v1/validate", "CREATE PIPELINE p3 AS INSERT INTO out SELECT id, name, ts FROM ev; SELECT id FROM ev LIMIT 1;")
		if code != 200 || res.Applied || len(res.Plans) != 2 || res.Plans[0].Graph == nil || res.Plans[0].Explain == "" {
			t.Fatalf("validate: %d %+v", code, res)
		}
		if code := e.call(http.MethodGet, "/api/v1/pipelines/p3", "", nil, nil); code != 404 {
			t.Error("validate applied the script")
		}
		code, _, fail := e.script("/api/v1/validate", "SELECT nope FROM ev")
		if code != 422 || fail.Errors[0].Line != 1 || fail.Errors[0].Column != 8 {
			t.Errorf("validate error: %d %+v", code, fail)
		}
	})

	t.Run("list", func(t *testing.T) {
		var ps []server.Object
		e.call(http.MethodGet, "/api/v1/pipelines", "", nil, &ps)
		if len(ps) != 2 || ps[0].Name != "p1" || ps[0].Metrics == nil || ps[1].Metrics != nil {
			t.Fatalf("pipelines = %+v", ps)
		}
		var srcs, sinks []server.Object
		e.call(http.MethodGet, "/api/v1/sources", "", nil, &srcs)
		e.call(http.MethodGet, "/api/v1/sinks", "", nil, &sinks)
		if len(srcs) != 1 || len(sinks) != 1 || len(srcs[0].UsedBy) != 2 || len(srcs[0].Columns) != 4 || !srcs[0].Columns[3].Pseudo {
			t.Errorf("sources %+v sinks %+v", srcs, sinks)
		}
	})

	t.Run("start stop", func(t *testing.T) {
		var res server.ScriptResult
		if code := e.call(http.MethodPost, "/api/v1/pipelines/p2/start", "", nil, &res); code != 200 || actions(res) != "p2:started" {
			t.Fatalf("start: %d %s", code, actions(res))
		}
		if o := e.pipeline("p2"); o.State != "running" {
			t.Errorf("p2 after start: %s", o.State)
		}
		if code := e.call(http.MethodPost, "/api/v1/pipelines/p2/stop", "", nil, &res); code != 200 || actions(res) != "p2:stopped" {
			t.Fatalf("stop: %d %s", code, actions(res))
		}
		if o := e.pipeline("p2"); o.State != "stopped" || o.Metrics != nil {
			t.Errorf("p2 after stop: %s", o.State)
		}
		if code := e.call(http.MethodPost, "/api/v1/pipelines/nope/start", "", nil, nil); code != 404 {
			t.Errorf("start of a missing pipeline: %d", code)
		}
	})

	t.Run("replace running", func(t *testing.T) {
		// Only the stateless part changes: the dedup state carries over.
		code, res, fail := e.script("/api/v1/scripts", "CREATE OR REPLACE PIPELINE p1 AS INSERT INTO out\nSELECT id, name, ts FROM ev WHERE id > 0 DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;")
		if code != 200 {
			t.Fatalf("replace: %d %+v", code, fail)
		}
		st := res.Statements[0]
		if st.Action != "replaced" || !st.Restarted || st.StateKept == nil || !*st.StateKept {
			t.Errorf("replace keeping state: %+v", st)
		}
		waitFor(t, "p1 to run again", func() bool { return e.pipeline("p1").State == "running" })
		// A different dedup window cannot reuse the state.
		_, res, _ = e.script("/api/v1/scripts", "CREATE OR REPLACE PIPELINE p1 AS INSERT INTO out\nSELECT id, name, ts FROM ev DEDUPLICATE BY id WITHIN INTERVAL 2 MINUTE;")
		st = res.Statements[0]
		if !st.Restarted || st.StateKept == nil || *st.StateKept {
			t.Errorf("replace losing state: %+v", st)
		}
		waitFor(t, "p1 to run again", func() bool { return e.pipeline("p1").State == "running" })
		// DROP and CREATE in one script make a new pipeline: no old state.
		_, res, _ = e.script("/api/v1/scripts", "DROP PIPELINE p1;\nCREATE PIPELINE p1 AS INSERT INTO out\nSELECT id, name, ts FROM ev DEDUPLICATE BY id WITHIN INTERVAL 2 MINUTE;")
		if st := res.Statements[1]; st.Action != "created" || !st.Restarted || st.StateKept == nil || *st.StateKept {
			t.Errorf("drop and create: %+v", st)
		}
		waitFor(t, "p1 to run again", func() bool { return e.pipeline("p1").State == "running" })
	})

	t.Run("metrics", func(t *testing.T) {
		waitFor(t, "p1 to write after replace", func() bool {
			m := e.pipeline("p1").Metrics
			return m != nil && m.RowsWritten > 0
		})
		resp, err := http.Get(e.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`sluice_pipeline_records_in_total{pipeline="p1"}`,
			`sluice_pipeline_rows_written_total{pipeline="p1"}`,
			`sluice_operator_dedup_dropped_total{kind="dedup",operator="1:dedup",pipeline="p1"}`,
			`sluice_pipeline_state{pipeline="p2",state="stopped"} 1`,
			`sluice_pipeline_sink_batch_latency_seconds{pipeline="p1"}`,
			`sluice_source_consumer_lag{pipeline="p1",source="ev"}`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if r, err := http.Get(e.url + p); err != nil || r.StatusCode != 200 {
				t.Errorf("%s: %v %v", p, r.StatusCode, err)
			}
		}
		var doc map[string]any
		if code := e.call(http.MethodGet, "/api/v1/openapi.json", "", nil, &doc); code != 200 || doc["openapi"] == nil {
			t.Errorf("openapi.json: %d", code)
		}
	})

	t.Run("preview", func(t *testing.T) {
		msgs := e.socket(t, "/api/v1/preview?sql="+urlQuery("SELECT id, name FROM ev LIMIT 3"), nil)
		if msgs[0]["type"] != "schema" || msgs[len(msgs)-1]["type"] != "end" || msgs[len(msgs)-1]["reason"] != "limit" || msgs[len(msgs)-1]["total"] != 3.0 {
			t.Errorf("preview messages = %v", msgs)
		}
		// The request as a first message; a pipeline's SELECT.
		msgs = e.socket(t, "/api/v1/preview", map[string]any{"pipeline": "p1", "limit": 2})
		if last := msgs[len(msgs)-1]; last["type"] != "end" || last["total"] != 2.0 {
			t.Errorf("pipeline preview = %v", msgs)
		}
		msgs = e.socket(t, "/api/v1/preview", map[string]any{"sql": "SELECT id\nFROM nope"})
		last := msgs[len(msgs)-1]
		errs, _ := last["errors"].([]any)
		if last["type"] != "error" || len(errs) != 1 || errs[0].(map[string]any)["line"] != 2.0 {
			t.Errorf("preview error = %v", msgs)
		}
	})

	t.Run("tail", func(t *testing.T) {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/pipelines/p1/tail", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		var schema, rows map[string]any
		c.ReadJSON(&schema)
		if err := c.ReadJSON(&rows); err != nil {
			t.Fatal(err)
		}
		if schema["type"] != "schema" || rows["type"] != "rows" || rows["count"].(float64) < 1 {
			t.Errorf("tail: %v %v", schema, rows)
		}
	})

	t.Run("origin", func(t *testing.T) {
		h := http.Header{"Origin": {"http://evil.example"}}
		_, resp, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+id+FROM+ev", h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin websocket: %v %v", err, resp)
		}
	})

	t.Run("failed", func(t *testing.T) {
		code, _, fail := e.script("/api/v1/scripts", "CREATE SINK broken WITH (connector = 'file', path = '/proc/sluice/out.jsonl');\nCREATE PIPELINE pf AS INSERT INTO broken SELECT id FROM ev;")
		if code != 200 {
			t.Fatalf("submit: %d %+v", code, fail)
		}
		waitFor(t, "pf to fail", func() bool { return e.pipeline("pf").State == "failed" })
		if o := e.pipeline("pf"); !strings.Contains(o.Error, "/proc/sluice") || !*o.Running {
			t.Errorf("failed pipeline: %q running=%v", o.Error, *o.Running)
		}
		// START tries again, and fails again with the error recorded.
		var res server.ScriptResult
		e.call(http.MethodPost, "/api/v1/pipelines/pf/start", "", nil, &res)
		waitFor(t, "pf to fail again", func() bool { return e.pipeline("pf").State == "failed" })
		if code, _, _ := e.script("/api/v1/scripts", "DROP PIPELINE pf; DROP SINK broken;"); code != 200 {
			t.Errorf("drop pf: %d", code)
		}
	})

	t.Run("drop", func(t *testing.T) {
		var res server.ScriptResult
		if code := e.call(http.MethodDelete, "/api/v1/pipelines/p1", "", nil, &res); code != 200 || actions(res) != "p1:dropped" {
			t.Fatalf("drop: %d %s", code, actions(res))
		}
		if code := e.call(http.MethodGet, "/api/v1/pipelines/p1", "", nil, nil); code != 404 {
			t.Errorf("p1 after drop: %d", code)
		}
		if _, err := os.Stat(filepath.Join(e.state, "checkpoints", "p1")); !os.IsNotExist(err) {
			t.Errorf("checkpoints of a dropped pipeline remain: %v", err)
		}
	})
}

func TestSecurity(t *testing.T) {
	e := start(t, web.Config{Token: "s3cret", MaxBodyBytes: 512})
	anon := *e
	anon.token = ""
	var fail apiErr
	if code := anon.call(http.MethodGet, "/api/v1/pipelines", "", nil, &fail); code != 401 || fail.Error == "" {
		t.Errorf("no token: %d", code)
	}
	wrong := *e
	wrong.token = "guess"
	if code := wrong.call(http.MethodGet, "/api/v1/pipelines", "", nil, nil); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code := e.call(http.MethodGet, "/api/v1/pipelines", "", nil, nil); code != 200 {
		t.Errorf("right token: %d", code)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/preview", nil); err == nil || resp.StatusCode != 401 {
		t.Errorf("websocket without token: %v", err)
	}
	if code := anon.call(http.MethodGet, "/healthz", "", nil, nil); code != 200 {
		t.Errorf("healthz needs no token: %d", code)
	}
	big := strings.Repeat("-- padding\n", 100) + "SHOW SOURCES;"
	if code := e.call(http.MethodPost, "/api/v1/scripts", "application/sql", strings.NewReader(big), nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d", code)
	}
	// A secret written in clear text is sealed before the catalog stores
	// it, and never shown.
	src := `CREATE SOURCE k (id UInt64) WITH (connector = 'kafka', brokers = 'b:9092', topic = 't',
  sasl_mechanism = 'PLAIN', sasl_username = 'u', sasl_password = 'hunter2');`
	if code, _, fail := e.script("/api/v1/scripts", src); code != 200 {
		t.Fatalf("create: %d %+v", code, fail)
	}
	stored, ok := e.srv.Catalog().Lookup("k")
	if !ok || strings.Contains(stored.SQL+stored.Canonical+fmt.Sprint(stored.Source.Options), "hunter2") {
		t.Fatalf("the catalog holds the secret in clear text: %+v", stored)
	}
	var o server.Object
	e.call(http.MethodGet, "/api/v1/sources/k", "", nil, &o)
	if o.Options["sasl_password"] != "****" || o.Options["sasl_username"] != "u" {
		t.Errorf("options shown: %v", o.Options)
	}
	if strings.Contains(o.SQL+o.Canonical, "hunter2") {
		t.Errorf("SQL with a secret shown: %s", o.SQL)
	}
	// Sealing is deterministic: the same script again changes nothing.
	if code, res, fail := e.script("/api/v1/scripts?mode=apply", src); code != 200 || len(res.Statements) != 1 || res.Statements[0].Action != server.ActionUnchanged {
		t.Errorf("re-apply of a script with a secret: %d %+v %+v", code, res, fail)
	}
	env := `CREATE OR REPLACE SOURCE k (id UInt64) WITH (connector = 'kafka', brokers = 'b:9092', topic = 't',
  sasl_mechanism = 'PLAIN', sasl_username = 'u', sasl_password = 'env:KAFKA_PASSWORD');`
	if code, _, fail := e.script("/api/v1/scripts", env); code != 200 {
		t.Fatalf("replace: %d %+v", code, fail)
	}
	e.call(http.MethodGet, "/api/v1/sources/k", "", nil, &o)
	if o.Options["sasl_password"] != "env:KAFKA_PASSWORD" {
		t.Errorf("an env: reference is shown as it is: %v", o.Options)
	}
	code, res, _ := e.script("/api/v1/validate", "CREATE SINK pg WITH (connector = 'postgres', url = 'postgres://me:hunter2@db/x', table = 't');\nCREATE PIPELINE p AS INSERT INTO pg SELECT id FROM k;")
	if raw, _ := json.Marshal(res); code != 200 || strings.Contains(string(raw), "hunter2") {
		t.Errorf("validate shows a secret: %d %s", code, raw)
	}
}

func (e *env) socket(t *testing.T, path string, first any) []map[string]any {
	t.Helper()
	h := http.Header{}
	if e.token != "" {
		h.Set("Authorization", "Bearer "+e.token)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL(e.url)+path, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if first != nil {
		c.WriteJSON(first)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out []map[string]any
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			return out
		}
		out = append(out, m)
		if m["type"] == "end" || m["type"] == "error" {
			return out
		}
	}
}

func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "+", ",", "%2C")
	return r.Replace(s)
}

// TestSlowClient checks that a preview client that does not read is
// disconnected instead of being waited for.
func TestSlowClient(t *testing.T) {
	e := start(t, web.Config{PreviewMaxRows: 1 << 40, PreviewTimeout: time.Minute})
	if code, _, fail := e.script("/api/v1/scripts", "CREATE SOURCE fast (id UInt64, name String) WITH (connector = 'datagen', rows_per_second = '1000000');"); code != 200 {
		t.Fatalf("create: %d %+v", code, fail)
	}
	d := websocket.Dialer{ReadBufferSize: 1024}
	c, _, err := d.Dial(wsURL(e.url)+"/api/v1/preview?sql=SELECT+id%2C+name+FROM+fast", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Read nothing while the server produces: its queue and the socket
	// buffers fill, and it must give up on this client and close the
	// connection. How long that takes depends on the machine's load, so
	// the test waits for it: a closed connection makes the client's writes
	// fail (the server's socket answers them with a reset).
	dropped, deadline := time.Now(), time.Now().Add(90*time.Second)
	for {
		if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds the connection of a client that read nothing for %v", time.Since(dropped))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("dropped after %v", time.Since(dropped))
	// What was buffered before the drop reads back, and then the
	// connection ends without an end message: the preview did not go on
	// feeding the client.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n := 0
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection stayed open after %d messages", n)
			}
			break
		}
		if m["type"] == "end" || m["type"] == "error" {
			t.Fatalf("the preview ended normally (%v) instead of dropping the client", m)
		}
		n++
	}
	t.Logf("read %d buffered messages before the connection closed", n)
}

// TestPreviewTimeout checks that a preview without LIMIT ends at the
// server's time limit with an end message saying so.
func TestPreviewTimeout(t *testing.T) {
	e := start(t, web.Config{PreviewTimeout: time.Second})
	if code, _, fail := e.script("/api/v1/scripts", "CREATE SOURCE slow (id UInt64) WITH (connector = 'datagen', rows_per_second = '50');"); code != 200 {
		t.Fatalf("create: %d %+v", code, fail)
	}
	start := time.Now()
	msgs := e.socket(t, "/api/v1/preview?sql=SELECT+id+FROM+slow", nil)
	last := msgs[len(msgs)-1]
	if last["type"] != "end" || last["reason"] != "timeout" || last["total"].(float64) < 1 {
		t.Errorf("preview = %v", last)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1s preview took %v", d)
	}
}
