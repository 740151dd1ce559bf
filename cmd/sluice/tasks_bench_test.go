package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkOnePipelineTasks measures what one pipeline split into six
// tasks (`parallelism = '6'`) reads on 1, 2 and 3 `sluice server` processes
// sharing one catalog, each one worker on one core (GOMAXPROCS=1), and on
// one server given one or two cores. The pipeline reads 600 000 records
// (JSON of four fields, keyed by id) of a 12-partition topic through a
// filter, a projection and a dedup by the record key into a blackhole
// sink. The records are committed to the topic in one Kafka transaction
// once the tasks have settled on the workers; the time is from the commit
// until the tasks together have read every record, and records/s is the
// records over that time.
//
//	SLUICE_TEST_POSTGRES=… go test -run '^$' -bench OnePipelineTasks -benchtime 1x ./cmd/sluice/
func BenchmarkOnePipelineTasks(b *testing.B) {
	for _, r := range []struct{ workers, procs int }{{1, 1}, {2, 1}, {3, 1}, {1, 2}} {
		b.Run(fmt.Sprintf("workers=%d/gomaxprocs=%d", r.workers, r.procs), func(b *testing.B) {
			// The servers are child processes: the variable is theirs.
			b.Setenv("GOMAXPROCS", strconv.Itoa(r.procs))
			for range b.N {
				benchTasks(b, r.workers, "_key", "")
			}
		})
	}
}

// BenchmarkOnePipelineStage measures what a repartition stage costs: the
// pipeline of BenchmarkOnePipelineTasks deduplicating by the payload
// column id instead of the record key, so Sluice adds a stage of six
// tasks that writes the filtered rows, keyed by id, to an internal topic
// with exactly-once transactions, which the pipeline's tasks read
// (read_committed) — next to the same pipeline deduplicating by _key, in
// the same run, on 1 and 2 workers of one core and on one worker of two.
// Both checkpoint every second (`checkpoint_interval = '1s'`): the stage's
// rows reach the pipeline when its transaction commits, at its
// checkpoints, so the default five seconds would add up to five seconds
// of waiting to every run. The time is from the commit of the input until
// the pipeline's tasks have read every row that passes the filter (the
// stage's rows, or the source's records with _key).
//
//	SLUICE_TEST_POSTGRES=… go test -run '^$' -bench OnePipelineStage -benchtime 1x -count 3 -timeout 30m ./cmd/sluice/
func BenchmarkOnePipelineStage(b *testing.B) {
	for _, r := range []struct{ workers, procs int }{{1, 1}, {2, 1}, {1, 2}} {
		// The two variants alternate, so both see the machine's load of the moment.
		for _, key := range []string{"_key", "id"} {
			b.Run(fmt.Sprintf("workers=%d/gomaxprocs=%d/by=%s", r.workers, r.procs, key), func(b *testing.B) {
				b.Setenv("GOMAXPROCS", strconv.Itoa(r.procs))
				for range b.N {
					benchTasks(b, r.workers, key, "1s")
				}
			})
		}
	}
}

