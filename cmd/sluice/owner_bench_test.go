package main

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWorkers measures what 1, 2 and 3 `sluice server` processes
// sharing one catalog read together: six pipelines each read the same
// topic of 200 000 records (4 partitions, JSON) into a blackhole sink, each
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
	script := fmt.Sprintf("CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');\n", c.brokers)
	for i := range pipes {
		script += fmt.Sprintf("CREATE SINK void%d WITH (connector = 'blackhole');\nCREATE PIPELINE read%d AS INSERT INTO void%d SELECT id FROM events;\nSTOP PIPELINE read%d;\n", i, i, i, i)
	}
	c.apply(nodes[0].url, script)
	for from := 0; from < m; from += 50_000 {
		c.produce(from, from+50_000)
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
