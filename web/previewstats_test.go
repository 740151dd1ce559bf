package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/web"
)

// statsOf reads a preview socket until it ends or want returns true for
// the messages so far, and returns the stats messages and the last
// message.
func statsOf(t *testing.T, e *env, sql string, want func(stats []map[string]any) bool) ([]map[string]any, map[string]any) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsURL(e.url)+"/api/v1/preview?sql="+url.QueryEscape(sql), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var stats []map[string]any
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v (stats so far %v)", err, stats)
		}
		switch m["type"] {
		case "stats":
			stats = append(stats, m)
			if want(stats) {
				return stats, m
			}
		case "end", "error":
			return stats, m
		}
	}
}

func num(m map[string]any, k string) int64 {
	v, _ := m[k].(float64)
	return int64(v)
}

// TestPreviewStats runs a preview of the demo's datagen source, which
// repeats 20 % of its ids, over a real websocket: the stats messages come
// about every interval, and the DEDUPLICATE counter rises while rows are
// read and emitted.
func TestPreviewStats(t *testing.T) {
	e := start(t, web.Config{PreviewStatsEvery: 200 * time.Millisecond})
	dir := t.TempDir()
	if code, _, fail := e.script("/api/v1/scripts", demoScript(dir)); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	begin := time.Now()
	stats, _ := statsOf(t, e, "SELECT id, name FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE", func(s []map[string]any) bool {
		return len(s) >= 3 && num(s[len(s)-1], "dedup_dropped") > num(s[0], "dedup_dropped") && num(s[0], "dedup_dropped") > 0
	})
	if len(stats) < 3 {
		t.Fatalf("stats messages: %v", stats)
	}
	if n := len(stats); time.Since(begin) < time.Duration(n-1)*150*time.Millisecond {
		t.Errorf("%d stats messages in %v: more often than every 200ms", n, time.Since(begin))
	}
	last := stats[len(stats)-1]
	for _, k := range []string{"elapsed_ms", "read", "dedup_dropped", "join_matches", "join_waiting", "late_dropped", "dead_letters", "last_dead_letter", "emitted", "operators"} {
		if _, ok := last[k]; !ok {
			t.Errorf("stats message has no %s: %v", k, last)
		}
	}
	read, dropped, emitted := num(last, "read"), num(last, "dedup_dropped"), num(last, "emitted")
	// Every row read is either dropped as a repeat, emitted, or in flight.
	if dropped <= 0 || emitted <= 0 || dropped+emitted > read {
		t.Errorf("read %d, dropped %d, emitted %d", read, dropped, emitted)
	}
	var src, dedup map[string]any
	for _, o := range last["operators"].([]any) {
		op := o.(map[string]any)
		switch op["kind"] {
		case "source":
			src = op
		case "dedup":
			dedup = op
		}
	}
	if src == nil || src["name"] != "ev" || dedup == nil || num(dedup, "dedup_drops") != dropped || num(dedup, "rows_in") < num(dedup, "rows_out")+dropped {
		t.Errorf("operators: %v", last["operators"])
	}
}

// TestPreviewStatsJoinAndDeadLetters previews a self-join of a Kafka
// topic in which one record does not decode: the last stats message, sent
// at the end, counts the join's matches, the rows still waiting for a
// partner, and the dead letter with its reason.
func TestPreviewStatsJoinAndDeadLetters(t *testing.T) {
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
	base := time.Now().Add(-time.Minute).UnixMilli()
	var recs []*kgo.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d,"amount":1.5,"ts":%d}`, i, base+int64(i)*1000))})
	}
	recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(`{"id":100,"amount":"lots","ts":1}`)})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	e := start(t, web.Config{PreviewStatsEvery: 100 * time.Millisecond})
	src := fmt.Sprintf(`CREATE SOURCE orders (id UInt64, amount Float64, ts DateTime64(3), WATERMARK FOR ts AS ts)
  WITH (connector = 'kafka', brokers = '%s', topic = 'orders', start = 'earliest', idle_timeout = '1s');`, brokers)
	if code, _, fail := e.script("/api/v1/scripts", src); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	stats, end := statsOf(t, e, "SELECT a.id, b.amount FROM orders AS a JOIN orders AS b ON a.id = b.id WITHIN INTERVAL 10 SECOND LIMIT 100", func(s []map[string]any) bool {
		return false
	})
	if end["type"] != "end" || len(stats) == 0 {
		t.Fatalf("preview ended with %v after %d stats", end, len(stats))
	}
	last := stats[len(stats)-1]
	// Both sides read the topic: 101 records each, one dead letter each.
	if num(last, "read") != 202 || num(last, "dead_letters") != 2 || !strings.Contains(fmt.Sprint(last["last_dead_letter"]), "amount") {
		t.Errorf("read %d, dead letters %d (%v), want 202, 2 about amount", num(last, "read"), num(last, "dead_letters"), last["last_dead_letter"])
	}
	// Each row meets itself; the rows within 10 s of the watermark (the
	// last record's time) may still meet a partner.
	if num(last, "join_matches") != 100 || num(last, "emitted") != 100 {
		t.Errorf("join matches %d, emitted %d, want 100", num(last, "join_matches"), num(last, "emitted"))
	}
	if w := num(last, "join_waiting"); w < 2 || w > 2*11 {
		t.Errorf("join waiting %d, want the rows of the last 10 s on both sides", w)
	}

	// A pipeline's metrics say the same.
	sink := fmt.Sprintf("CREATE SINK j WITH (connector = 'file', path = '%s/j.jsonl');\n", t.TempDir()) +
		"CREATE PIPELINE pj AS INSERT INTO j SELECT a.id, b.amount FROM orders AS a JOIN orders AS b ON a.id = b.id WITHIN INTERVAL 10 SECOND;"
	if code, _, fail := e.script("/api/v1/scripts", sink); code != 200 {
		t.Fatalf("apply: %d %v", code, fail)
	}
	waitFor(t, "the pipeline's join and dead letters", func() bool {
		m := e.pipeline("pj").Metrics
		return m != nil && m.JoinMatches == 100 && m.JoinWaiting > 0 && m.DeadLettered == 2 && strings.Contains(m.LastDeadLetter, "amount")
	})
}
