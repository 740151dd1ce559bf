package uitest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-sql/sluice/catalog"
)

// TestMonitorTasks applies a pipeline of three tasks whose GROUP BY key is
// not the record key, so that a repartition stage feeds it, and watches it
// in the browser: the pipelines page says where its tasks and its stage's
// run, and its graph draws the stage (its source, the filter it runs, the
// repartition into the internal topic) before the source reading the
// topic, whose counters rise.
func TestMonitorTasks(t *testing.T) {
	chromium(t)
	d := startDev(t)
	var src struct{ Options map[string]string }
	d.get(t, "/api/v1/sources/orders", &src)
	d.post(t, "/api/v1/scripts", fmt.Sprintf(`CREATE SINK per_user_out WITH (connector = 'kafka', brokers = '%s', topic = 'per_user', partitions = '3', delivery = 'exactly_once');
CREATE PIPELINE per_user WITH (parallelism = '3') AS INSERT INTO per_user_out
SELECT user_id, count(*) AS orders
FROM orders
WHERE amount > 0
GROUP BY TUMBLE(created_at, INTERVAL 10 SECOND), user_id;`, src.Options["brokers"]))

	b := newBrowser(t, d.url+"/#/pipelines", false)
	row := `document.querySelector('tr.prow[data-name="per_user"]')`
	const want = "3 tasks on this server; stage orders: 3 tasks on this server"
	line := `((` + row + ` || {querySelector: () => null}).querySelector('.ptasks') || {}).textContent`
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var got string
		b.eval(line+` || ''`, &got)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			var api any
			d.get(t, "/api/v1/pipelines/per_user", &api)
			t.Fatalf("the tasks line says %q, want %q; the API: %v", got, want, api)
		}
	}
	var orphans string
	b.eval(row+`.querySelector('.ptasks').dataset.orphans`, &orphans)
	if orphans != "0" {
		t.Errorf("%s tasks marked without a live owner on one server", orphans)
	}
	// A pipeline of one task on one server says nothing of tasks.
	var demo bool
	b.eval(`!!document.querySelector('tr.prow[data-name="enrich_orders"] .ptasks')`, &demo)
	if demo {
		t.Errorf("the demo pipeline of one task shows a tasks line")
	}
	b.shot("pipelines-tasks")

	b.do(chromedp.Click(chromedp.CSS(`tr.prow[data-name="per_user"] td.pname a`)))
	b.wait(`document.querySelectorAll('.opgraph g.node').length === 7`, 10*time.Second)
	var nodes []struct{ Kind, Stage string }
	b.eval(`[...document.querySelectorAll('.opgraph g.node')].map(g => ({kind: g.dataset.kind, stage: g.dataset.stage}))`, &nodes)
	var kinds []string
	for _, n := range nodes {
		kinds = append(kinds, n.Kind+"/"+n.Stage)
	}
	if got := strings.Join(kinds, ","); got != "source/,window/,project/,sink/,source/per_user.orders.repartition,filter/per_user.orders.repartition,repartition/per_user.orders.repartition" {
		t.Fatalf("graph nodes %s", got)
	}
	rep := `document.querySelector('.opgraph g.node[data-kind=repartition]')`
	var box string
	b.eval(rep+`.textContent`, &box)
	for _, s := range []string{"repartition orders", "BY (user_id)", "3 partitions · 3 tasks", "counters: on its tasks"} {
		if !strings.Contains(box, s) {
			t.Errorf("the repartition node says %q, want %q in it", box, s)
		}
	}
	// Drawn left to right: the stage's source, the repartition, then the
	// source reading the internal topic.
	var order []float64
	b.eval(`['.opgraph g.node[data-kind=source][data-stage="per_user.orders.repartition"]', '.opgraph g.node[data-kind=repartition]', '.opgraph g.node[data-kind=source][data-stage=""]']
		.map(s => document.querySelector(s).getBoundingClientRect().left)`, &order)
	if len(order) != 3 || !(order[0] < order[1] && order[1] < order[2]) {
		t.Errorf("nodes' left edges %v: not stage source, repartition, reading source", order)
	}
	// The pipeline runs: the source reading the stage's topic counts rows.
	b.wait(`document.querySelector('.opgraph g.node[data-kind=source][data-stage=""]').dataset.rowsIn > 0`, 30*time.Second)

	// Clicking the repartition marks the GROUP BY it partitions for and
	// lists the topic.
	b.do(chromedp.Click(chromedp.CSS(`.opgraph g.node[data-kind=repartition]`)))
	b.wait(`[...document.querySelectorAll('.sqlview .cm-node-span')].map(e => e.textContent).join('') === 'TUMBLE(created_at, INTERVAL 10 SECOND), user_id'`, 5*time.Second)
	var details []string
	b.eval(`[...document.querySelectorAll('.nodepanel .details li')].map(li => li.textContent)`, &details)
	if strings.Join(details, "\n") != "topic sluice.per_user.orders.repartition, 3 partitions\nstage per_user.orders.repartition: 3 tasks\ncounters: on the stage's tasks" {
		t.Errorf("repartition details %q", details)
	}
	var header string
	b.eval(`document.querySelector('.pipeline-page > .ptasks').textContent`, &header)
	if header != want {
		t.Errorf("the pipeline page says %q of its tasks", header)
	}
	b.shot("pipeline-tasks")
}

