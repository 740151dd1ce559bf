package bench

// Latency benchmarks: a producer at a fixed rate stamps each record with
// the time it hands it to its Kafka client ("sent", Unix nanoseconds); the
// pipeline carries the stamp through; a reader of the destination takes
// the time it sees each row. The latency of a row is the difference:
// produce to visible, as a user measures it. See docs/benchmarks.md.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/runtime"
)

// latencyParams: how long each measurement runs, the part of it that
// warms up (not measured), and the fixed rate (events/s; env
// SLUICE_LATENCY_RATE, default 20,000).
func latencyParams(b *testing.B) (run, warm time.Duration, rate int) {
	run, warm, rate = 10*time.Second, 2*time.Second, 20_000
	if v := os.Getenv("SLUICE_LATENCY_SECONDS"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 3 {
			b.Fatalf("SLUICE_LATENCY_SECONDS=%q: want a whole number of seconds ≥ 3", v)
		}
		run = time.Duration(s) * time.Second
	}
	if v := os.Getenv("SLUICE_LATENCY_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 100 {
			b.Fatalf("SLUICE_LATENCY_RATE=%q: want events per second ≥ 100", v)
		}
		rate = r
	}
	return run, warm, rate
}

// latencyBroker starts a kfake cluster of its own with 4-partition topics.
func latencyBroker(b *testing.B, topics ...string) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topics...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// latencies collects per-row latencies after the warm-up.
type latencies struct {
	mu    sync.Mutex
	from  int64 // sent stamps before this are warm-up
	ns    []int64
	seen  atomic.Int64
	extra atomic.Int64 // rows seen more than once
	ids   map[int64]bool
}

func (l *latencies) add(sent, now int64) {
	l.seen.Add(1)
	if sent < l.from {
		return
	}
	l.mu.Lock()
	if l.ids[sent] {
		l.extra.Add(1)
	} else {
		l.ids[sent] = true
		l.ns = append(l.ns, now-sent)
	}
	l.mu.Unlock()
}

// report computes p50, p99 and max in milliseconds.
func (l *latencies) report(b *testing.B, produced int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ns) == 0 {
		b.Fatal("no row was measured")
	}
	slices.Sort(l.ns)
	q := func(p float64) float64 { return float64(l.ns[int(p*float64(len(l.ns)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(l.ns[len(l.ns)-1])/1e6, "max-ms")
	b.ReportMetric(float64(len(l.ns)), "rows-measured")
	b.ReportMetric(loadAvg(), "load1")
	b.Logf("%d rows measured of %d produced (after a warm-up); p50 %.1f ms, p99 %.1f ms, max %.1f ms; load average %.2f",
		len(l.ns), produced, q(0.5), q(0.99), float64(l.ns[len(l.ns)-1])/1e6, loadAvg())
}

func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var f float64
	fmt.Sscanf(string(raw), "%f", &f)
	return f
}

// produceAtRate produces rate events per second (in 1 ms ticks) until ctx
// ends; mk makes the records of event i stamped with sent. It returns the
// events produced.
func produceAtRate(ctx context.Context, b *testing.B, addr string, rate int, mk func(i int64, sent int64) []*kgo.Record) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	var i int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cl.Flush(context.Background())
			return i
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(rate))
		for ; i < due; i++ {
			now := time.Now().UnixNano()
			for _, r := range mk(i, now) {
				cl.Produce(ctx, r, nil)
			}
		}
	}
}

// readKafka reads topic out and records each row's latency by its "sent"
// field, read_committed or not, until ctx ends.
func readKafka(ctx context.Context, b *testing.B, addr, topic string, committed bool, l *latencies) {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Error(err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now().UnixNano()
		fs.EachRecord(func(r *kgo.Record) {
			var row struct{ Sent int64 }
			if json.Unmarshal(r.Value, &row) == nil {
				l.add(row.Sent, now)
			}
		})
	}
}

