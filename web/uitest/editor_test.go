package uitest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestEditor is a day in the editor against a running `sluice dev`: type
// the README example, complete, make a typo and fix it, preview live rows,
// apply a script. One browser and one server serve every step, in order.
func TestEditor(t *testing.T) {
	chromium(t) // skips (or fails in CI) before anything starts
	d := startDev(t)
	b := newBrowser(t, d.url, false)
	b.wait(`document.querySelectorAll('.catalog li.obj').length >= 10`, 10*time.Second)

	t.Run("readme", func(t *testing.T) {
		b.t = t
		b.newTab()
		b.typeLines(readme(t))
		if got := b.doc(); got != readme(t) {
			t.Fatalf("the editor holds\n%s\nwant the README example", got)
		}
		// The example is valid against the live catalog: no underline.
		b.wait(`sluice.store.validation && sluice.store.validation.ok`, 10*time.Second)
		if d := b.diagnostics(); len(d) != 0 {
			t.Fatalf("the README example has diagnostics: %+v", d)
		}
		b.shot("readme")
	})

	t.Run("completion", func(t *testing.T) {
		b.t = t
		// After an alias and a dot: the columns of the aliased source, typed.
		b.cursorAfter("SELECT o.order_id, o.amount, u.email, o.created_at")
		b.insert(", o.")
		b.wait(`document.querySelector('.cm-tooltip-autocomplete')`, 5*time.Second)
		var opts []struct{ Label, Detail string }
		b.eval(`[...document.querySelectorAll('.cm-tooltip-autocomplete li')].map(li => ({
			label: li.querySelector('.cm-completionLabel').textContent,
			detail: (li.querySelector('.cm-completionDetail') || {}).textContent || ''}))`, &opts)
		want := map[string]string{"order_id": "String", "user_id": "UInt64", "amount": "Float64", "created_at": "DateTime64(3)"}
		got := map[string]string{}
		for _, o := range opts {
			got[o.Label] = o.Detail
		}
		for col, typ := range want {
			if got[col] != typ {
				t.Errorf("completion after o. offers %v; want %s %s", opts, col, typ)
			}
		}
		if _, ok := got["email"]; ok {
			t.Errorf("completion after o. offers users' email: %v", opts)
		}
		b.shot("completion")
		b.key(kb.Escape, false)
		// Undo the ", o." so the script is the README example again.
		b.eval(`(() => { const v = sluice.view, s = v.state.doc.toString(), i = s.indexOf(", o.\n"); v.dispatch({changes: {from: i, to: i + 4}}); })()`, nil)
		if b.doc() != readme(t) {
			t.Fatal("the README example did not come back")
		}
	})

	t.Run("typo", func(t *testing.T) {
		b.t = t
		// A typo by a key: WHERE o.amount becomes o.amunt.
		b.wait(`sluice.store.validation && sluice.store.validation.ok && sluice.diagnostics().length === 0`, 10*time.Second)
		b.cursorAfter("WHERE o.amo")
		b.key(kb.Backspace, false)
		b.wait(`document.querySelector('.cm-lintRange-error')`, 5*time.Second)
		ds := b.diagnostics()
		if len(ds) != 1 {
			t.Fatalf("diagnostics = %+v, want one", ds)
		}
		if ds[0].Text != "o.amunt" || !strings.Contains(ds[0].Message, "amunt") {
			t.Errorf("underlined %q (%s), want the misspelt column o.amunt", ds[0].Text, ds[0].Message)
		}
		var latency float64
		b.wait(`sluice.metrics.latencies.length > 0`, 2*time.Second)
		b.eval(`sluice.metrics.latencies[sluice.metrics.latencies.length - 1]`, &latency)
		t.Logf("first underline %.0f ms after the last key (README example, debounce 150 ms)", latency)
		writeMetric(t, "first-underline-ms", fmt.Sprintf("%.0f", latency))
		// The gutter marks the line; the problems panel lists it.
		b.wait(`document.querySelector('.cm-lint-marker-error')`, 2*time.Second)
		b.wait(`document.querySelector('.problem .fix')`, 2*time.Second)
		// Hover shows message, hint and the fix.
		b.hover(".cm-lintRange-error")
		b.wait(`document.querySelector('.cm-tooltip-lint .cm-sluice-hint') && document.querySelector('.cm-tooltip-lint .cm-diagnosticAction')`, 5*time.Second)
		var tip string
		b.eval(`document.querySelector('.cm-tooltip-lint').textContent`, &tip)
		if !strings.Contains(tip, "amount") {
			t.Errorf("the tooltip does not point to amount: %q", tip)
		}
		b.shot("typo")
		b.do(chromedp.Click(chromedp.CSS(".cm-tooltip-lint .cm-diagnosticAction")))
		if got := b.doc(); got != readme(t) {
			t.Fatalf("the quick fix left\n%s", got)
		}
		b.wait(`sluice.diagnostics().length === 0 && sluice.store.validation && sluice.store.validation.ok`, 5*time.Second)
		b.shot("fixed")
	})

	t.Run("script completion", func(t *testing.T) {
		b.t = t
		// A source created earlier in the same, unapplied script.
		b.newTab()
		b.typeLines("CREATE SOURCE clicks (url String, user_id UInt64, ts DateTime64(3)) WITH (connector = 'kafka', brokers = 'localhost:1', topic = 'clicks');\nSELECT  FROM clicks AS c;\n")
		b.cursorAfter("SELECT ")
		b.insert("c.")
		got := b.completions()
		if got["url"] != "String" || got["ts"] != "DateTime64(3)" {
			t.Errorf("completion after c. offers %v; want the script's clicks columns", got)
		}
		b.key(kb.Escape, false)
		// Functions with their signatures, where a column may stand.
		b.insert("url, COALE")
		if got := b.completions(); !strings.HasPrefix(got["COALESCE"], "COALESCE(x, y") {
			t.Errorf("completion of COALE offers %v", got)
		}
		b.key(kb.Escape, false)
		// Columns without an alias in WHERE, and interval units.
		b.eval(`sluice.view.dispatch({selection: {anchor: sluice.view.state.doc.length}})`, nil)
		b.insert("SELECT url FROM clicks\nDEDUPLICATE BY u")
		if got := b.completions(); got["url"] != "String" || got["user_id"] != "UInt64" {
			t.Errorf("completion in DEDUPLICATE BY offers %v", got)
		}
		b.key(kb.Escape, false)
		b.insert("rl WITHIN INTERVAL 10 ")
		units := b.completions()
		for _, u := range []string{"SECOND", "MINUTE", "HOUR", "DAY"} {
			if _, ok := units[u]; !ok || len(units) != 8 {
				t.Errorf("completion after INTERVAL 10 offers %v, want the units", units)
				break
			}
		}
		b.key(kb.Escape, false)
		// Connector names after connector =, and the connector's options
		// with their type and default.
		b.newTab()
		b.insert("CREATE SINK s WITH (connector = ")
		b.key(" ", true)
		if got := b.completions(); got["'kafka'"] == "" || got["'clickhouse'"] == "" {
			t.Errorf("completion after connector = offers %v", got)
		}
		b.key(kb.Escape, false)
		b.insert("'kafka', ")
		b.key(" ", true)
		got = b.completions()
		if !strings.Contains(got["brokers"], "required") || !strings.Contains(got["topic"], "string") {
			t.Errorf("kafka sink options offered: %v", got)
		}
		if _, ok := got["connector"]; ok {
			t.Errorf("connector offered again: %v", got)
		}
		b.wait(`document.querySelector('.cm-completionInfo')`, 3*time.Second)
		b.shot("options")
		b.key(kb.Escape, false)
		// An enum option's values inside its quotes.
		b.insert("format = '")
		b.key(" ", true)
		if got := b.completions(); len(got) != 1 || !has(got, "json") {
			t.Errorf("values offered for format: %v", got)
		}
		b.key(kb.Escape, false)
	})

	t.Run("non-ascii", func(t *testing.T) {
		b.t = t
		// Columns count code points; the editor counts UTF-16 units. An
		// emoji before the error must not shift the underline.
		b.newTab()
		b.typeLines("SELECT '🦆 ünï ✓' AS s, amout\nFROM orders;\n")
		deadline := time.Now().Add(5 * time.Second)
		ds := b.diagnostics()
		for ; !(len(ds) == 1 && ds[0].Text == "amout") && time.Now().Before(deadline); ds = b.diagnostics() {
			time.Sleep(50 * time.Millisecond)
		}
		if len(ds) != 1 || ds[0].Text != "amout" {
			t.Errorf("diagnostics %+v, want amout underlined", ds)
		}
	})

	t.Run("preview", func(t *testing.T) {
		b.t = t
		b.newTab()
		b.typeLines("SELECT order_id, user_id, amount\nFROM orders\nDEDUPLICATE BY order_id WITHIN INTERVAL 10 MINUTE;\n")
		b.cursorAfter("FROM orders")
		b.key("\r", true)
		// The schema shows first, then rows stream in.
		b.wait(`document.querySelectorAll('.grid th').length === 4`, 10*time.Second)
		var heads []string
		b.eval(`[...document.querySelectorAll('.grid th')].map(th => th.textContent)`, &heads)
		if strings.Join(heads, "|") != "#|order_idNullable(String)|user_idNullable(UInt64)|amountNullable(Float64)" {
			t.Errorf("grid header = %q", heads)
		}
		b.wait(`Number(document.querySelector('.pbar .count').dataset.total) > 20`, 20*time.Second)
		// The demo repeats one order in ten: the dedup counter rises.
		b.wait(`Number((document.querySelector("[data-stat=dedup_dropped]") || {dataset: {}}).dataset.value) > 0`, 20*time.Second)
		b.shot("preview")
		// The page follows the system's dark setting.
		b.do(colorScheme("dark"))
		var bg string
		b.eval(`getComputedStyle(document.querySelector('.cm-editor')).backgroundColor`, &bg)
		if bg != "rgb(24, 27, 34)" {
			t.Errorf("dark editor background = %s", bg)
		}
		b.shot("preview-dark")
		b.do(colorScheme("light"))
		// Pause: the count keeps rising, the grid stops.
		b.do(chromedp.Click(chromedp.CSS(".pbar .pause")))
		var before struct{ Total, Rows int }
		b.eval(`({total: Number(document.querySelector('.pbar .count').dataset.total), rows: sluice.store.run.rows.length})`, &before)
		b.wait(fmt.Sprintf(`Number(document.querySelector('.pbar .count').dataset.total) > %d`, before.Total), 10*time.Second)
		var during struct{ Rows, Held int }
		b.eval(`({rows: sluice.store.run.rows.length, held: sluice.store.run.held.length})`, &during)
		if during.Rows != before.Rows || during.Held == 0 {
			t.Errorf("paused: grid rows %d → %d, held %d", before.Rows, during.Rows, during.Held)
		}
		b.shot("paused")
		b.do(chromedp.Click(chromedp.CSS(".pbar .resume")))
		b.wait(fmt.Sprintf(`sluice.store.run.rows.length > %d && sluice.store.run.held.length === 0`, before.Rows), 5*time.Second)
		b.do(chromedp.Click(chromedp.CSS(".pbar .stop")))
		b.wait(`document.querySelector('.pbar [data-status=stopped]')`, 5*time.Second)

		// The schema shows before any row: a filter nothing passes.
		b.newTab()
		b.typeLines("SELECT order_id, created_at FROM orders WHERE amount > 1000000;\n")
		b.key("\r", true)
		b.wait(`document.querySelectorAll('.grid th').length === 3 && document.querySelector('.pbar [data-status=running]')`, 10*time.Second)
		b.eval(`[...document.querySelectorAll('.grid th')].map(th => th.textContent)`, &heads)
		if strings.Join(heads, "|") != "#|order_idNullable(String)|created_atDateTime64(3)" {
			t.Errorf("grid header with no rows = %q", heads)
		}
		var total int
		b.eval(`sluice.store.run.total`, &total)
		if total != 0 {
			t.Errorf("rows passed WHERE amount > 1000000: %d", total)
		}

		// The SELECT of a pipeline, from the catalog, without its sink.
		b.do(chromedp.Click(chromedp.CSS(".catalog li.pipeline[data-name=enrich_orders] .mini")))
		b.wait(`document.querySelectorAll('.grid th').length === 5 && Number(document.querySelector('.pbar .count').dataset.total) > 0`, 20*time.Second)
		b.eval(`[...document.querySelectorAll('.grid th .col')].map(th => th.textContent)`, &heads)
		if strings.Join(heads, ",") != "order_id,amount,email,created_at" {
			t.Errorf("pipeline preview columns = %q", heads)
		}
		b.do(chromedp.Click(chromedp.CSS(".pbar .stop")))
	})

	t.Run("apply", func(t *testing.T) {
		b.t = t
		b.newTab()
		b.typeLines("CREATE SINK big_orders_file WITH (connector = 'file', path = 'big_orders.jsonl');\n\nCREATE PIPELINE big_orders AS\nINSERT INTO big_orders_file\nSELECT order_id, amount FROM orders WHERE amount > 100;\n")
		b.key("s", true)
		b.wait(`document.querySelectorAll('.results .result').length === 2`, 10*time.Second)
		var actions []string
		b.eval(`[...document.querySelectorAll('.results .result')].map(r => r.dataset.action + ' ' + r.dataset.name)`, &actions)
		if strings.Join(actions, ",") != "created big_orders_file,created big_orders" {
			t.Errorf("apply results = %q", actions)
		}
		var p struct{ State string }
		deadline := time.Now().Add(10 * time.Second)
		for d.get(t, "/api/v1/pipelines/big_orders", &p); p.State != "running" && time.Now().Before(deadline); d.get(t, "/api/v1/pipelines/big_orders", &p) {
			time.Sleep(100 * time.Millisecond)
		}
		if p.State != "running" {
			t.Errorf("pipeline big_orders state %q after apply", p.State)
		}
		b.wait(`document.querySelector('.catalog li.pipeline[data-name=big_orders]')`, 10*time.Second)
		b.shot("applied")

		// A script with an error applies nothing and shows where.
		b.newTab()
		b.typeLines("CREATE SINK nothing_sink WITH (connector = 'file', path = 'x.jsonl');\nCREATE PIPELINE nothing AS INSERT INTO nothing_sink SELECT order_id FROM ordrs;\n")
		b.key("s", true)
		b.wait(`document.querySelector('.applied.failed')`, 10*time.Second)
		ds := b.diagnostics()
		if len(ds) == 0 || ds[0].Text != "ordrs" {
			t.Errorf("apply errors in the editor = %+v, want ordrs underlined", ds)
		}
		if code := d.get(t, "/api/v1/sinks/nothing_sink", nil); code != 404 {
			t.Errorf("a script with an error created its sink: GET = %d", code)
		}
		b.shot("apply-error")
	})

	t.Run("ten thousand rows", func(t *testing.T) {
		b.t = t
		d.post(t, "/api/v1/scripts", "CREATE SOURCE flood (id UInt64, name String, amount Float64, ts DateTime64(3)) WITH (connector = 'datagen', rows_per_second = '0', rows = '50000', seed = '3');")
		b.newTab()
		b.typeLines("SELECT * FROM flood;\n")
		// Watch the frames while the rows arrive: report the longest gap.
		b.eval(`(() => { const m = sluice.metrics; m.maxFrameGap = 0; let last = performance.now(); m.watching = true;
			const f = (now) => { m.maxFrameGap = Math.max(m.maxFrameGap, now - last); last = now; if (m.watching) requestAnimationFrame(f); };
			requestAnimationFrame(f); })()`, nil)
		b.cursorAfter("SELECT")
		b.key("\r", true)
		b.wait(`document.querySelector('.pbar [data-status=ended]')`, 30*time.Second)
		var res struct {
			Total, Rows, DOMRows int
			Gap                  float64
		}
		b.eval(`(() => { sluice.metrics.watching = false; return {total: sluice.store.run.total, rows: sluice.store.run.rows.length,
			domRows: document.querySelectorAll('.grid tbody tr').length, gap: sluice.metrics.maxFrameGap}; })()`, &res)
		if res.Total != 10000 || res.Rows != 10000 {
			t.Errorf("preview ended with %d rows (%d kept), want the cap of 10000", res.Total, res.Rows)
		}
		if res.DOMRows == 0 || res.DOMRows > 100 {
			t.Errorf("the grid draws %d rows of 10000; it must draw only those in view", res.DOMRows)
		}
		var lastRow string
		b.eval(`document.querySelector('.grid tbody tr:last-child td.rownum').textContent`, &lastRow)
		if lastRow != "10000" {
			t.Errorf("the grid ends at row %s; it should follow the rows to 10000", lastRow)
		}
		t.Logf("10000 preview rows: longest gap between frames %.0f ms", res.Gap)
		writeMetric(t, "preview-10k-max-frame-gap-ms", fmt.Sprintf("%.0f", res.Gap))
		b.shot("ten-thousand")
	})

	t.Run("reload", func(t *testing.T) {
		b.t = t
		var names []string
		b.eval(`sluice.store.tabs.map(t => t.name)`, &names)
		text := b.doc()
		b.do(chromedp.Reload())
		b.wait(`window.sluice && sluice.view && document.querySelector('.cm-content')`, 10*time.Second)
		var after []string
		b.eval(`sluice.store.tabs.map(t => t.name)`, &after)
		if strings.Join(after, ",") != strings.Join(names, ",") || len(after) < 5 {
			t.Errorf("tabs after reload = %q, before %q", after, names)
		}
		if got := b.doc(); got != text {
			t.Errorf("the open tab after reload holds %q, before %q", got, text)
		}
		// The README tab kept its script too.
		b.do(chromedp.Click(chromedp.CSS(".tabs .tab:nth-child(2)")))
		if got := b.doc(); got != readme(t) {
			t.Errorf("the README tab after reload holds %q", got)
		}
		// The catalog opens an object's SQL into a tab.
		b.do(chromedp.Click(chromedp.CSS(".catalog li.pipeline[data-name=enrich_orders] .open")))
		b.wait(`sluice.view.state.doc.toString().includes('DEDUPLICATE BY')`, 5*time.Second)
	})
}

// writeMetric records a measured number for docs and reports when
// SLUICE_METRICS names a directory.
func writeMetric(t *testing.T, name, value string) {
	if dir := os.Getenv("SLUICE_METRICS"); dir != "" {
		os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o644)
	}
}

func has(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
