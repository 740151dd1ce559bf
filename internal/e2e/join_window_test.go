package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

func ts(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z07:00") }

// joinData makes orders and payments over the cases of an interval join:
// partners inside the window, before and after the left row, exactly at its
// edge, outside it, arriving late, several partners and none. It returns the
// records in produce order and the rows INNER and LEFT joins must write.
func joinData() (orders, payments []msg, inner, left []string) {
	type pay struct {
		order, method string
		at            time.Time
		arrive        time.Time // when, in event time, the payment is produced
	}
	type order struct {
		id string
		at time.Time
	}
	var os []order
	var ps []pay
	for i := 0; i < 300; i++ {
		o := order{id: fmt.Sprintf("o%03d", i), at: t0.Add(time.Duration(i) * 5 * time.Second)}
		os = append(os, o)
		add := func(d time.Duration, method string, late time.Duration) {
			at := o.at.Add(d)
			ps = append(ps, pay{order: o.id, method: method, at: at, arrive: at.Add(late)})
		}
		switch i % 6 {
		case 0:
			add(10*time.Second, "card", 0)
		case 1:
			add(2*time.Minute, "cash", 0) // outside the window: no partner
		case 2:
			add(-30*time.Second, "wire", 0) // before the order
		case 3:
			add(5*time.Second, "card", 0)
			add(time.Minute, "card-edge", 0) // exactly the interval apart: a match
		case 4:
			// no payment at all
		case 5:
			add(20*time.Second, "late", 30*time.Second) // arrives after later events
		}
	}
	// The sentinel pair moves every watermark past the data so that LEFT
	// rows without a partner are emitted.
	sentinel := t0.Add(2 * time.Hour)
	os = append(os, order{id: "sentinel", at: sentinel})
	ps = append(ps, pay{order: "sentinel", method: "sentinel", at: sentinel, arrive: sentinel})

	for _, o := range os {
		var matched bool
		for _, p := range ps {
			d := p.at.Sub(o.at)
			if p.order == o.id && d <= time.Minute && d >= -time.Minute {
				matched = true
				inner = append(inner, o.id+"|"+p.method)
				left = append(left, o.id+"|"+p.method)
			}
		}
		if !matched && o.id != "sentinel" {
			left = append(left, o.id+"|NULL")
		}
	}
	sort.Strings(inner)
	sort.Strings(left)
	for _, o := range os {
		orders = append(orders, msg{key: o.id, value: fmt.Sprintf(`{"order_id":%q,"amount":%d.5,"ts":%q}`, o.id, len(o.id), ts(o.at))})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].arrive.Before(ps[j].arrive) })
	for _, p := range ps {
		payments = append(payments, msg{key: p.order, value: fmt.Sprintf(`{"order_id":%q,"method":%q,"ts":%q}`, p.order, p.method, ts(p.at))})
	}
	return orders, payments, inner, left
}

func joinedRows(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT order_id, method FROM "+table)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var method *string
		if err := rows.Scan(&id, &method); err != nil {
			t.Fatalf("scan: %v", err)
		}
		m := "NULL"
		if method != nil {
			m = *method
		}
		out = append(out, id+"|"+m)
	}
	sort.Strings(out)
	return out
}

func diffRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	g, w := map[string]int{}, map[string]int{}
	for _, r := range got {
		g[r]++
	}
	for _, r := range want {
		w[r]++
	}
	var extra, missing []string
	for r, n := range g {
		if n > w[r] {
			extra = append(extra, fmt.Sprintf("%s ×%d", r, n-w[r]))
		}
	}
	for r, n := range w {
		if n > g[r] {
			missing = append(missing, fmt.Sprintf("%s ×%d", r, n-g[r]))
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	t.Errorf("%s: %d rows, want %d; missing %v; unexpected %v", what, len(got), len(want), missing[:min(len(missing), 10)], extra[:min(len(extra), 10)])
}

func TestIntervalJoin(t *testing.T) {
	conn := ch(t)
	innerT := chTable(t, conn, "join_inner")
	leftT := chTable(t, conn, "join_left")
	_, addr := broker(t, 2, "orders", "payments")
	orders, payments, inner, left := joinData()
	cl := producer(t, addr)
	// Payments first, then orders, except the sentinel order last: the join
	// must hold rows of either side until their partner arrives.
	produce(t, cl, "payments", payments[:len(payments)/2])
	produce(t, cl, "orders", orders[:len(orders)-1])
	produce(t, cl, "payments", payments[len(payments)/2:])

	script := fmt.Sprintf(`
CREATE SOURCE orders (order_id String NOT NULL, amount Float64, ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
WITH (connector = 'kafka', brokers = '%[1]s', topic = 'orders', format = 'json', idle_timeout = '3s');
CREATE SOURCE payments (order_id String NOT NULL, method String, ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
WITH (connector = 'kafka', brokers = '%[1]s', topic = 'payments', format = 'json', idle_timeout = '3s');
CREATE SINK inner_out WITH (connector = 'clickhouse', url = '%[2]s', table = '%[3]s', create_table = 'true', flush_interval = '200ms');
CREATE SINK left_out WITH (connector = 'clickhouse', url = '%[2]s', table = '%[4]s', create_table = 'true', flush_interval = '200ms');

CREATE PIPELINE paid_orders AS
INSERT INTO inner_out
SELECT o.order_id, p.method, o.amount, o.ts AS order_ts
FROM orders AS o
JOIN payments AS p ON o.order_id = p.order_id WITHIN INTERVAL 1 MINUTE;

CREATE PIPELINE all_orders AS
INSERT INTO left_out
SELECT o.order_id, p.method, o.amount, o.ts AS order_ts
FROM orders AS o
LEFT JOIN payments AS p ON o.order_id = p.order_id WITHIN INTERVAL 1 MINUTE;
`, addr, clickhouseURL(t), innerT, leftT)
	r := startRun(t, script, t.TempDir())
	waitCount(t, conn, innerT, uint64(len(inner)-1), 60*time.Second)
	produce(t, cl, "orders", orders[len(orders)-1:])
	tryWaitCount(t, conn, innerT, uint64(len(inner)), 60*time.Second)
	tryWaitCount(t, conn, leftT, uint64(len(left)), 30*time.Second)
	time.Sleep(time.Second)
	r.stop()
	diffRows(t, "INNER JOIN", joinedRows(t, conn, innerT), inner)
	diffRows(t, "LEFT JOIN", joinedRows(t, conn, leftT), left)
}

func TestTumblingWindowWithHaving(t *testing.T) {
	conn := ch(t)
	table := chTable(t, conn, "views")
	_, addr := broker(t, 2, "pageviews")
	rng := rand.New(rand.NewSource(5))
	type key struct {
		start time.Time
		page  string
	}
	counts := map[key]int{}
	var msgs []msg
	for i := 0; i < 5000; i++ {
		at := t0.Add(time.Duration(i) * 120 * time.Millisecond) // ten minutes
		page := fmt.Sprintf("/p%d", rng.Intn(40))
		counts[key{at.Truncate(time.Minute), page}]++
		msgs = append(msgs, msg{key: page, value: fmt.Sprintf(`{"page":%q,"user_id":%d,"ts":%q}`, page, rng.Intn(100), ts(at))})
	}
	var want []string
	for k, n := range counts {
		if n >= 15 {
			want = append(want, fmt.Sprintf("%s|%s|%d", k.start.Format("15:04:05"), k.page, n))
		}
	}
	sort.Strings(want)
	if len(want) < 10 || len(want) == len(counts) {
		t.Fatalf("generator: %d groups pass HAVING of %d", len(want), len(counts))
	}
	cl := producer(t, addr)
	produce(t, cl, "pageviews", msgs)
	// The sentinel closes every window of the data.
	produce(t, cl, "pageviews", []msg{{key: "/p0", value: fmt.Sprintf(`{"page":"/p0","user_id":1,"ts":%q}`, ts(t0.Add(time.Hour)))}})

	script := fmt.Sprintf(`
CREATE SOURCE pageviews (page String, user_id UInt32, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL 2 SECONDS)
WITH (connector = 'kafka', brokers = '%s', topic = 'pageviews', format = 'json', idle_timeout = '1s');
CREATE SINK views WITH (connector = 'clickhouse', url = '%s', table = '%s', create_table = 'true', flush_interval = '200ms');
CREATE PIPELINE views_per_minute AS
INSERT INTO views
SELECT window_start, page, COUNT(*) AS views
FROM pageviews
GROUP BY TUMBLE(ts, INTERVAL 1 MINUTE), page
HAVING COUNT(*) >= 15;
`, addr, clickhouseURL(t), table)
	r := startRun(t, script, t.TempDir())
	tryWaitCount(t, conn, table, uint64(len(want)), 60*time.Second)

	// A row for a window that was already emitted is late: dropped, counted.
	produce(t, cl, "pageviews", []msg{{key: "/p1", value: fmt.Sprintf(`{"page":"/p1","user_id":1,"ts":%q}`, ts(t0.Add(10*time.Second)))}})
	deadline := time.Now().Add(20 * time.Second)
	for r.counter("late") < 1 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	r.stop()
	if got := r.counter("late"); got != 1 {
		t.Errorf("late = %d, want 1", got)
	}

	rows, err := conn.Query(context.Background(), "SELECT window_start, page, views FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var start time.Time
		var page string
		var views uint64
		if err := rows.Scan(&start, &page, &views); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%s|%d", start.UTC().Format("15:04:05"), page, views))
	}
	sort.Strings(got)
	diffRows(t, "TUMBLE … HAVING", got, want)
}

func TestBadInputGoesToTheDeadLetterTopic(t *testing.T) {
	conn := ch(t)
	table := chTable(t, conn, "bad_input")
	_, addr := broker(t, 2, "events", "events_dlq")
	good, _ := dedupEvents(2000, 0, 6)
	type bad struct{ value, reason string }
	bads := []bad{
		{`{"event_id":"b1","seq":1000001,"ts":"2026-01-01T00:00:00Z"`, "json"}, // cut short
		{`not json at all`, "json"}, // not JSON
		{`[1, 2, 3]`, "object"},     // not an object
		{`{"event_id":"b2","seq":"abc","ts":"2026-01-01T00:00:00Z"}`, "seq"},                                         // string for a number
		{`{"event_id":"b3","seq":1000003,"user_id":-5,"ts":"2026-01-01T00:00:00Z"}`, "user_id"},                      // negative UInt64
		{`{"seq":1000004,"ts":"2026-01-01T00:00:00Z"}`, "event_id"},                                                  // NOT NULL missing
		{`{"event_id":null,"seq":1000005,"ts":"2026-01-01T00:00:00Z"}`, "event_id"},                                  // NOT NULL null
		{`{"event_id":"b6","seq":1000006,"ts":"yesterday"}`, "ts"},                                                   // bad time
		{`{"event_id":"b7","seq":1000007,"ts":"2026-01-01T00:00:00Z","user_id":1.5}`, "user_id"},                     // float for an integer
		{`{"event_id":"b8","seq":1000008,"ts":"2026-01-01T00:00:00Z","user_id":99999999999999999999999}`, "user_id"}, // out of range
	}
	var msgs []msg
	want := map[uint64]bool{}
	for i, e := range good {
		msgs = append(msgs, msg{key: e.id, value: e.json()})
		want[e.seq] = true
		if i%200 == 0 && i/200 < len(bads) {
			msgs = append(msgs, msg{value: bads[i/200].value})
		}
	}
	produce(t, producer(t, addr), "events", msgs)

	r := startRun(t, dedupScript(addr, clickhouseURL(t), table, ", dlq_topic = 'events_dlq'"), t.TempDir())
	waitCount(t, conn, table, uint64(len(want)), 60*time.Second)
	dead := consumeAll(t, addr, "events_dlq", len(bads), 30*time.Second)
	time.Sleep(time.Second)
	r.stop()
	if dups := checkSeqs(t, conn, table, want); dups != 0 {
		t.Fatalf("%d duplicate rows", dups)
	}
	if len(dead) != len(bads) {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dead), len(bads))
	}
	byValue := map[string]string{}
	for _, rec := range dead {
		for _, h := range rec.Headers {
			if h.Key == "sluice.error" {
				byValue[string(rec.Value)] = string(h.Value)
			}
		}
	}
	for _, b := range bads {
		reason, ok := byValue[b.value]
		if !ok {
			t.Errorf("record %s is not in the dead-letter topic with its original bytes and a sluice.error header", b.value)
			continue
		}
		if !strings.Contains(strings.ToLower(reason), b.reason) {
			t.Errorf("record %s: reason %q does not mention %q", b.value, reason, b.reason)
		}
	}
	if got := r.counter("dlq"); got != int64(len(bads)) {
		t.Errorf("dlq counter = %d, want %d", got, len(bads))
	}
}