// runLatency plans script's pipeline "bench" and runs it while
// produce/read run, for run; it stops everything and reports.
func runLatency(b *testing.B, script string, opts runtime.Options, run, warm time.Duration,
	produce func(ctx context.Context) int64, read func(ctx context.Context, l *latencies)) {
	cat := planner.NewMem()
	if _, errs := planner.ApplyScript(script, cat); len(errs) > 0 {
		b.Fatalf("plan:\n%s", errs.Render(script))
	}
	obj, _ := cat.Lookup("bench")
	if opts.Store == nil {
		opts.Store = &runtime.FileCheckpointStore{Dir: b.TempDir()}
	}
	opts.GroupID = uniqueName("latency")
	p, err := runtime.NewPipeline(obj.Pipeline.Graph, opts)
	if err != nil {
		b.Fatal(err)
	}
	l := &latencies{ids: map[int64]bool{}, from: time.Now().Add(warm).UnixNano()}
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	rctx, rcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); read(rctx, l) }()
	prodCtx, prodCancel := context.WithTimeout(context.Background(), run)
	defer prodCancel()
	produced := produce(prodCtx)
	// Rows of the last events may still be on their way.
	time.Sleep(2*time.Second + opts.CheckpointInterval)
	rcancel()
	wg.Wait()
	pcancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n := l.extra.Load(); n > 0 {
		b.Logf("%d rows seen twice", n)
	}
	l.report(b, produced)
}

const latencyEvents = `
CREATE SOURCE events (
    id String NOT NULL, seq UInt64 NOT NULL, sent Int64 NOT NULL,
    ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND
) WITH (connector = 'kafka', brokers = '%s', topic = 'events', format = 'json', idle_timeout = '1s');
`

func eventRecord(i, sent int64) []*kgo.Record {
	// A fifth of the ids repeat the id of 5 events earlier: dropped.
	id := i
	if i%5 == 4 {
		id = i - 5
	}
	v := fmt.Appendf(nil, `{"id":"e%d","seq":%d,"sent":%d,"ts":%q,"payload":"lorem ipsum dolor sit amet"}`,
		id, i, sent, time.Unix(0, sent).UTC().Format("2006-01-02T15:04:05.000Z"))
	return []*kgo.Record{{Topic: "events", Key: fmt.Appendf(nil, "e%d", id), Value: v}}
}

func createTopic(b *testing.B, addr, topic string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 4, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLatencyKafkaDedup: Kafka → DEDUPLICATE BY → Kafka, at least
// once and exactly once (read_committed reader).
func BenchmarkLatencyKafkaDedup(b *testing.B) {
	run, warm, rate := latencyParams(b)
	for _, delivery := range []string{"at_least_once", "exactly_once"} {
		b.Run(fmt.Sprintf("rate=%d/delivery=%s", rate, delivery), func(b *testing.B) {
			for range b.N {
				addr := latencyBroker(b, "events")
				out := uniqueName("out")
				createTopic(b, addr, out)
				script := fmt.Sprintf(latencyEvents, addr) + fmt.Sprintf(`
CREATE SINK out WITH (connector = 'kafka', brokers = '%s', topic = '%s', key = 'id', delivery = '%s');
CREATE PIPELINE bench AS INSERT INTO out SELECT id, seq, sent FROM events DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;`,
					addr, out, delivery)
				runLatency(b, script, runtime.Options{CheckpointInterval: time.Second}, run, warm,
					func(ctx context.Context) int64 { return produceAtRate(ctx, b, addr, rate, eventRecord) },
					func(ctx context.Context, l *latencies) { readKafka(ctx, b, addr, out, delivery == "exactly_once", l) })
			}
		})
	}
}

// BenchmarkLatencyKafkaJoin: Kafka → interval JOIN → Kafka. Each event
// is an order and its payment, produced together; the joined row's
// latency counts from the payment.
func BenchmarkLatencyKafkaJoin(b *testing.B) {
	run, warm, rate := latencyParams(b)
	b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
		for range b.N {
			addr := latencyBroker(b, "orders", "payments")
			out := uniqueName("out")
			createTopic(b, addr, out)
			script := fmt.Sprintf(`
CREATE SOURCE orders (order_id String NOT NULL, amount Float64 NOT NULL, ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'kafka', brokers = '%[1]s', topic = 'orders', idle_timeout = '1s');
CREATE SOURCE payments (order_id String NOT NULL, sent Int64 NOT NULL, ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'kafka', brokers = '%[1]s', topic = 'payments', idle_timeout = '1s');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = '%[2]s', key = 'order_id');
CREATE PIPELINE bench AS INSERT INTO out
SELECT o.order_id, o.amount, p.sent FROM orders AS o
JOIN payments AS p ON o.order_id = p.order_id WITHIN INTERVAL 1 MINUTE;`, addr, out)
			// rate events/s: half orders, half payments.
			mk := func(i, sent int64) []*kgo.Record {
				ts := time.Unix(0, sent).UTC().Format("2006-01-02T15:04:05.000Z")
				if i%2 == 0 {
					return []*kgo.Record{{Topic: "orders", Key: fmt.Appendf(nil, "o%d", i/2),
						Value: fmt.Appendf(nil, `{"order_id":"o%d","amount":12.5,"ts":%q}`, i/2, ts)}}
				}
				return []*kgo.Record{{Topic: "payments", Key: fmt.Appendf(nil, "o%d", i/2),
					Value: fmt.Appendf(nil, `{"order_id":"o%d","sent":%d,"ts":%q}`, i/2, sent, ts)}}
			}
			runLatency(b, script, runtime.Options{CheckpointInterval: time.Second}, run, warm,
				func(ctx context.Context) int64 { return produceAtRate(ctx, b, addr, rate, mk) },
				func(ctx context.Context, l *latencies) { readKafka(ctx, b, addr, out, false, l) })
		}
	})
}

