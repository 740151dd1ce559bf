package uitest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type pipelineAPI struct {
	State   string `json:"state"`
	Running *bool  `json:"running"`
	Options map[string]string
	Metrics *struct {
		RecordsIn    int64 `json:"records_in"`
		DeadLettered int64 `json:"dead_lettered"`
	} `json:"metrics"`
}

// TestMonitor watches the demo pipeline in the browser: the pipelines page
// lists it; its page draws the README pipeline's graph with counters that
// rise, marks the busiest node and the SQL of a clicked node; a record of
// bad JSON produced into the demo topic with kcat shows in the dead-letter
// list with its reason, partition and offset; the editor says before
// applying a replacement whether state is kept, and after it that the
// pipeline restarted; stopping from the page stops the pipeline.
func TestMonitor(t *testing.T) {
	chromium(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed: it produces the bad record independently")
	}
	d := startDev(t)
	var p pipelineAPI
	deadline := time.Now().Add(30 * time.Second)
	for d.get(t, "/api/v1/pipelines/enrich_orders", &p); p.Metrics == nil || p.Metrics.RecordsIn == 0; d.get(t, "/api/v1/pipelines/enrich_orders", &p) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo pipeline reads nothing: %+v", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var src struct{ Options map[string]string }
	d.get(t, "/api/v1/sources/orders", &src)
	brokers := src.Options["brokers"]

	b := newBrowser(t, d.url+"/#/pipelines", false)

	t.Run("pipelines page", func(t *testing.T) {
		b.t = t
		row := `document.querySelector('tr.prow[data-name="enrich_orders"]')`
		b.wait(row+` && `+row+`.dataset.state === 'running'`, 10*time.Second)
		// Counters and a rate once two polls have passed.
		b.wait(row+`.querySelector('td.rate').textContent.includes('/s')`, 10*time.Second)
		var cells []string
		b.eval(`[...`+row+`.querySelectorAll('td')].map(td => td.textContent.trim())`, &cells)
		if len(cells) < 10 || !strings.Contains(cells[2], "orders, users → orders_enriched") {
			t.Fatalf("row %q", cells)
		}
		var feeders int
		b.eval(`document.querySelectorAll('tr.prow').length`, &feeders)
		if feeders < 3 {
			t.Errorf("%d pipelines listed, want the demo's 3", feeders)
		}
		if os.Getenv("SLUICE_SCREENSHOTS") != "" {
			// For the docs: a sparkline with a few samples (one per 10 s).
			b.wait(row+`.querySelector('svg.spark').dataset.points >= 4`, 60*time.Second)
		}
		b.shot("pipelines")
	})

	t.Run("graph", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Click(chromedp.CSS(`tr.prow[data-name="enrich_orders"] td.pname a`)))
		b.wait(`document.querySelectorAll('.opgraph g.node').length === 7`, 10*time.Second)
		var kinds []string
		b.eval(`[...document.querySelectorAll('.opgraph g.node')].map(g => g.dataset.kind)`, &kinds)
		if strings.Join(kinds, ",") != "source,dedup,filter,source,join,project,sink" {
			t.Fatalf("graph nodes %v", kinds)
		}
		b.wait(`document.querySelector('.opgraph g.node[data-kind=source]').dataset.rowsIn > 0`, 10*time.Second)
		var first, later []int64
		counts := `[...document.querySelectorAll('.opgraph g.node')].map(g => Number(g.dataset.rowsIn || 0))`
		b.eval(counts, &first)
		b.wait(fmt.Sprintf(`document.querySelector('.opgraph g.node[data-kind=source]').dataset.rowsIn > %d`, first[0]), 10*time.Second)
		b.eval(counts, &later)
		if later[0] <= first[0] || later[1] == 0 || later[6] == 0 {
			t.Fatalf("counters did not rise: %v then %v", first, later)
		}
		// Live counters in the boxes: dedup drops and state.
		var dedup string
		b.eval(`document.querySelector('.opgraph g.node[data-kind=dedup]').textContent`, &dedup)
		if !strings.Contains(dedup, "dropped") || !strings.Contains(dedup, "keys") {
			t.Errorf("dedup box %q", dedup)
		}
		b.wait(`document.querySelector('.opgraph g.node[data-bottleneck=true]')`, 10*time.Second)

		// Clicking a node marks the SQL it comes from.
		b.do(chromedp.Click(chromedp.CSS(`.opgraph g.node[data-kind=dedup]`)))
		b.wait(`document.querySelector('.sqlview .cm-node-span')`, 5*time.Second)
		var marked string
		b.eval(`[...document.querySelectorAll('.sqlview .cm-node-span')].map(e => e.textContent).join('')`, &marked)
		if marked != "DEDUPLICATE BY o.order_id WITHIN INTERVAL 10 MINUTE" {
			t.Fatalf("marked %q", marked)
		}
		b.wait(`document.querySelector('.nodepanel [data-counter=dedup_drops]')`, 5*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`.opgraph g.node[data-kind=join]`)))
		b.wait(`[...document.querySelectorAll('.sqlview .cm-node-span')].map(e => e.textContent).join('').startsWith('JOIN users AS u')`, 5*time.Second)
		b.wait(`document.querySelector('.output .grid tbody tr')`, 20*time.Second)
		b.shot("pipeline")
	})

	t.Run("dead letters", func(t *testing.T) {
		b.t = t
		bad := `{"order_id": "bad-1", "amount": `
		cmd := exec.Command(kcat, "-P", "-b", brokers, "-t", "orders", "-p", "0")
		cmd.Stdin = strings.NewReader(bad + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v %s", err, out)
		}
		b.do(chromedp.Click(chromedp.CSS(`button[data-tab=dead]`)))
		b.wait(`document.querySelector('.dl tr.dlrow')`, 20*time.Second)
		var rows []struct {
			Partition, Offset, Reason, Value string
		}
		b.eval(`[...document.querySelectorAll('.dl tr.dlrow')].map(r => ({partition: r.dataset.partition, offset: r.dataset.offset,
			reason: r.querySelector('.reason').textContent, value: r.querySelector('.value').textContent}))`, &rows)
		if len(rows) != 1 || rows[0].Value != bad || rows[0].Partition != "0" || !strings.Contains(rows[0].Reason, "JSON") {
			t.Fatalf("dead letters %+v", rows)
		}
		// The offset is where kcat's record is in the topic.
		out, err := exec.Command(kcat, "-C", "-b", brokers, "-t", "orders", "-p", "0", "-o", rows[0].Offset, "-c", "1", "-e", "-q").Output()
		if err != nil || strings.TrimSuffix(string(out), "\n") != bad {
			t.Fatalf("the record at offset %s is %q (%v), want %q", rows[0].Offset, out, err, bad)
		}
		b.shot("dead-letters")
	})

	t.Run("redeploy", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Click(chromedp.CSS(`.pipeline-page button[data-action=open]`)))
		b.wait(`document.querySelector('.main').style.display !== 'none' && sluice.view.state.doc.toString().includes('CREATE PIPELINE enrich_orders')`, 5*time.Second)
		// Two replacements: a wider filter keeps the state, a new dedup key does not.
		for _, c := range []struct{ from, to, want string }{
			{"o.amount > 0", "o.amount > 1", "state kept"},
			{"DEDUPLICATE BY o.order_id", "DEDUPLICATE BY o.order_id, o.user_id", "state starts empty"},
		} {
			b.eval(fmt.Sprintf(`(() => { const v = sluice.view; const i = v.state.doc.toString().indexOf(%q);
				v.dispatch({changes: {from: i, to: i + %d, insert: %q}}); return true; })()`, c.from, len(c.from), c.to), nil)
			b.wait(fmt.Sprintf(`(document.querySelector('.restart[data-name=enrich_orders]') || {}).textContent === 'apply restarts enrich_orders: %s'`, c.want), 10*time.Second)
			if c.want == "state kept" {
				b.shot("redeploy")
			}
			c.from, c.to = c.to, c.from
			b.eval(fmt.Sprintf(`(() => { const v = sluice.view; const i = v.state.doc.toString().indexOf(%q);
				v.dispatch({changes: {from: i, to: i + %d, insert: %q}}); return true; })()`, c.from, len(c.from), c.to), nil)
		}
		b.eval(`(() => { const v = sluice.view; const i = v.state.doc.toString().indexOf('o.amount > 0');
			v.dispatch({changes: {from: i, to: i + 12, insert: 'o.amount > 1'}}); return true; })()`, nil)
		b.wait(`(document.querySelector('.restart[data-name=enrich_orders]') || {}).textContent === 'apply restarts enrich_orders: state kept'`, 10*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`button[data-action=apply]`)))
		b.wait(`(document.querySelector('.result[data-name=enrich_orders]') || {}).textContent.includes('restarted, state kept') && !document.querySelector('.restart')`, 15*time.Second)
		b.shot("redeployed")
		b.do(chromedp.Click(chromedp.CSS(`.result[data-name=enrich_orders] a.watch`)))
		b.wait(`document.querySelectorAll('.opgraph g.node').length === 7 && document.querySelector('.pipeline-page .phead .state').dataset.state === 'running'`, 10*time.Second)
	})

	t.Run("stop", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Click(chromedp.CSS(`.pipeline-page .phead button[data-action=stop]`)))
		deadline := time.Now().Add(20 * time.Second)
		for {
			var p pipelineAPI
			d.get(t, "/api/v1/pipelines/enrich_orders", &p)
			if p.State == "stopped" && p.Running != nil && !*p.Running && p.Metrics == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pipeline did not stop: %+v", p)
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.wait(`document.querySelector('.pipeline-page .phead .state').dataset.state === 'stopped' && document.querySelector('.pipeline-page .phead button[data-action=start]')`, 10*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`.pipeline-page .phead button[data-action=start]`)))
		b.wait(`document.querySelector('.pipeline-page .phead .state').dataset.state === 'running'`, 10*time.Second)
	})

	t.Run("failed and drop", func(t *testing.T) {
		b.t = t
		// A pipeline that cannot start shows its error on the list.
		d.post(t, "/api/v1/scripts", "CREATE SINK broken WITH (connector = 'file', path = 'orders_enriched.jsonl/out.jsonl');\nCREATE PIPELINE doomed AS INSERT INTO broken SELECT order_id FROM orders;")
		b.do(chromedp.Navigate(d.url + "/#/pipelines"))
		row := `document.querySelector('tr.prow[data-name="doomed"]')`
		b.wait(row+` && `+row+`.dataset.state === 'failed' && `+row+`.querySelector('.perr')`, 20*time.Second)
		var msg string
		b.eval(row+`.querySelector('.perr').textContent`, &msg)
		// The first retry comes within a second: a slow page may see the second.
		if !strings.Contains(msg, `open sink "broken"`) || !regexp.MustCompile(`\(retry [12] at `).MatchString(msg) {
			t.Errorf("the failed row says %q", msg)
		}
		// Drop, confirmed: the pipeline is gone from the API and the list.
		b.eval(`window.confirm = () => true`, nil)
		b.do(chromedp.Click(chromedp.CSS(`tr.prow[data-name="doomed"] button[data-action=drop]`)))
		b.wait(`!document.querySelector('tr.prow[data-name="doomed"]')`, 10*time.Second)
		if code := d.get(t, "/api/v1/pipelines/doomed", nil); code != 404 {
			t.Fatalf("after Drop: GET answers %d", code)
		}
	})

	t.Run("dark", func(t *testing.T) {
		b.t = t
		dk := newBrowser(t, d.url+"/#/pipelines", true)
		dk.wait(`document.querySelector('tr.prow[data-name="enrich_orders"]')`, 10*time.Second)
		dk.wait(`document.querySelector('tr.prow[data-name="enrich_orders"] td.rate').textContent.includes('/s')`, 10*time.Second)
		dk.shot("pipelines-dark")
		dk.do(chromedp.Navigate(d.url + "/#/pipelines/enrich_orders"))
		dk.wait(`document.querySelector('.opgraph g.node[data-kind=source]') && document.querySelector('.opgraph g.node[data-kind=source]').dataset.rowsIn > 0`, 15*time.Second)
		dk.do(chromedp.Click(chromedp.CSS(`.opgraph g.node[data-kind=filter]`)))
		dk.wait(`document.querySelector('.sqlview .cm-node-span')`, 5*time.Second)
		dk.shot("pipeline-dark")
	})
}
