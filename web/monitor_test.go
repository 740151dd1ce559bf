package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/web"
)

// TestMonitor runs a Kafka pipeline with one record of bad JSON and checks
// what the monitor pages read: the graph with each node's SQL, the live
// socket's rising counters, the dead letter with its reason and place,
// and the 15-minute history.
func TestMonitor(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d,"amount":%d,"ts":%d}`, i%50, i, time.Now().UnixMilli()))})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 100)
	bad := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte(`{"id": 7, "amount": `)})
	if err := bad.FirstErr(); err != nil {
		t.Fatal(err)
	}
	badRec, _ := bad.First()

	e := start(t, web.Config{})
	dir := t.TempDir()
	pipeline := "CREATE PIPELINE watched AS INSERT INTO out\nSELECT id, amount\nFROM orders\nWHERE amount > 10\nDEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE"
	src := fmt.Sprintf(`CREATE SOURCE orders (id UInt64, amount Int64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'orders', idle_timeout = '1s');
CREATE SINK out WITH (connector = 'file', path = '%s');
%s;`, brokers, filepath.Join(dir, "out.jsonl"), pipeline)
	if code, _, fail := e.script("/api/v1/scripts", src); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}

	// The graph: nodes, edges and each node's SQL.
	var g server.PipelineGraph
	if code := e.call(http.MethodGet, "/api/v1/pipelines/watched/graph", "", nil, &g); code != 200 {
		t.Fatalf("graph: %d", code)
	}
	if g.SpanError != "" || g.SQL != pipeline {
		t.Fatalf("graph SQL %q, span error %q", g.SQL, g.SpanError)
	}
	spans := map[string]string{}
	for _, n := range g.Nodes {
		if n.Span == nil {
			t.Fatalf("node %d (%s) has no span", n.ID, n.Kind)
		}
		spans[n.Kind] = g.SQL[n.Span.From.Offset:n.Span.To.Offset]
	}
	want := map[string]string{"source": "orders", "dedup": "DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE",
		"filter": "amount > 10", "project": "SELECT id, amount", "sink": "INSERT INTO out"}
	if fmt.Sprint(spans) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", spans, want)
	}
	if f := g.Nodes[2].Span.From; g.Nodes[2].Kind != "filter" || f.Line != 4 || f.Column != 7 {
		t.Fatalf("filter node %+v", g.Nodes[2])
	}
	if len(g.Edges) != len(g.Nodes)-1 || g.Edges[0].From != 0 || g.Edges[0].To != 1 {
		t.Fatalf("edges %+v", g.Edges)
	}
	if code := e.call(http.MethodGet, "/api/v1/pipelines/nope/graph", "", nil, nil); code != 404 {
		t.Fatalf("graph of an unknown pipeline: %d", code)
	}

	// The live socket: about once a second, counters that rise.
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/pipelines/watched/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var msgs []server.Live
	for len(msgs) < 4 {
		var l server.Live
		if err := ws.ReadJSON(&l); err != nil {
			t.Fatal(err)
		}
		if len(l.Nodes) == 0 {
			continue // the run is still opening its source and sink
		}
		msgs = append(msgs, l)
		produce(1000*len(msgs), 50)
	}
	first, last := msgs[0], msgs[len(msgs)-1]
	if last.Type != "stats" || last.State != "running" || len(last.Nodes) != len(g.Nodes) {
		t.Fatalf("live %+v", last)
	}
	if gap := last.Time.Sub(msgs[1].Time); gap < 1500*time.Millisecond || gap > 4*time.Second {
		t.Errorf("three messages took %v, want about 2s", gap)
	}
	srcNode, sink := last.Nodes[0], last.Nodes[len(last.Nodes)-1]
	if srcNode.RowsIn <= first.Nodes[0].RowsIn || sink.RowsOut == 0 {
		t.Errorf("counters did not rise: source %d → %d, sink wrote %d", first.Nodes[0].RowsIn, srcNode.RowsIn, sink.RowsOut)
	}
	if srcNode.Watermark == nil || srcNode.WatermarkLag == nil || *srcNode.WatermarkLag < 900 || *srcNode.WatermarkLag > 60000 {
		t.Errorf("source watermark %v, delay %v ms", srcNode.Watermark, srcNode.WatermarkLag)
	}
	if dd := last.Nodes[1]; dd.Kind != "dedup" || dd.DedupDrops == 0 || dd.StateEntries == 0 {
		t.Errorf("dedup node %+v", dd)
	}
	if sink.BatchRows == 0 || sink.MeanLatencyMS <= 0 {
		t.Errorf("sink node %+v", sink)
	}
	if last.Bottleneck < 0 || last.Why == "" {
		t.Errorf("no bottleneck named: %+v", last)
	}
	if last.Metrics == nil || last.Metrics.DeadLettered != 1 {
		t.Errorf("metrics %+v", last.Metrics)
	}

	// The same in /metrics.
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metric := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Errorf("/metrics lacks %s", name)
			return 0
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	if v := metric(`sluice_source_watermark_delay_seconds{pipeline="watched",source="orders"}`); v < 0.9 || v > 60 {
		t.Errorf("watermark delay %v s", v)
	}
	if v := metric(`sluice_operator_busy_seconds_total{kind="dedup",operator="1:dedup",pipeline="watched"}`); v <= 0 {
		t.Errorf("dedup busy %v s", v)
	}
	if v := metric(`sluice_operator_busy_seconds_total{kind="sink",operator="4:sink",pipeline="watched"}`); v <= 0 {
		t.Errorf("sink busy %v s", v)
	}
	metric(`sluice_operator_state_bytes{kind="dedup",operator="1:dedup",pipeline="watched"}`)
	if v := metric(`sluice_pipeline_queue_fill_ratio{pipeline="watched",queue="sink"}`); v < 0 || v > 1 {
		t.Errorf("sink queue fill %v", v)
	}
	metric(`sluice_pipeline_queue_fill_ratio{pipeline="watched",queue="operators"}`)

	// The dead letter, read back from the dead-letter topic.
	var dl struct {
		Sources []server.SourceDeadLetters `json:"sources"`
	}
	waitFor(t, "the dead letter", func() bool {
		e.call(http.MethodGet, "/api/v1/pipelines/watched/dead_letters?limit=5", "", nil, &dl)
		return len(dl.Sources) == 1 && len(dl.Sources[0].Letters) == 1
	})
	d := dl.Sources[0].Letters[0]
	if d.Partition != badRec.Partition || d.Offset != badRec.Offset || d.Value != `{"id": 7, "amount": ` || !strings.Contains(d.Reason, "JSON") || !dl.Sources[0].Supported {
		t.Fatalf("dead letter %+v, want partition %d offset %d", d, badRec.Partition, badRec.Offset)
	}
	if code := e.call(http.MethodGet, "/api/v1/sources/orders/dead_letters", "", nil, &dl); code != 200 || len(dl.Sources) != 1 || len(dl.Sources[0].Letters) != 1 {
		t.Fatalf("source dead letters: %d %+v", code, dl)
	}
	var fail apiErr
	if code := e.call(http.MethodGet, "/api/v1/pipelines/watched/dead_letters?limit=0", "", nil, &fail); code != 400 || !strings.Contains(fail.Error, "limit") {
		t.Fatalf("limit=0: %d %v", code, fail)
	}
	if code := e.call(http.MethodGet, "/api/v1/sources/watched/dead_letters", "", nil, nil); code != 404 {
		t.Fatalf("a pipeline as a source: %d", code)
	}

	// Stopped, the live socket says so; dropped, it ends.
	if code, _, fail := e.script("/api/v1/scripts", "STOP PIPELINE watched;"); code != 200 {
		t.Fatal(fail)
	}
	for {
		var l server.Live
		if err := ws.ReadJSON(&l); err != nil {
			t.Fatal(err)
		}
		if l.State == "stopped" {
			if len(l.Nodes) != 0 || l.Bottleneck != -1 {
				t.Fatalf("stopped: %+v", l)
			}
			break
		}
	}
	if code, _, fail := e.script("/api/v1/scripts", "DROP PIPELINE watched;"); code != 200 {
		t.Fatal(fail)
	}
	for {
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "end" {
			if m["reason"] != "dropped" {
				t.Fatalf("end %v", m)
			}
			break
		}
	}
}

// TestMonitorGraphStages checks the graph of a pipeline split into tasks
// whose GROUP BY key is not the record key: its repartition stage is
// drawn between the source it reads and the source reading its topic,
// after the pipeline's own nodes, whose IDs stay those of the live
// socket's counters.
func TestMonitorGraphStages(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	e := start(t, web.Config{})
	pipeline := "CREATE PIPELINE per_user WITH (parallelism = '3') AS INSERT INTO out\nSELECT user_id, count(*) AS n\nFROM orders\nWHERE amount > 10\nGROUP BY TUMBLE(ts, INTERVAL 1 MINUTE), user_id"
	src := fmt.Sprintf(`CREATE SOURCE orders (user_id UInt64, amount Int64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'orders', idle_timeout = '1s');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'per_user');
%s;`, brokers, pipeline)
	if code, _, fail := e.script("/api/v1/scripts", src); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	var g server.PipelineGraph
	if code := e.call(http.MethodGet, "/api/v1/pipelines/per_user/graph", "", nil, &g); code != 200 {
		t.Fatalf("graph: %d", code)
	}
	var kinds []string
	byID := map[int]server.GraphNode{}
	for i, n := range g.Nodes {
		kinds = append(kinds, n.Kind+"/"+n.Stage)
		byID[n.ID] = n
		if n.Stage == "" && n.ID != i {
			t.Errorf("the pipeline's node %d is at %d", n.ID, i)
		}
	}
	want := "source/,window/,project/,sink/,source/per_user.orders.repartition,filter/per_user.orders.repartition,repartition/per_user.orders.repartition"
	if strings.Join(kinds, ",") != want {
		t.Fatalf("nodes %s, want %s", strings.Join(kinds, ","), want)
	}
	rp := g.Nodes[6]
	if rp.Title != "Repartition orders BY (user_id)" || rp.Repartition == nil || rp.Repartition.Topic != "sluice.per_user.orders.repartition" ||
		rp.Repartition.Partitions != 3 || len(rp.Inputs) != 1 || rp.Inputs[0] != 5 || !slices.Contains(rp.Details, "counters: on the stage's tasks") {
		t.Fatalf("repartition node %+v %+v", rp, rp.Repartition)
	}
	edges := map[[2]int]bool{}
	for _, ed := range g.Edges {
		edges[[2]int{ed.From, ed.To}] = true
	}
	// orders → filter → repartition → the source reading the topic → window.
	for _, ed := range [][2]int{{4, 5}, {5, 6}, {6, 0}, {0, 1}, {1, 2}, {2, 3}} {
		if !edges[ed] {
			t.Errorf("no edge %v in %+v", ed, g.Edges)
		}
	}
	if len(g.Edges) != 6 {
		t.Errorf("edges %+v", g.Edges)
	}
	// Spans: the stage's source is the FROM reference, the repartition the
	// GROUP BY it partitions for.
	text := func(n server.GraphNode) string {
		if n.Span == nil {
			return "<none>"
		}
		return g.SQL[n.Span.From.Offset:n.Span.To.Offset]
	}
	if g.SpanError != "" || text(g.Nodes[4]) != "orders" || text(rp) != "TUMBLE(ts, INTERVAL 1 MINUTE), user_id" {
		t.Fatalf("span error %q, stage source %q, repartition %q", g.SpanError, text(g.Nodes[4]), text(rp))
	}
}