// TestMonitorTaskOwners runs two `sluice server`s on one PostgreSQL
// catalog and a pipeline of four tasks: once they have shared them, the
// pipelines page of either counts the tasks by the server holding each
// lease.
func TestMonitorTaskOwners(t *testing.T) {
	chromium(t)
	pg := os.Getenv("SLUICE_TEST_POSTGRES")
	if pg == "" {
		t.Skip("SLUICE_TEST_POSTGRES is not set: the servers share a PostgreSQL catalog")
	}
	schema := fmt.Sprintf("sluice_uitest_%d_%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { catalog.DropSchema(context.Background(), pg, schema) })
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events", "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := strings.Join(kc.ListenAddrs(), ",")
	urls := map[string]string{}
	for _, node := range []string{"node-a", "node-b"} {
		urls[node] = startSluice(t, nil, `sluice server listening on (\S+)`, "server", "--listen", "127.0.0.1:0",
			"--postgres", pg, "--schema", schema, "--data-dir", t.TempDir(), "--node-id", node, "--lease-time", "3s")
	}
	a := &dev{url: urls["node-a"]}
	a.post(t, "/api/v1/scripts", fmt.Sprintf(`CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', delivery = 'exactly_once');
CREATE PIPELINE spread WITH (parallelism = '4') AS
  INSERT INTO out SELECT id FROM events DEDUPLICATE BY _key WITHIN INTERVAL 1 HOUR;`, brokers))

	b := openBrowser(t)
	b.do(chromedp.Navigate(urls["node-b"] + "/#/pipelines"))
	const want = "4 tasks · node-a 2 · node-b 2"
	line := `((document.querySelector('tr.prow[data-name="spread"]') || {querySelector: () => null}).querySelector('.ptasks') || {}).textContent || ''`
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var got string
		b.eval(line, &got)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tasks line says %q, want %q", got, want)
		}
	}
	var orphans string
	b.eval(`document.querySelector('tr.prow[data-name="spread"] .ptasks').dataset.orphans`, &orphans)
	if orphans != "0" {
		t.Errorf("%s tasks marked without a live owner while both servers run", orphans)
	}
	b.shot("pipelines-owners")

	// A task whose lease ran out (its server died, none has taken it over
	// yet) is marked: the line the page draws from this answer.
	var lost struct {
		Parts   []string
		Orphans []struct{ Task string }
	}
	b.eval(`fetch('/api/v1/pipelines/spread').then(r => r.json()).then(p => {
		p.tasks[3].lease_live = false;
		return sluice.taskSummary(p);
	})`, &lost)
	if strings.Join(lost.Parts, "; ") != want || len(lost.Orphans) != 1 || lost.Orphans[0].Task != "spread#3" {
		t.Errorf("with task 3's lease run out: %+v", lost)
	}
}
