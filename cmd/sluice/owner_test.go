package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipelineView is what the tests read of GET /api/v1/pipelines.
type pipelineView struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	Running    *bool  `json:"running"`
	Owner      string `json:"owner"`
	LeaseEpoch int64  `json:"lease_epoch"`
	LeaseLive  *bool  `json:"lease_live"`
	Since      string `json:"since"`
	Metrics    *struct {
		RecordsIn          int64 `json:"records_in"`
		RowsWritten        int64 `json:"rows_written"`
		PossibleDuplicates int64 `json:"possible_duplicates"`
	} `json:"metrics"`
}

func pipelinesOf(t testing.TB, url string) map[string]pipelineView {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/pipelines")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list []pipelineView
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil
	}
	out := map[string]pipelineView{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

// ownedBy reports whether the server at url says pipeline runs on node
// with a live lease.
func ownedBy(t testing.TB, url, pipeline, node string) bool {
	p, ok := pipelinesOf(t, url)[pipeline]
	return ok && p.Owner == node && p.LeaseLive != nil && *p.LeaseLive
}

// cluster is a test's shared catalog, broker and files directory for
// several servers.
type cluster struct {
	t       testing.TB
	pg      string // catalog database URL
	schema  string
	brokers string
	dir     string
	out     string // the file sink's path
	next    atomic.Int64
}

// newCluster seeds topic "events" with partitions; extra options seed more
// topics (kfake.SeedTopics).
func newCluster(t testing.TB, partitions int32, extra ...kfake.Opt) *cluster {
	pgURL := os.Getenv("SLUICE_TEST_POSTGRES")
	if pgURL == "" {
		t.Skip("SLUICE_TEST_POSTGRES is not set: servers share a PostgreSQL catalog")
	}
	c := &cluster{t: t, pg: pgURL, dir: t.TempDir()}
	args := catalogArgs(t)
	c.schema = args[3]
	kc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, "events")}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	c.brokers = strings.Join(kc.ListenAddrs(), ",")
	c.out = filepath.Join(c.dir, "out.jsonl")
	return c
}

// server starts `sluice server` as node on the cluster's catalog.
func (c *cluster) server(node string, extra ...string) *serverProc {
	lease := os.Getenv("SLUICE_TEST_LEASE_TIME") // to measure failover with another lease time
	if lease == "" {
		lease = "3s"
	}
	args := []string{"--postgres", c.pg, "--schema", c.schema, "--data-dir", filepath.Join(c.dir, "data-"+node),
		"--files-dir", c.dir, "--node-id", node, "--lease-time", lease}
	return startProc(c.t, append(args, extra...)...)
}

// apply applies a script through the server at url.
func (c *cluster) apply(url, src string) {
	c.t.Helper()
	path := filepath.Join(c.dir, fmt.Sprintf("s%d.sql", c.next.Add(1)))
	os.WriteFile(path, []byte(src), 0o644)
	var stdout, stderr bytes.Buffer
	if err := dispatch([]string{"apply", "-f", path, "--server", url}, &stdout, &stderr); err != nil {
		c.t.Fatalf("apply %s: %v\n%s", src, err, stderr.String())
	}
}

// produce writes ids [from, to) to the topic, keyed by id.
func (c *cluster) produce(from, to int) {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Key: fmt.Append(nil, i), Value: fmt.Appendf(nil, `{"id": %d}`, i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
}

// keepProducing produces ids from id from on, 50 every 20 ms, until the
// returned function is called; that returns the first id not produced.
func (c *cluster) keepProducing(from int) (stop func() int) {
	done := make(chan struct{})
	produced := make(chan int)
	go func() {
		i := from
		defer func() { produced <- i }()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			c.produce(i, i+50)
			i += 50
		}
	}()
	return func() int {
		close(done)
		return <-produced
	}
}

func (c *cluster) copyScript() string {
	return fmt.Sprintf(`CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'file', path = 'out.jsonl');
CREATE PIPELINE copy AS INSERT INTO out SELECT id FROM events;
`, c.brokers)
}

