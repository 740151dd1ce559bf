package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// BenchmarkOnePipelineTasks measures what one pipeline split into six
// tasks (`parallelism = '6'`) reads on 1, 2 and 3 `sluice server` processes
// sharing one catalog, each one worker on one core (GOMAXPROCS=1), and on
// one server given one or two cores. The pipeline reads 200 000 records
// (JSON of four fields, keyed by id) of a 12-partition topic through a
// filter, a projection and a dedup by the record key into a blackhole
// sink. The time is from the START until the tasks together have read
// every record; records/s is the records over that time.
//
//	SLUICE_TEST_POSTGRES=… go test -run '^$' -bench OnePipelineTasks -benchtime 1x ./cmd/sluice/
func BenchmarkOnePipelineTasks(b *testing.B) {
	for _, r := range []struct{ workers, procs int }{{1, 1}, {2, 1}, {3, 1}, {1, 2}} {
		b.Run(fmt.Sprintf("workers=%d/gomaxprocs=%d", r.workers, r.procs), func(b *testing.B) {
			// The servers are child processes: the variable is theirs.
			b.Setenv("GOMAXPROCS", strconv.Itoa(r.procs))
			for range b.N {
				benchTasks(b, r.workers)
			}
		})
	}
}

func benchTasks(b *testing.B, workers int) {
	b.StopTimer()
	const tasks, m = 6, 200_000
	c := newCluster(b, 12)
	var nodes []*serverProc
	for i := range workers {
		nodes = append(nodes, c.server(fmt.Sprintf("worker-%d", i)))
	}
	c.apply(nodes[0].url, fmt.Sprintf(`CREATE SOURCE events (id UInt64, user String, amount Float64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK void WITH (connector = 'blackhole');
CREATE PIPELINE read WITH (parallelism = '%d') AS INSERT INTO void
  SELECT id, upper(user) AS user, amount * 2 AS amount, ts FROM events WHERE amount > 1 DEDUPLICATE BY _key WITHIN INTERVAL 1 MINUTE;
STOP PIPELINE read;
`, c.brokers, tasks))
	for from := 0; from < m; from += 50_000 {
		c.produceEvents(from, from+50_000)
	}
	b.StartTimer()
	start := time.Now()
	c.apply(nodes[0].url, "START PIPELINE read;")
	// Each server's metrics are those of the tasks it runs.
	read := func() (n int64) {
		for _, node := range nodes {
			if v, ok := splitOf(node.url, "read"); ok && v.Metrics != nil {
				n += v.Metrics.RecordsIn
			}
		}
		return n
	}
	waitUntil(b, "the tasks to read every record", 5*time.Minute, func() bool { return read() >= m })
	d := time.Since(start)
	b.StopTimer()
	v, _ := splitOf(nodes[0].url, "read")
	per, moved := map[string]int{}, 0
	for _, tk := range v.Tasks {
		per[tk.Owner]++
		if tk.LeaseEpoch > 1 {
			moved++ // a task handed over while reading: its new run counts from its checkpoint
		}
	}
	b.ReportMetric(float64(m)/d.Seconds(), "records/s")
	b.Logf("%d workers: %d records in %v; tasks per worker %v; tasks moved %d", workers, m, d.Round(time.Millisecond), per, moved)
}
