package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/web"
)

// fuzzServer is one server with the embedded catalog for a whole fuzz run,
// holding the sources the seed scripts read.
var fuzzServer struct {
	once sync.Once
	url  string
	h    http.Handler
}

const fuzzObjects = `CREATE SOURCE ev (id UInt64, name String, amount Float64, ts DateTime64(3),
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows = '50', seed = '3');
CREATE SOURCE users (user_id UInt64, email String, ts DateTime64(3), WATERMARK FOR ts AS ts)
  WITH (connector = 'datagen', rows = '20');
CREATE SINK out WITH (connector = 'clickhouse', url = 'clickhouse://u:pw@127.0.0.1:1/default', table = 'out');
`

func fuzzEnv(f *testing.F) (string, http.Handler) {
	fuzzServer.once.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			f.Fatal(err)
		}
		cat, err := catalog.OpenDir(context.Background(), filepath.Join(dir, "catalog"))
		if err != nil {
			f.Fatal(err)
		}
		srv, err := server.New(server.Config{
			Catalog: cat, StateDir: filepath.Join(dir, "state"), StopTimeout: time.Second,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			NewRowEncoder: func(s dag.Schema) server.RowEncoder { return jsonformat.NewEncoder(s).AppendRow },
		})
		if err != nil {
			f.Fatal(err)
		}
		srv.Start()
		reg := prometheus.NewRegistry()
		h := web.Handler(web.Config{Server: srv, Gatherer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			PreviewTimeout: time.Second, PreviewMaxRows: 20, MaxPlanning: 2})
		if _, errs, err := srv.Apply(context.Background(), fuzzObjects, server.ApplyOptions{}); err != nil || len(errs) > 0 {
			f.Fatalf("objects: %v %v", err, errs)
		}
		fuzzServer.h = h
		fuzzServer.url = httptest.NewServer(h).URL
	})
	return fuzzServer.url, fuzzServer.h
}

// FuzzAPI sends any text as a script to POST /api/v1/scripts (dry run,
// both modes) and /validate, and as a preview request over the
// websocket. Whatever the text, the server answers (no panic, no 500),
// with JSON of the documented shape: at most 100 diagnostics, each with a
// position inside the text and a rendered line, and "more" counting the
// rest; a preview ends with an end or error message. The seed corpus is
// in testdata/fuzz/FuzzAPI.
func FuzzAPI(f *testing.F) {
	for _, seed := range []string{
		"SELECT id, name FROM ev WHERE amount > 10 LIMIT 5",
		"SELECT u.email, e.amount FROM ev AS e JOIN users AS u ON e.id = u.user_id WITHIN INTERVAL 1 MINUTE DEDUPLICATE BY e.id WITHIN INTERVAL 1 MINUTE",
		"SELECT window_start, COUNT(*) AS n, SUM(amount) FROM ev GROUP BY TUMBLE(ts, INTERVAL 10 SECOND) HAVING n > 1",
		"CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev;",
		"CREATE SINK s2 WITH (connector = 'postgres', url = 'host=db password=x', table = 't');\nEXPLAIN SELECT id FROM ev;",
		"SHOW SOURCES; DESCRIBE ev; SHOW PIPELINES;",
		"SELECT CAST(id AS String), COALESCE(name, 'x') || '\u00e9', id + 1 * 2 FROM ev",
		"SELECT nope FROM ev",
		"CREATE SOURCE x (a UInt64) WITH (connector = 'kafka');",
		"SELEKT \"a\" FROM `b`; /* unterminated",
		"SELECT\tid\r\nFROM ev\r\nWHERE name = 'it''s';",
	} {
		f.Add(seed)
	}
	url, h := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, src string) {
		for _, path := range []string{"/api/v1/scripts?dry_run=true", "/api/v1/scripts?dry_run=true&mode=apply", "/api/v1/validate"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(src))
			req.Header.Set("Content-Type", "application/sql")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkAnswer(t, path, src, rec.Code, rec.Body.Bytes())
		}
		c, _, err := websocket.DefaultDialer.Dial(wsURL(url)+"/api/v1/preview", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteJSON(map[string]any{"sql": src, "limit": 5})
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for first := true; ; first = false {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				t.Fatalf("preview of %q: no end or error message: %v", src, err)
			}
			typ, _ := m["type"].(string)
			if first && typ != "schema" && typ != "error" && typ != "stats" {
				t.Fatalf("preview of %q: first message %v", src, m)
			}
			if typ == "error" {
				raw, _ := json.Marshal(m)
				checkAnswer(t, "preview", src, 422, raw)
				return
			}
			if typ == "end" {
				return
			}
		}
	})
}

func checkAnswer(t *testing.T, path, src string, code int, body []byte) {
	t.Helper()
	var a struct {
		Error   string           `json:"error"`
		Message string           `json:"message"`
		Errors  []web.Diagnostic `json:"errors"`
		More    int              `json:"more"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s %q: %d, not JSON: %v\n%s", path, src, code, err, body)
	}
	switch code {
	case 200:
		return
	case 400, 422:
	default:
		t.Fatalf("%s %q: status %d: %s", path, src, code, body)
	}
	if a.Error == "" && a.Message == "" {
		t.Fatalf("%s %q: %d without a message: %s", path, src, code, body)
	}
	if len(a.Errors) > 100 || a.More < 0 || a.More > 0 && len(a.Errors) != 100 {
		t.Fatalf("%s %q: %d errors and %d more", path, src, len(a.Errors), a.More)
	}
	lines := strings.Count(src, "\n") + 1
	for _, d := range a.Errors {
		if d.Line < 1 || d.Line > lines || d.Column < 1 || d.Message == "" || d.Rendered == "" {
			t.Fatalf("%s %q: diagnostic %+v", path, src, d)
		}
		if l := lineOf(src, d.Line); d.Column > utf8.RuneCountInString(l)+1 {
			t.Fatalf("%s %q: column %d past line %d (%q)", path, src, d.Column, d.Line, l)
		}
	}
}

func lineOf(src string, n int) string {
	l := strings.Split(src, "\n")[n-1]
	return strings.TrimSuffix(l, "\r")
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "sluice-fuzz-") }