// benchTasks runs one measurement of the pipeline deduplicating by key
// (_key, or a column, which adds a repartition stage) with the given
// checkpoint_interval ("" for the default).
func benchTasks(b *testing.B, workers int, key, checkpoint string) {
	b.StopTimer()
	const tasks, m = 6, 600_000
	with := fmt.Sprintf("parallelism = '%d'", tasks)
	if checkpoint != "" {
		with += fmt.Sprintf(", checkpoint_interval = '%s'", checkpoint)
	}
	// A stage runs as many tasks as the pipeline, and a server's share
	// counts both.
	units, want := tasks, int64(m)
	if key != "_key" {
		// The stage applies the filter (amount > 1 drops every id
		// ending in 00), and the pipeline reads only the rows it wrote.
		units, want = 2*tasks, m-m/100
	}
	c := newCluster(b, 12)
	var nodes []*serverProc
	for i := range workers {
		nodes = append(nodes, c.server(fmt.Sprintf("worker-%d", i)))
	}
	c.apply(nodes[0].url, fmt.Sprintf(`CREATE SOURCE events (id UInt64, user String, amount Float64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK void WITH (connector = 'blackhole');
CREATE PIPELINE read WITH (%s) AS INSERT INTO void
  SELECT id, upper(user) AS user, amount * 2 AS amount, ts FROM events WHERE amount > 1 DEDUPLICATE BY %s WITHIN INTERVAL 1 MINUTE;
`, c.brokers, with, key))
	// The tasks settle on the servers first (the server a script starts
	// them on hands the others' shares over, one per poll): a task moved
	// while reading would start again from its checkpoint, and its
	// counters with it.
	even := map[string]int{}
	for i := range units {
		even[fmt.Sprintf("worker-%d", i%workers)]++
	}
	settled := func() bool {
		for _, n := range nodes {
			if !maps(taskOwners(n.url, "read"), even) {
				return false
			}
		}
		return true
	}
	waitUntil(b, "the tasks to settle on the workers", time.Minute, settled)
	time.Sleep(2 * time.Second)
	if !settled() {
		b.Fatalf("the tasks moved again: %v", taskOwners(nodes[0].url, "read"))
	}
	// The records are written in one Kafka transaction, which the source
	// (isolation level read_committed) sees only once committed: the
	// time runs from the commit.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...), kgo.DefaultProduceTopic("events"),
		kgo.TransactionalID("bench-load"), kgo.TransactionTimeout(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		b.Fatal(err)
	}
	base := time.Now().UnixMilli()
	for from := 0; from < m; from += 50_000 {
		recs := make([]*kgo.Record, 0, 50_000)
		for i := from; i < from+50_000; i++ {
			recs = append(recs, &kgo.Record{Key: fmt.Append(nil, i), Value: fmt.Appendf(nil, `{"id": %d, "user": "user-%d", "amount": %d.5, "ts": %d}`, i, i%1000, i%100, base+int64(i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	cpu0 := cpuTimes(nodes)
	b.StartTimer()
	start := time.Now()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.Fatal(err)
	}
	// Each server's metrics are those of the tasks it runs.
	read := func() (n int64) {
		for _, node := range nodes {
			if v, ok := splitOf(node.url, "read"); ok && v.Metrics != nil {
				n += v.Metrics.RecordsIn
			}
		}
		return n
	}
	waitUntil(b, "the tasks to read every record", 5*time.Minute, func() bool { return read() >= want })
	d := time.Since(start)
	b.StopTimer()
	cpu := cpuTimes(nodes)
	for i := range cpu {
		cpu[i] -= cpu0[i]
	}
	if !settled() {
		b.Errorf("the tasks moved while reading: %v", taskOwners(nodes[0].url, "read"))
	}
	b.ReportMetric(float64(m)/d.Seconds(), "records/s")
	// CPU seconds per million input records, of every worker together.
	var all float64
	per := make([]float64, len(cpu))
	for i, s := range cpu {
		per[i] = s / (m / 1e6)
		if i > 0 {
			all += per[i]
		}
	}
	b.ReportMetric(all, "worker-cpu-s/Mrec")
	// Which worker runs the stage's tasks: a share counts tasks, not
	// their work.
	stage := map[string]int{}
	if v, ok := splitOf(nodes[0].url, "read"); ok {
		for _, tk := range v.Tasks {
			if tk.Stage != "" {
				stage[tk.Owner]++
			}
		}
	}
	b.Logf("%d workers, by %s: %d records in %v; tasks per worker %v (of the stage %v); CPU seconds meanwhile: broker and benchmark %.2f, workers %.2f; per million records: %.2f, workers %.2f",
		workers, key, m, d.Round(time.Millisecond), even, stage, cpu[0], cpu[1:], per[0], per[1:])
}

// cpuTimes returns the CPU seconds (user and system) this process — the
// broker's — and each server's process have used, from /proc (zero
// where it cannot be read).
func cpuTimes(nodes []*serverProc) []float64 {
	pids := []int{os.Getpid()}
	for _, n := range nodes {
		pids = append(pids, n.cmd.Process.Pid)
	}
	out := make([]float64, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command's name, which is in parentheses:
		// utime and stime are the 14th and 15th of the line, in ticks
		// of 1/100 s.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			s, _ := strconv.ParseFloat(f[12], 64)
			out[i] = (u + s) / 100
		}
	}
	return out
}
