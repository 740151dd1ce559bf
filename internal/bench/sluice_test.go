package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	_ "github.com/sluice-sql/sluice/connectors/all" // the kafka source and clickhouse sink
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// eventsSource declares the events topic as the benchmarks read it: the
// same four fields the baseline decodes.
const eventsSource = `
CREATE SOURCE events (
    event_id String NOT NULL,
    seq      UInt64 NOT NULL,
    user_id  UInt64 NOT NULL,
    ts       DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = '%s', topic = 'events', format = 'json');
`

// sinkSQL is the sink of every benchmark: 100 k-row inserts, like the
// baseline's.
const sinkSQL = `
CREATE SINK out WITH (connector = 'clickhouse', url = '%s', table = '%s',
    create_table = 'true', batch_size = '100000');
`

// BenchmarkSluiceDedup runs the events topic through
// DEDUPLICATE BY event_id WITHIN INTERVAL 1 MINUTE into ClickHouse: the
// baseline's work plus Sluice's decoding, dedup state, batching and
// checkpoint barriers. Exactly the originals (4 of 5 events) are written.
func BenchmarkSluiceDedup(b *testing.B) {
	url := clickhouseURL(b)
	n := numEvents(b)
	d := eventsTopic(b, n)
	benchSluice(b, url, n, int64(d.kept), func(table string) string {
		return fmt.Sprintf(eventsSource, d.addr) + fmt.Sprintf(sinkSQL, url, table) + `
CREATE PIPELINE bench AS
INSERT INTO out
SELECT event_id, seq, user_id, ts
FROM events
DEDUPLICATE BY event_id WITHIN INTERVAL 1 MINUTE;`
	})
}

// BenchmarkSluiceJoin runs an interval join of two topics of n/2 events
// each (orders, and one payment per order less than 30 s after it): both
// sides are held in join state until the watermark passes them. Every
// order is written once, with its payment.
func BenchmarkSluiceJoin(b *testing.B) {
	url := clickhouseURL(b)
	n := numEvents(b)
	d := joinTopics(b, n)
	benchSluice(b, url, 2*d.orders, int64(d.orders), func(table string) string {
		return fmt.Sprintf(`
CREATE SOURCE orders (
    order_id String NOT NULL, user_id UInt64 NOT NULL, amount Float64 NOT NULL,
    ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'orders', format = 'json');
CREATE SOURCE payments (
    order_id String NOT NULL, method String NOT NULL, ts DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'payments', format = 'json');
`, d.addr) + fmt.Sprintf(sinkSQL, url, table) + `
CREATE PIPELINE bench AS
INSERT INTO out
SELECT o.order_id, o.user_id, o.amount, p.method, o.ts AS order_ts, p.ts AS paid_ts
FROM orders AS o
JOIN payments AS p ON o.order_id = p.order_id WITHIN INTERVAL 1 MINUTE;`
	})
}

// BenchmarkSluiceWindow counts the events topic per user in 10-second
// tumbling windows: little output, so it measures decoding and
// aggregation. Only windows the watermark closed during the run are
// written, so the row count is not checked against a number.
func BenchmarkSluiceWindow(b *testing.B) {
	url := clickhouseURL(b)
	n := numEvents(b)
	d := eventsTopic(b, n)
	benchSluice(b, url, n, -1, func(table string) string {
		return fmt.Sprintf(eventsSource, d.addr) + fmt.Sprintf(sinkSQL, url, table) + `
CREATE PIPELINE bench AS
INSERT INTO out
SELECT window_start, user_id, COUNT(*) AS events
FROM events
GROUP BY TUMBLE(ts, INTERVAL 10 SECOND), user_id;`
	})
}

// benchSluice runs, b.N times, the pipeline "bench" of the script that
// script makes for a new table, over events input events on a new
// consumer group; want is the rows it must write, or -1 for any number.
func benchSluice(b *testing.B, url string, events int, want int64, script func(table string) string) {
	conn := checkConn(b, url)
	m := newMeter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		table := uniqueName("sluice")
		p := plan(b, script(table), b.TempDir())
		b.StartTimer()
		m.begin()
		s := runUntilConsumed(b, p, events)
		m.end(events)
		b.StopTimer()
		if want >= 0 && s.RowsWritten != want {
			b.Fatalf("the pipeline wrote %d rows, want %d", s.RowsWritten, want)
		}
		m.wrote(s.RowsWritten)
		finishTable(b, conn, table, s.RowsWritten, s.PossibleDuplicates)
		b.StartTimer()
	}
	m.report()
}

// plan applies script to a new in-memory catalog, as `sluice run` does,
// and prepares its pipeline "bench" with a consumer group of its own and
// checkpoints in stateDir: the server and `sluice run` always keep
// checkpoints, so their cost (state snapshots, fsync) is part of the
// measurement.
func plan(b *testing.B, script, stateDir string) *runtime.Pipeline {
	b.Helper()
	cat := planner.NewMem()
	if _, errs := planner.ApplyScript(script, cat); len(errs) > 0 {
		b.Fatalf("plan:\n%s", errs.Render(script))
	}
	obj, ok := cat.Lookup("bench")
	if !ok || obj.Pipeline == nil {
		b.Fatal("the script has no pipeline named bench")
	}
	p, err := runtime.NewPipeline(obj.Pipeline.Graph, runtime.Options{
		GroupID: uniqueName("group"),
		Store:   &runtime.FileCheckpointStore{Dir: stateDir},
	})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// runUntilConsumed runs p until its sources have handed events rows (or
// dead letters) to the operators, then stops it as a server does, by
// cancelling its context: the stop writes every row produced so far,
// checkpoints and commits. Stopping rather than waiting for the last
// partial batch to reach its flush_interval keeps that wait (up to 1 s by
// default) out of the measurement, as the baseline writes its last batch
// as soon as it has read everything. It returns the pipeline's counters.
func runUntilConsumed(b *testing.B, p *runtime.Pipeline, events int) runtime.Stats {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	var firstRows time.Duration // until the operators see the first rows: opening sources and sink
	go func() { done <- p.Run(ctx) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Minute)
	for consumed := int64(0); consumed < int64(events); {
		select {
		case err := <-done:
			b.Fatalf("the pipeline stopped after %d of %d events: %v", consumed, events, err)
		case <-timeout:
			cancel()
			<-done
			b.Fatalf("the pipeline consumed %d of %d events in 10 minutes", consumed, events)
		case <-tick.C:
			s := p.Stats()
			consumed = s.DeadLettered
			for _, op := range s.Operators {
				if op.Kind == dag.KindSource {
					consumed += op.RowsIn
				}
			}
			if consumed > 0 && firstRows == 0 {
				firstRows = time.Since(start)
			}
		}
	}
	consumedAt := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	s := p.Stats()
	if testing.Verbose() {
		b.Logf("first rows after %v, all consumed after %v, stopped after %v; %d inserts of %.0f rows on average, %v each; %d checkpoints",
			firstRows.Round(time.Millisecond), consumedAt.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
			s.BatchesWritten, float64(s.RowsWritten)/float64(max(s.BatchesWritten, 1)), s.SinkLatency.Round(time.Millisecond), s.Checkpoints)
	}
	if s.DeadLettered != 0 {
		b.Fatalf("%d events went to the dead-letter topic", s.DeadLettered)
	}
	return s
}