// checkpointRows returns, from the catalog, the owner and lease fence of
// each stored checkpoint of pipeline, by epoch.
func (c *cluster) checkpointRows(pipeline string) (owners map[int64]string, saved map[int64]time.Time) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.pg)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT epoch, owner, saved_at FROM `+pgx.Identifier{c.schema}.Sanitize()+`.checkpoints WHERE pipeline_key = $1`, pipeline)
	if err != nil {
		c.t.Fatal(err)
	}
	owners, saved = map[int64]string{}, map[int64]time.Time{}
	for rows.Next() {
		var e int64
		var o string
		var at time.Time
		if err := rows.Scan(&e, &o, &at); err != nil {
			c.t.Fatal(err)
		}
		owners[e], saved[e] = o, at
	}
	return owners, saved
}

// committed returns the consumer group's committed offsets summed over
// the partitions, and the topic's end offsets summed.
func (c *cluster) committed(group string) (committed, end int64) {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		// Not committed yet (commits follow checkpoints).
		return -1, 0
	}
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	ends, err := adm.ListEndOffsets(ctx, "events")
	if err != nil {
		c.t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	return committed, end
}

// Two servers on one catalog: a pipeline applied on either runs once
// (every record exactly once in the sink), both APIs say where; STOP,
// START, replace and DROP applied on one server take effect on the other;
// and when the owner is killed the other takes the pipeline over within
// the lease time, from its last checkpoint, with every record arriving and
// the rows written again counted.
func TestTwoServersOneOwnerAndFailover(t *testing.T) {
	c := newCluster(t, 4)
	a := c.server("node-a")
	b := c.server("node-b")
	c.apply(a.url, c.copyScript())
	const n = 5000
	c.produce(0, n)
	waitUntil(t, "every record in the sink", 60*time.Second, func() bool { return countLines(c.out) >= n })
	// Both servers have had time to see the pipeline (a poll every second)
	// and neither runs it twice.
	waitUntil(t, "both APIs to show node-a as the owner", 10*time.Second, func() bool {
		return ownedBy(t, a.url, "copy", "node-a") && ownedBy(t, b.url, "copy", "node-a")
	})
	time.Sleep(3 * time.Second)
	if got := countLines(c.out); got != n || distinctIDs(t, c.out) != n {
		t.Fatalf("sink holds %d rows (%d distinct) for %d records: the pipeline ran %s", got, distinctIDs(t, c.out), n, map[bool]string{true: "twice", false: "wrongly"}[got > n])
	}
	if pb := pipelinesOf(t, b.url)["copy"]; pb.State != "running" || pb.Metrics != nil {
		t.Errorf("node-b's view of a pipeline running on node-a: %+v", pb)
	}
	var desc, descErr bytes.Buffer
	if err := dispatch([]string{"describe", "copy", "--server", b.url}, &desc, &descErr); err != nil || !regexp.MustCompile(`runs on\s+node-a \(lease epoch \d+\)\n`).MatchString(desc.String()) {
		t.Errorf("sluice describe on node-b: %v\n%s%s", err, desc.String(), descErr.String())
	}

	// STOP on node-b stops the run on node-a.
	c.apply(b.url, "STOP PIPELINE copy;")
	waitUntil(t, "node-a to stop its run", 10*time.Second, func() bool {
		p := pipelinesOf(t, a.url)["copy"]
		return p.State == "stopped" && p.Metrics == nil && p.Running != nil && !*p.Running
	})
	c.produce(n, 2*n)
	time.Sleep(2 * time.Second)
	if got := countLines(c.out); got != n {
		t.Fatalf("a stopped pipeline wrote: %d rows", got)
	}
	// START on node-b: it runs once again, from where it stopped.
	c.apply(b.url, "START PIPELINE copy;")
	waitUntil(t, "the records produced while stopped", 60*time.Second, func() bool { return countLines(c.out) >= 2*n })
	waitUntil(t, "an owner", 10*time.Second, func() bool {
		p := pipelinesOf(t, a.url)["copy"]
		return p.LeaseLive != nil && *p.LeaseLive
	})
	owner := pipelinesOf(t, a.url)["copy"].Owner
	time.Sleep(2 * time.Second)
	if got := countLines(c.out); got != 2*n || distinctIDs(t, c.out) != 2*n {
		t.Fatalf("after STOP and START: %d rows, %d distinct, want %d", got, distinctIDs(t, c.out), 2*n)
	}

	// Kill the owner: the other takes over within the lease time.
	dead, live, liveNode := a, b, "node-b"
	if owner == "node-b" {
		dead, live, liveNode = b, a, "node-a"
	}
	go func() {
		for i := 2 * n; i < 3*n; i += 250 {
			c.produce(i, i+250)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	waitUntil(t, "part of the third batch in the sink", 30*time.Second, func() bool { return countLines(c.out) > 2*n })
	if err := dead.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	dead.cmd.Wait()
	waitUntil(t, liveNode+" to take the pipeline over", 40*time.Second, func() bool { return ownedBy(t, live.url, "copy", liveNode) })
	t.Logf("failover: %s owns the pipeline %.1fs after the SIGKILL of %s", liveNode, time.Since(killed).Seconds(), owner)
	waitUntil(t, "every record after the failover", 60*time.Second, func() bool { return distinctIDs(t, c.out) == 3*n })
	time.Sleep(time.Second)
	total := countLines(c.out)
	p := pipelinesOf(t, live.url)["copy"]
	if p.Metrics == nil {
		t.Fatalf("the new owner shows no run: %+v", p)
	}
	t.Logf("%d records, %d rows in the sink, %d counted as possible duplicates", 3*n, total, p.Metrics.PossibleDuplicates)
	if dups := int64(total - 3*n); dups > p.Metrics.PossibleDuplicates {
		t.Errorf("%d rows written twice, only %d counted as possible duplicates", dups, p.Metrics.PossibleDuplicates)
	}

	// Replace and drop on the remaining server, which owns the pipeline:
	// and a new server sees the catalog as it is.
	c.apply(live.url, strings.Replace(c.copyScript(), "CREATE PIPELINE copy AS", "CREATE OR REPLACE PIPELINE copy AS", 1)+"CREATE OR REPLACE PIPELINE copy AS INSERT INTO out SELECT id + 1000000 AS id FROM events;")
	third := c.server("node-c")
	c.apply(third.url, "DROP PIPELINE copy;")
	waitUntil(t, liveNode+" to drop the pipeline", 10*time.Second, func() bool {
		_, ok := pipelinesOf(t, live.url)["copy"]
		return !ok && pipelinesOf(t, live.url) != nil
	})
	before := countLines(c.out)
	c.produce(3*n, 3*n+100)
	time.Sleep(2 * time.Second)
	if got := countLines(c.out); got != before {
		t.Errorf("a dropped pipeline wrote %d rows", got-before)
	}
}

// A server paused (SIGSTOP) past its lease loses the pipeline to another;
// when it resumes it can no longer store a checkpoint or commit offsets:
// the checkpoints stored after the takeover are all the new owner's, the
// consumer group's offsets end where the records end, and the sink holds
// every record, the rows written twice counted.
func TestPausedOwnerCannotCommit(t *testing.T) {
	c := newCluster(t, 4)
	a := c.server("node-a")
	c.apply(a.url, c.copyScript())
	b := c.server("node-b")
	const n = 4000
	c.produce(0, n)
	waitUntil(t, "the first records in the sink", 60*time.Second, func() bool { return countLines(c.out) >= n })
	waitUntil(t, "node-b to show node-a, where the pipeline was applied, as its owner", 10*time.Second, func() bool { return ownedBy(t, b.url, "copy", "node-a") })
	// Records keep coming while node-a is paused and after it resumes.
	stopProducing := c.keepProducing(n)
	time.Sleep(500 * time.Millisecond)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	waitUntil(t, "node-b to take the pipeline over", 30*time.Second, func() bool { return ownedBy(t, b.url, "copy", "node-b") })
	t.Logf("node-b took over %.1fs after node-a was paused", time.Since(paused).Seconds())
	takeover := time.Now()
	time.Sleep(time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Give the resumed node-a time to try whatever it had in flight.
	time.Sleep(3 * time.Second)
	total := stopProducing()
	waitUntil(t, "every record", 60*time.Second, func() bool { return distinctIDs(t, c.out) == total })
	waitUntil(t, "the group's offsets at the end of the topic", 30*time.Second, func() bool {
		got, end := c.committed("sluice.copy")
		return got == end
	})
	owners, saved := c.checkpointRows("copy")
	for e, o := range owners {
		if o != "node-b" && saved[e].After(takeover) {
			t.Errorf("checkpoint epoch %d stored by %s after node-b took over", e, o)
		}
	}
	if len(owners) == 0 {
		t.Error("no checkpoints stored")
	}
	log := a.stderr.String()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "lease") || strings.Contains(l, "took it over") || strings.Contains(l, "stopped") {
			t.Logf("node-a: %s", l)
		}
	}
	if !strings.Contains(log, "lease was lost") && !strings.Contains(log, "another server took it over") {
		t.Errorf("node-a did not report losing the pipeline:\n%s", log)
	}
	// node-a does not take the pipeline back, and runs nothing.
	if p := pipelinesOf(t, a.url)["copy"]; p.Owner != "node-b" || p.Metrics != nil {
		t.Errorf("node-a after resuming: %+v", p)
	}
	rows := countLines(c.out)
	p := pipelinesOf(t, b.url)["copy"]
	if p.Metrics == nil {
		t.Fatalf("node-b shows no run: %+v", p)
	}
	t.Logf("%d records, %d rows, %d counted as possible duplicates", total, rows, p.Metrics.PossibleDuplicates)
	if dups := int64(rows - total); dups > p.Metrics.PossibleDuplicates {
		t.Errorf("%d rows written twice, only %d counted as possible duplicates", dups, p.Metrics.PossibleDuplicates)
	}
}

// Three servers share six pipelines: each runs two (the API of any says
// which), every sink holds exactly one row per record; when one server is
// killed its two pipelines move to the others, which then run three each,
// and every record arrives, the rows written twice counted.
func TestServersShareThePipelines(t *testing.T) {
	c := newCluster(t, 4)
	nodes := map[string]*serverProc{}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		nodes[n] = c.server(n)
	}
	const pipes = 6
	script := fmt.Sprintf("CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');\n", c.brokers)
	for i := range pipes {
		script += fmt.Sprintf("CREATE SINK out%d WITH (connector = 'file', path = 'out%d.jsonl');\nCREATE PIPELINE copy%d AS INSERT INTO out%d SELECT id FROM events;\n", i, i, i, i)
	}
	c.apply(nodes["node-a"].url, script)
	owners := func(url string) map[string]int {
		counts := map[string]int{}
		for _, p := range pipelinesOf(t, url) {
			if p.LeaseLive != nil && *p.LeaseLive {
				counts[p.Owner]++
			}
		}
		return counts
	}
	waitUntil(t, "two pipelines on each server", 60*time.Second, func() bool {
		o := owners(nodes["node-c"].url)
		return o["node-a"] == 2 && o["node-b"] == 2 && o["node-c"] == 2
	})
	const n = 2000
	c.produce(0, n)
	out := func(i int) string { return filepath.Join(c.dir, fmt.Sprintf("out%d.jsonl", i)) }
	for i := range pipes {
		waitUntil(t, fmt.Sprintf("every record in out%d", i), 60*time.Second, func() bool { return countLines(out(i)) >= n })
	}
	time.Sleep(2 * time.Second)
	for i := range pipes {
		if got, d := countLines(out(i)), distinctIDs(t, out(i)); got != n || d != n {
			t.Errorf("out%d holds %d rows, %d distinct, for %d records", i, got, d, n)
		}
	}
	// Every server shows the same owners, and metrics only for its own.
	a, b := pipelinesOf(t, nodes["node-a"].url), pipelinesOf(t, nodes["node-b"].url)
	for name, p := range a {
		if b[name].Owner != p.Owner || b[name].LeaseEpoch != p.LeaseEpoch {
			t.Errorf("%s: node-a says %s/%d, node-b says %s/%d", name, p.Owner, p.LeaseEpoch, b[name].Owner, b[name].LeaseEpoch)
		}
		if (p.Metrics != nil) != (p.Owner == "node-a") {
			t.Errorf("%s on %s: node-a shows metrics %v", name, p.Owner, p.Metrics != nil)
		}
	}

	// /metrics of each server: sluice_pipeline_owned is 1 on the owner only.
	owned := map[string]float64{}
	for node, p := range nodes {
		resp, err := http.Get(p.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mine := 0
		for _, m := range regexp.MustCompile(`(?m)^sluice_pipeline_owned\{pipeline="(\w+)"\} (\d)$`).FindAllStringSubmatch(string(body), -1) {
			if m[2] == "1" {
				owned[m[1]]++
				mine++
			}
		}
		if mine != 2 {
			t.Errorf("%s: sluice_pipeline_owned is 1 for %d pipelines, want 2", node, mine)
		}
	}
	for i := range pipes {
		if owned[fmt.Sprintf("copy%d", i)] != 1 {
			t.Errorf("copy%d is owned by %v servers by sluice_pipeline_owned", i, owned[fmt.Sprintf("copy%d", i)])
		}
	}

	// Kill node-b while records flow: its two pipelines move.
	go func() {
		for i := n; i < 2*n; i += 100 {
			c.produce(i, i+100)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	nodes["node-b"].cmd.Process.Signal(syscall.SIGKILL)
	nodes["node-b"].cmd.Wait()
	killed := time.Now()
	waitUntil(t, "three pipelines on each remaining server", 60*time.Second, func() bool {
		o := owners(nodes["node-a"].url)
		return o["node-a"] == 3 && o["node-c"] == 3
	})
	t.Logf("node-b's pipelines moved %.1fs after its SIGKILL", time.Since(killed).Seconds())
	for i := range pipes {
		waitUntil(t, fmt.Sprintf("every record in out%d", i), 60*time.Second, func() bool { return distinctIDs(t, out(i)) == 2*n })
	}
	time.Sleep(time.Second)
	views := map[string]pipelineView{}
	for _, node := range []string{"node-a", "node-c"} {
		for name, p := range pipelinesOf(t, nodes[node].url) {
			if p.Owner == node {
				views[name] = p
			}
		}
	}
	for i := range pipes {
		p := views[fmt.Sprintf("copy%d", i)]
		if p.Metrics == nil {
			t.Errorf("copy%d: no server shows its run", i)
			continue
		}
		if dups := int64(countLines(out(i)) - 2*n); dups > p.Metrics.PossibleDuplicates {
			t.Errorf("copy%d: %d rows written twice, %d counted", i, dups, p.Metrics.PossibleDuplicates)
		}
	}
}

// SIGTERM stops a server in order and gives its leases up: another server
// takes its pipeline at once, not after the lease time, from the stop's
// checkpoint, so every record arrives exactly once.
func TestOrderlyStopHandsOver(t *testing.T) {
	c := newCluster(t, 2)
	a := c.server("node-a", "--lease-time", "20s")
	c.apply(a.url, c.copyScript())
	b := c.server("node-b", "--lease-time", "20s")
	const n = 3000
	c.produce(0, n)
	waitUntil(t, "every record", 60*time.Second, func() bool { return countLines(c.out) >= n })
	waitUntil(t, "node-b to show node-a as the owner", 10*time.Second, func() bool { return ownedBy(t, b.url, "copy", "node-a") })
	a.cmd.Process.Signal(syscall.SIGTERM)
	stopped := time.Now()
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("node-a exited with %v", err)
	}
	waitUntil(t, "node-b to take the pipeline", 10*time.Second, func() bool { return ownedBy(t, b.url, "copy", "node-b") })
	t.Logf("node-b took over %.1fs after the SIGTERM (lease time 20s)", time.Since(stopped).Seconds())
	c.produce(n, 2*n)
	waitUntil(t, "the records after the handover", 60*time.Second, func() bool { return countLines(c.out) >= 2*n })
	time.Sleep(2 * time.Second)
	if got, d := countLines(c.out), distinctIDs(t, c.out); got != 2*n || d != 2*n {
		t.Errorf("%d rows, %d distinct, want %d exactly", got, d, 2*n)
	}
	if p := pipelinesOf(t, b.url)["copy"]; p.Metrics == nil || p.Metrics.PossibleDuplicates != 0 {
		t.Errorf("after an orderly handover: %+v", p.Metrics)
	}
}

// -lease-time is checked: a value that is no duration, or outside 1s–1h,
// is refused with the flag's name and an example.
func TestLeaseTimeFlag(t *testing.T) {
	for _, v := range []string{"0s", "500ms", "2h", "soon"} {
		var stderr bytes.Buffer
		err := serverCmd([]string{"--lease-time", v}, io.Discard, &stderr)
		ee, ok := err.(*exitError)
		if !ok || ee.code != 2 || !strings.Contains(ee.msg, fmt.Sprintf("-lease-time %q: give a duration from 1s to 1h, e.g. 15s", v)) {
			t.Errorf("--lease-time %s: %v", v, err)
		}
	}
}
