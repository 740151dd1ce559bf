package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/web"
)

// TestDiagnosticRanges checks the diagnostics the editor underlines: the
// range of each error in characters of the submitted text (with tabs,
// CRLF line ends and multi-byte characters before it), the severity, and
// the fixes a "did you mean" names, as the JSON the page reads.
func TestDiagnosticRanges(t *testing.T) {
	e := start(t, web.Config{})
	dir := t.TempDir()
	if code, _, fail := e.script("/api/v1/scripts", demoScript(dir)); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	src := "-- café ☕\r\nCREATE PIPELINE p2 AS INSERT INTO out\r\n" +
		"SELECT\tid,\t'ü€', nmae\r\nFROM ev\r\n" +
		"\tJOIN ev AS b ON id = b.id;"
	var raw json.RawMessage
	if code := e.call(http.MethodPost, "/api/v1/validate", "application/sql", strings.NewReader(src), &raw); code != 422 {
		t.Fatalf("validate: %d %s", code, raw)
	}
	var got struct {
		Errors []map[string]any `json:"errors"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) != 1 {
		t.Fatalf("want the JOIN's error (the parser stops the statement there), got %s", raw)
	}
	d := got.Errors[0]
	// JOIN on line 5 after a tab: columns 2 to 6.
	want := map[string]any{"line": 5.0, "column": 2.0, "end_line": 5.0, "end_column": 6.0, "severity": "error"}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, d[k], v, raw)
		}
	}

	src = "-- café ☕\r\nCREATE PIPELINE p2 AS INSERT INTO out\r\n" +
		"SELECT\tid,\t'ü€', ev.nmae\r\nFROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;"
	var fail struct {
		Errors []web.Diagnostic `json:"errors"`
	}
	raw = nil
	if code := e.call(http.MethodPost, "/api/v1/validate", "application/sql", strings.NewReader(src), &raw); code != 422 {
		t.Fatalf("validate: %d %s", code, raw)
	}
	json.Unmarshal(raw, &fail)
	if len(fail.Errors) != 1 {
		t.Fatalf("errors: %s", raw)
	}
	g := fail.Errors[0]
	// "ev.nmae" starts at column 18 of line 3 (a tab is one column, ü and
	// € one each) and ends before column 25; the fix replaces "nmae".
	if g.Line != 3 || g.Column != 18 || g.EndLine != 3 || g.EndColumn != 25 || g.Severity != "error" {
		t.Errorf("range %d:%d-%d:%d %s, want 3:18-3:25 error", g.Line, g.Column, g.EndLine, g.EndColumn, g.Severity)
	}
	wantFix := web.Fix{Title: "Replace with name", From: web.Position{Line: 3, Column: 21}, To: web.Position{Line: 3, Column: 25}, Insert: "name"}
	if len(g.Fixes) != 1 || g.Fixes[0] != wantFix {
		t.Errorf("fixes %+v, want %+v", g.Fixes, wantFix)
	}
	if !strings.Contains(g.Rendered, "^^^^^^^") {
		t.Errorf("rendered without the range underlined:\n%s", g.Rendered)
	}
	if !strings.Contains(string(raw), `"fixes": [`) || !strings.Contains(string(raw), `"from": {`) {
		t.Errorf("JSON field names: %s", raw)
	}

	// A preview's error message carries the same diagnostics.
	msgs := e.socket(t, "/api/v1/preview?sql="+url.QueryEscape("SELECT\tnmae FROM ev"), nil)
	last := msgs[len(msgs)-1]
	errs, _ := last["errors"].([]any)
	if last["type"] != "error" || len(errs) != 1 {
		t.Fatalf("preview answered %v", msgs)
	}
	pd := errs[0].(map[string]any)
	if pd["column"] != 8.0 || pd["end_column"] != 12.0 || pd["fixes"] == nil {
		t.Errorf("preview diagnostic %v", pd)
	}
}

// TestCatalogForCompletion checks what the editor completes from: the
// objects' SQL and columns (a source's pseudo-columns flagged), and the
// function table.
func TestCatalogForCompletion(t *testing.T) {
	e := start(t, web.Config{})
	dir := t.TempDir()
	src := demoScript(dir) + "CREATE SOURCE k (id UInt64 NOT NULL, v String) WITH (connector = 'kafka', brokers = '127.0.0.1:1', topic = 't');\n"
	if code, _, fail := e.script("/api/v1/scripts", src); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	type column struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Nullable *bool  `json:"nullable"`
		Pseudo   bool   `json:"pseudo"`
	}
	type object struct {
		Name    string   `json:"name"`
		SQL     string   `json:"sql"`
		Columns []column `json:"columns"`
	}
	var sources []object
	if code := e.call(http.MethodGet, "/api/v1/sources", "", nil, &sources); code != 200 || len(sources) != 2 {
		t.Fatalf("sources: %d %+v", code, sources)
	}
	k := sources[1]
	if k.Name != "k" || !strings.HasPrefix(k.SQL, "CREATE SOURCE k (id UInt64 NOT NULL") {
		t.Errorf("source k: %+v", k)
	}
	var declared, pseudo []string
	for _, c := range k.Columns {
		if c.Nullable == nil {
			t.Errorf("column %s has no nullable", c.Name)
			continue
		}
		if c.Pseudo {
			pseudo = append(pseudo, c.Name)
		} else {
			declared = append(declared, c.Name+" "+c.Type)
		}
		if c.Name == "id" && *c.Nullable || c.Name == "v" && !*c.Nullable {
			t.Errorf("column %+v: nullable wrong", c)
		}
	}
	if got := strings.Join(declared, ", "); got != "id UInt64, v Nullable(String)" {
		t.Errorf("declared columns %s", got)
	}
	if got := strings.Join(pseudo, ", "); !strings.Contains(got, "_key") || !strings.Contains(got, "_timestamp") {
		t.Errorf("kafka pseudo-columns %s", got)
	}
	// A datagen source has only the generated time; a sink none.
	for _, c := range sources[0].Columns {
		if c.Pseudo && c.Name != "_timestamp" {
			t.Errorf("datagen pseudo-column %s", c.Name)
		}
	}
	var one object
	if code := e.call(http.MethodGet, "/api/v1/sources/k", "", nil, &one); code != 200 || one.SQL != k.SQL || len(one.Columns) != len(k.Columns) {
		t.Errorf("GET one source: %d %+v", code, one)
	}
	var pipes []object
	if code := e.call(http.MethodGet, "/api/v1/pipelines", "", nil, &pipes); code != 200 || len(pipes) != 1 || !strings.Contains(pipes[0].SQL, "DEDUPLICATE BY id") {
		t.Errorf("pipelines: %d %+v", code, pipes)
	}

	var fns struct {
		Functions []map[string]string `json:"functions"`
	}
	if code := e.call(http.MethodGet, "/api/v1/functions", "", nil, &fns); code != 200 {
		t.Fatalf("functions: %d", code)
	}
	byName := map[string]map[string]string{}
	for _, f := range fns.Functions {
		byName[f["name"]] = f
	}
	for name, kind := range map[string]string{"COALESCE": "scalar", "COUNT": "aggregate", "TUMBLE": "window", "HOP": "window", "toStartOfInterval": "scalar"} {
		f := byName[name]
		if f == nil || f["kind"] != kind || f["signature"] == "" || f["returns"] == "" || f["doc"] == "" {
			t.Errorf("function %s: %v", name, f)
		}
	}
	if f := byName["COALESCE"]; f["signature"] != "COALESCE(x, y, …)" || f["returns"] != "type of x" {
		t.Errorf("COALESCE: %v", f)
	}
}

// TestEveryErrorOfTheScript: a statement that does not parse does not
// hide the errors of the others, and a source whose CREATE does not parse
// is not reported again where it is used. Nothing is applied.
func TestEveryErrorOfTheScript(t *testing.T) {
	e := start(t, web.Config{})
	dir := t.TempDir()
	if code, _, fail := e.script("/api/v1/scripts", demoScript(dir)); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	src := "CREATE SOURCE s2 (id UInt64, ts DateTime64(3) WATERMARK FOR ts AS ts) WITH (connector = 'datagen');\n" +
		"CREATE SINK out2 WITH (connector = 'file', path = '" + dir + "/o2.jsonl');\n" +
		"CREATE PIPELINE p2 AS INSERT INTO out2 SELECT id FROM s2;\n" +
		"CREATE PIPELINE p3 AS INSERT INTO out2 SELECT nmae FROM ev;\n"
	code, _, fail := e.script("/api/v1/validate", src)
	if code != 422 {
		t.Fatalf("validate: %d", code)
	}
	var got []string
	for _, d := range fail.Errors {
		got = append(got, fmt.Sprintf("%d:%d-%d:%d %s", d.Line, d.Column, d.EndLine, d.EndColumn, d.Message))
	}
	want := []string{
		`1:47-1:56 expected , or ) after the column definition, found "WATERMARK"`,
		`4:47-4:51 unknown column "nmae" in source "ev"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if code, _, _ := e.script("/api/v1/scripts", src); code != 422 {
		t.Errorf("apply: %d", code)
	}
	var sinks []map[string]any
	if e.call(http.MethodGet, "/api/v1/sinks", "", nil, &sinks); len(sinks) != 1 {
		t.Errorf("a script with errors changed the catalog: sinks %v", sinks)
	}
}