// BenchmarkLatencyClickHouse: Kafka → DEDUPLICATE BY → ClickHouse at
// flush_interval 200 ms and 1 s. A row is visible when a query every
// 20 ms finds it.
func BenchmarkLatencyClickHouse(b *testing.B) {
	url := clickhouseURL(b)
	run, warm, rate := latencyParams(b)
	for _, flush := range []string{"200ms", "1s"} {
		b.Run(fmt.Sprintf("rate=%d/flush_interval=%s", rate, flush), func(b *testing.B) {
			conn := checkConn(b, url)
			for range b.N {
				addr := latencyBroker(b, "events")
				table := uniqueName("latency")
				script := fmt.Sprintf(latencyEvents, addr) + fmt.Sprintf(`
CREATE SINK out WITH (connector = 'clickhouse', url = '%s', table = '%s', create_table = 'true', flush_interval = '%s');
CREATE PIPELINE bench AS INSERT INTO out SELECT id, seq, sent FROM events DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;`,
					url, table, flush)
				read := func(ctx context.Context, l *latencies) {
					var last int64 = -1
					seen := map[uint64]bool{}
					tick := time.NewTicker(20 * time.Millisecond)
					defer tick.Stop()
					for ctx.Err() == nil {
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
						}
						// Rows of one insert come from all partitions: look
						// a second of events back, skipping rows seen.
						rows, err := conn.Query(ctx, fmt.Sprintf("SELECT seq, sent FROM %s WHERE seq > %d", table, last-int64(rate)))
						if err != nil {
							continue // the table is not created yet
						}
						now := time.Now().UnixNano()
						for rows.Next() {
							var seq uint64
							var sent int64
							if rows.Scan(&seq, &sent) == nil && !seen[seq] {
								seen[seq] = true
								l.add(sent, now)
								last = max(last, int64(seq))
							}
						}
						rows.Close()
					}
				}
				runLatency(b, script, runtime.Options{}, run, warm,
					func(ctx context.Context) int64 { return produceAtRate(ctx, b, addr, rate, eventRecord) }, read)
				conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
			}
		})
	}
}

// BenchmarkKafkaDedupThroughput is the most events/s Kafka → DEDUPLICATE
// BY → Kafka (at least once) sustains here: the topic is produced first,
// then one run consumes it all. Half of it is the second rate of the
// latency benchmarks (SLUICE_LATENCY_RATE).
func BenchmarkKafkaDedupThroughput(b *testing.B) {
	const n = 300_000
	addr := latencyBroker(b, "events")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	now := time.Now().UnixNano()
	for i := int64(0); i < n; i++ {
		recs = append(recs, eventRecord(i, now+i*50_000)...)
		if len(recs) == 10_000 {
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	cl.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		out := uniqueName("out")
		createTopic(b, addr, out)
		script := fmt.Sprintf(latencyEvents, addr) + fmt.Sprintf(`
CREATE SINK out WITH (connector = 'kafka', brokers = '%s', topic = '%s', key = 'id');
CREATE PIPELINE bench AS INSERT INTO out SELECT id, seq, sent FROM events DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;`, addr, out)
		cat := planner.NewMem()
		if _, errs := planner.ApplyScript(script, cat); len(errs) > 0 {
			b.Fatalf("plan:\n%s", errs.Render(script))
		}
		obj, _ := cat.Lookup("bench")
		p, err := runtime.NewPipeline(obj.Pipeline.Graph, runtime.Options{GroupID: uniqueName("group"),
			Store: &runtime.FileCheckpointStore{Dir: b.TempDir()}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		b.StartTimer()
		runUntilConsumed(b, p, n)
		b.StopTimer()
		b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(loadAvg(), "load1")
	}
}
