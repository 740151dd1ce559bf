package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkWorkers measures what 1, 2 and 3 `sluice server` processes
// sharing one catalog read together: six pipelines each read the same
// topic of 200 000 records (4 partitions, JSON of four fields) through a
// filter, a projection and a dedup into a blackhole sink, each
// started on a different server in turn so the work is shared from the
// start. Each server is one worker on one core (GOMAXPROCS=1). The time is
// from the STARTs until every pipeline has read every record; records/s
// is the six pipelines' records together.
//
//	SLUICE_TEST_POSTGRES=… go test -run '^$' -bench Workers -benchtime 1x ./cmd/sluice/
func BenchmarkWorkers(b *testing.B) {
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.Setenv("GOMAXPROCS", "1")
			for range b.N {
				benchWorkers(b, workers)
			}
		})
	}
}

func benchWorkers(b *testing.B, workers int) {
	b.StopTimer()
	const pipes, m = 6, 200_000
	c := newCluster(b, 4)
	var nodes []*serverProc
	for i := range workers {
		nodes = append(nodes, c.server(fmt.Sprintf("worker-%d", i)))
	}
	script := fmt.Sprintf(`CREATE SOURCE events (id UInt64, user String, amount Float64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
`, c.brokers)
	for i := range pipes {
		script += fmt.Sprintf(`CREATE SINK void%d WITH (connector = 'blackhole');
CREATE PIPELINE read%d AS INSERT INTO void%d SELECT id, upper(user) AS user, amount * 2 AS amount, ts FROM events WHERE amount > 1 DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;
STOP PIPELINE read%d;
`, i, i, i, i)
	}
	c.apply(nodes[0].url, script)
	for from := 0; from < m; from += 50_000 {
		c.produceEvents(from, from+50_000)
	}
	b.StartTimer()
	start := time.Now()
	for i := range pipes {
		c.apply(nodes[i%workers].url, fmt.Sprintf("START PIPELINE read%d;", i))
	}
	done := func() bool {
		read := map[string]int64{}
		for _, n := range nodes {
			for name, p := range pipelinesOf(b, n.url) {
				if p.Metrics != nil {
					read[name] = p.Metrics.RecordsIn
				}
			}
		}
		for i := range pipes {
			if read[fmt.Sprintf("read%d", i)] < m {
				return false
			}
		}
		return true
	}
	waitUntil(b, "every pipeline to read every record", 5*time.Minute, done)
	d := time.Since(start)
	b.StopTimer()
	owners := map[string]int{}
	for _, p := range pipelinesOf(b, nodes[0].url) {
		owners[p.Owner]++
	}
	b.ReportMetric(float64(pipes*m)/d.Seconds(), "records/s")
	b.Logf("%d workers: %d records in %v; pipelines per worker %v", workers, pipes*m, d.Round(time.Millisecond), owners)
}

// produceEvents writes events [from, to) with four fields, keyed by id.
func (c *cluster) produceEvents(from, to int) {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	base := time.Now().UnixMilli()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Key: fmt.Append(nil, i), Value: fmt.Appendf(nil, `{"id": %d, "user": "user-%d", "amount": %d.5, "ts": %d}`, i, i%1000, i%100, base+int64(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
}
