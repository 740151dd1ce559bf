package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-sql/sluice/server"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of this file run one pipeline split into tasks
// (`parallelism = 'N'`) over several `sluice server` processes sharing one
// catalog, kill or pause one of them, and check what users rely on: every
// server runs its share of the tasks, a dead server's tasks move to the
// others, and an exactly-once Kafka sink read with read_committed holds
// exactly the rows it should — none lost, none twice.

// splitView is what the tests read of a pipeline split into tasks.
type splitView struct {
	Name    string            `json:"name"`
	State   string            `json:"state"`
	Owner   string            `json:"owner"`
	Owners  []string          `json:"owners"`
	Tasks   []server.TaskView `json:"tasks"`
	Metrics *struct {
		RecordsIn          int64 `json:"records_in"`
		RowsWritten        int64 `json:"rows_written"`
		PossibleDuplicates int64 `json:"possible_duplicates"`
	} `json:"metrics"`
}

// splitOf returns the server's view of pipeline; ok is false when the
// server did not answer or does not know it.
func splitOf(url, pipeline string) (v splitView, ok bool) {
	resp, err := http.Get(url + "/api/v1/pipelines")
	if err != nil {
		return v, false
	}
	defer resp.Body.Close()
	var list []splitView
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return v, false
	}
	for _, p := range list {
		if p.Name == pipeline {
			return p, true
		}
	}
	return v, false
}

// taskOwners counts, as the server at url sees it, the pipeline's units
// each server holds with a live lease ("" counts units not held).
func taskOwners(url, pipeline string) map[string]int {
	v, _ := splitOf(url, pipeline)
	out := map[string]int{}
	for _, tk := range v.Tasks {
		if tk.LeaseLive {
			out[tk.Owner]++
		} else {
			out[""]++
		}
	}
	return out
}

// committedRows is what a read_committed consumer of a topic has read so
// far: how often each row (its JSON, canonical) occurs.
type committedRows struct {
	mu   sync.Mutex
	rows map[string]int
	bad  []string
}

// readCommitted consumes topic from its start with isolation level
// read_committed until the test ends: it sees the committed transactions
// of an exactly-once sink only.
func (c *cluster) readCommitted(topic string) *committedRows {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		c.t.Fatal(err)
	}
	r := &committedRows{rows: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			r.mu.Lock()
			fs.EachRecord(func(rec *kgo.Record) {
				k, err := canonicalRow(rec.Value)
				if err != nil {
					r.bad = append(r.bad, string(rec.Value))
					return
				}
				r.rows[k]++
			})
			r.mu.Unlock()
		}
	}()
	return r
}

// canonicalRow re-encodes a JSON object with its keys sorted and numbers
// as written, so rows compare as strings.
func canonicalRow(v []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return "", err
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// distinct returns how many different rows were read, and how many in all.
func (r *committedRows) distinct() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.rows {
		total += n
	}
	return len(r.rows), total
}

// diff compares the rows read with want (each exactly once) and describes
// the rows missing, written twice and unexpected; "" when exact.
func (r *committedRows) diff(want []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	wanted := map[string]bool{}
	var missing, twice, extra []string
	for _, w := range want {
		wanted[w] = true
		if r.rows[w] == 0 {
			missing = append(missing, w)
		}
	}
	for k, n := range r.rows {
		switch {
		case !wanted[k]:
			extra = append(extra, k)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	if len(missing)+len(twice)+len(extra)+len(r.bad) == 0 {
		return ""
	}
	few := func(s []string) []string {
		sort.Strings(s)
		return s[:min(len(s), 5)]
	}
	return fmt.Sprintf("%d rows missing %v, %d more than once %v, %d unexpected %v, %d not JSON %v",
		len(missing), few(missing), len(twice), few(twice), len(extra), few(extra), len(r.bad), few(r.bad))
}

// produceRecords writes recs in chunks with a pause between them, so that
// records flow while a test kills or pauses a server, and closes the
// returned channel when all are written.
// sent counts the records written so far.
func (c *cluster) produceRecords(t *testing.T, recs []*kgo.Record, chunk int, pause time.Duration) (done <-chan struct{}, sent *atomic.Int64) {
	closed := make(chan struct{})
	sent = new(atomic.Int64)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(closed)
		defer cl.Close()
		for i := 0; i < len(recs); i += chunk {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := cl.ProduceSync(ctx, recs[i:min(i+chunk, len(recs))]...).FirstErr()
			cancel()
			if err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			sent.Store(int64(min(i+chunk, len(recs))))
			time.Sleep(pause)
		}
	}()
	return closed, sent
}

// keyed is a record of topic with key k and a JSON value.
func keyed(topic string, k uint64, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: fmt.Append(nil, k), Value: []byte(value)}
}

// applyErr applies a script through the server at url and returns what
// the command printed on stderr, and its error.
func (c *cluster) applyErr(url, src string) (string, error) {
	path := filepath.Join(c.dir, fmt.Sprintf("s%d.sql", c.next.Add(1)))
	os.WriteFile(path, []byte(src), 0o644)
	var stdout, stderr bytes.Buffer
	err := dispatch([]string{"apply", "-f", path, "--server", url}, &stdout, &stderr)
	return stderr.String(), err
}

// workers starts servers node-a, node-b, node-c on the cluster's catalog.
func (c *cluster) workers(names ...string) map[string]*serverProc {
	nodes := map[string]*serverProc{}
	for _, n := range names {
		nodes[n] = c.server(n)
	}
	return nodes
}

// shareAndFailover is the common part of the three-worker tests: the
// pipeline's units settle evenly on node-a, node-b and node-c (each
// server's API says so), node-b is killed with SIGKILL once the sink has
// some of the rows, its units move to node-a and node-c, and the sink then
// holds exactly want.
func shareAndFailover(t *testing.T, c *cluster, nodes map[string]*serverProc, pipeline string, units int, recs []*kgo.Record, out *committedRows, want []string) {
	t.Helper()
	third := units / 3
	even := map[string]int{"node-a": third, "node-b": third, "node-c": third}
	waitUntil(t, fmt.Sprintf("%d units on each server", third), 60*time.Second, func() bool {
		return maps(taskOwners(nodes["node-c"].url, pipeline), even)
	})
	// Every server sees the same owners, and runs what it owns (a server
	// reads the leases at each poll: allow it one).
	var ref splitView
	var disagree []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ref, _ = splitOf(nodes["node-a"].url, pipeline)
		disagree = viewsDisagree(nodes, pipeline, ref)
		if len(disagree) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(ref.Tasks) != units {
		t.Fatalf("%d units listed, want %d: %+v", len(ref.Tasks), units, ref.Tasks)
	}
	for _, d := range disagree {
		t.Error(d)
	}
	var killedUnits []string
	for _, tk := range ref.Tasks {
		if tk.Owner == "node-b" {
			killedUnits = append(killedUnits, tk.Task)
		}
	}

	produced, sent := c.produceRecords(t, recs, 300, 40*time.Millisecond)
	waitUntil(t, "a quarter of the rows in the sink", 60*time.Second, func() bool {
		d, _ := out.distinct()
		return d >= len(want)/4
	})
	if err := nodes["node-b"].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nodes["node-b"].cmd.Wait()
	killed := time.Now()
	d, _ := out.distinct()
	t.Logf("node-b killed with %d of %d records produced, %d of %d rows in the sink", sent.Load(), len(recs), d, len(want))
	half := map[string]int{"node-a": units / 2, "node-c": units / 2}
	// Both remaining servers see it (each reads the leases at its poll).
	waitUntil(t, "node-b's units to move to node-a and node-c", 60*time.Second, func() bool {
		return maps(taskOwners(nodes["node-a"].url, pipeline), half) && maps(taskOwners(nodes["node-c"].url, pipeline), half)
	})
	t.Logf("node-b's %d units moved %.1fs after its SIGKILL", len(killedUnits), time.Since(killed).Seconds())
	after, _ := splitOf(nodes["node-c"].url, pipeline)
	for _, tk := range after.Tasks {
		if slices.Contains(killedUnits, tk.Task) && (tk.Owner == "node-b" || !tk.LeaseLive) {
			t.Errorf("unit %s of the killed node-b: %+v", tk.Task, tk)
		}
	}
	<-produced
	waitUntil(t, "every row in the sink", 90*time.Second, func() bool {
		d, _ := out.distinct()
		return d >= len(want)
	})
	// Two more checkpoint intervals: a row written twice would be
	// committed by now.
	time.Sleep(2500 * time.Millisecond)
	if diff := out.diff(want); diff != "" {
		t.Errorf("the sink does not hold exactly the %d rows: %s", len(want), diff)
	}
	_, total := out.distinct()
	t.Logf("%d records, %d rows in the sink", len(recs), total)
	// A server's metrics are those of the pipeline's own tasks it runs,
	// not a repartition stage's: a server running only stage tasks has
	// none.
	for _, node := range []string{"node-a", "node-c"} {
		v, _ := splitOf(nodes[node].url, pipeline)
		own := false
		for _, tk := range v.Tasks {
			own = own || (tk.RunningHere && tk.Stage == "")
		}
		if v.State != "running" || (v.Metrics != nil) != own {
			t.Errorf("%s: %s is %q with metrics %v, running tasks of its own %v", node, pipeline, v.State, v.Metrics, own)
		}
	}
}

// viewsDisagree compares every server's view of the pipeline's units with
// ref (node-a's) and with what the server runs.
func viewsDisagree(nodes map[string]*serverProc, pipeline string, ref splitView) []string {
	var out []string
	for name, n := range nodes {
		v, _ := splitOf(n.url, pipeline)
		if len(v.Tasks) != len(ref.Tasks) {
			out = append(out, fmt.Sprintf("%s lists %d units, node-a %d", name, len(v.Tasks), len(ref.Tasks)))
			continue
		}
		byName := map[string]server.TaskView{}
		for _, tk := range ref.Tasks {
			byName[tk.Task] = tk
		}
		for _, tk := range v.Tasks {
			if r, ok := byName[tk.Task]; !ok || tk.Owner != r.Owner || tk.Stage != r.Stage || tk.Index != r.Index {
				out = append(out, fmt.Sprintf("%s lists unit %+v, node-a %+v", name, tk, r))
			}
			if tk.RunningHere != (tk.Owner == name) {
				out = append(out, fmt.Sprintf("%s: unit %s owned by %s, running here %v", name, tk.Task, tk.Owner, tk.RunningHere))
			}
		}
		if v.Owner != "" || len(v.Owners) != 3 {
			out = append(out, fmt.Sprintf("%s: a pipeline on three servers shows owner %q, owners %v", name, v.Owner, v.Owners))
		}
	}
	return out
}

// maps reports whether got and want hold the same counts.
func maps(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// One pipeline of 12 tasks deduplicating by the record key runs on three
// servers, four tasks each; when one is killed while records flow, its
// tasks move to the other two and the exactly-once sink holds one row per
// distinct id.
func TestThreeWorkersShareOnePipeline(t *testing.T) {
	c := newCluster(t, 12, kfake.SeedTopics(4, "out"))
	nodes := c.workers("node-a", "node-b", "node-c")
	c.apply(nodes["node-a"].url, fmt.Sprintf(`CREATE SOURCE events (id UInt64, n UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', delivery = 'exactly_once');
CREATE PIPELINE dedup WITH (parallelism = '12', checkpoint_interval = '1s') AS
  INSERT INTO out SELECT id FROM events DEDUPLICATE BY _key WITHIN INTERVAL 1 HOUR;
`, c.brokers))
	out := c.readCommitted("out")
	// Each id three times, keyed by id (so in one partition), the repeats
	// 600 and 4000 records later: some of them after the kill.
	const ids = 6000
	var recs []*kgo.Record
	for i := range uint64(ids + 4000) {
		if i < ids {
			recs = append(recs, keyed("events", i, fmt.Sprintf(`{"id": %d, "n": 0}`, i)))
		}
		if i >= 600 && i-600 < ids {
			recs = append(recs, keyed("events", i-600, fmt.Sprintf(`{"id": %d, "n": 1}`, i-600)))
		}
		if i >= 4000 {
			recs = append(recs, keyed("events", i-4000, fmt.Sprintf(`{"id": %d, "n": 2}`, i-4000)))
		}
	}
	var want []string
	for i := range ids {
		want = append(want, fmt.Sprintf(`{"id":%d}`, i))
	}
	shareAndFailover(t, c, nodes, "dedup", 12, recs, out, want)
}

// An interval join of two 12-partition topics co-partitioned on the
// record key, in 12 tasks on three servers: after one is killed while
// records flow, the sink holds exactly the join's rows.
func TestThreeWorkersShareOneJoin(t *testing.T) {
	c := newCluster(t, 12, kfake.SeedTopics(12, "orders", "payments"), kfake.SeedTopics(4, "out"))
	nodes := c.workers("node-a", "node-b", "node-c")
	c.apply(nodes["node-a"].url, fmt.Sprintf(`CREATE SOURCE orders (id UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'orders', start = 'earliest');
CREATE SOURCE payments (id UInt64, n UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'payments', start = 'earliest');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', delivery = 'exactly_once');
CREATE PIPELINE paid WITH (parallelism = '12', checkpoint_interval = '1s') AS
  INSERT INTO out SELECT o.id AS id, p.n AS n
  FROM orders AS o JOIN payments AS p ON o._key = p._key WITHIN INTERVAL 1 HOUR;
`, c.brokers))
	out := c.readCommitted("out")
	// Order i has 1 + i%2 payments: the first 300 records before the
	// order, the second 300 after it, some of them across the kill.
	const ids = 6000
	type at struct {
		pos int
		rec *kgo.Record
	}
	var seq []at
	var want []string
	for i := range ids {
		seq = append(seq, at{i, keyed("orders", uint64(i), fmt.Sprintf(`{"id": %d}`, i))})
		for n := range 1 + i%2 {
			seq = append(seq, at{i - 300 + 600*n, keyed("payments", uint64(i), fmt.Sprintf(`{"id": %d, "n": %d}`, i, n))})
			want = append(want, fmt.Sprintf(`{"id":%d,"n":%d}`, i, n))
		}
	}
	sort.SliceStable(seq, func(i, j int) bool { return seq[i].pos < seq[j].pos })
	var recs []*kgo.Record
	for _, r := range seq {
		recs = append(recs, r.rec)
	}
	shareAndFailover(t, c, nodes, "paid", 12, recs, out, want)
}

// A dedup by a payload column, not the record key, of a pipeline in 12
// tasks: with repartition = 'refuse' the script is refused at the clause;
// with the default 'auto' EXPLAIN shows the repartition stage, whose 12
// tasks run beside the 12 of the pipeline on three servers, and after one
// server is killed the sink holds one row per distinct value.
func TestThreeWorkersRepartitionedDedup(t *testing.T) {
	c := newCluster(t, 12, kfake.SeedTopics(4, "out"))
	nodes := c.workers("node-a", "node-b", "node-c")
	objects := fmt.Sprintf(`CREATE SOURCE events (id UInt64, uid UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', delivery = 'exactly_once');
`, c.brokers)
	pipeline := func(opts string) string {
		return objects + "CREATE PIPELINE users WITH (parallelism = '12', checkpoint_interval = '1s'" + opts + `) AS
  INSERT INTO out SELECT uid FROM events DEDUPLICATE BY uid WITHIN INTERVAL 1 HOUR;
`
	}

	refused := pipeline(", repartition = 'refuse'")
	stderr, err := c.applyErr(nodes["node-a"].url, refused)
	m := regexp.MustCompile(`\.sql:(\d+):(\d+): (.*)`).FindStringSubmatch(stderr)
	if err == nil || m == nil || !strings.Contains(m[3], `DEDUPLICATE BY uid is not on the record key of "events"`) {
		t.Fatalf("repartition = 'refuse': %v\n%s", err, stderr)
	}
	lines := strings.Split(refused, "\n")
	var line, col int
	fmt.Sscan(m[1], &line)
	fmt.Sscan(m[2], &col)
	if at := strings.Index(lines[line-1], "DEDUPLICATE"); at < 0 || col-1 < at {
		t.Errorf("refusal at %d:%d, not at the DEDUPLICATE BY clause:\n%s", line, col, stderr)
	}
	if _, ok := splitOf(nodes["node-a"].url, "users"); ok {
		t.Error("a refused script created the pipeline")
	}

	script := pipeline("")
	path := filepath.Join(c.dir, "explain.sql")
	os.WriteFile(path, []byte(script), 0o644)
	var explain, explainErr bytes.Buffer
	if err := dispatch([]string{"explain", "-f", path}, &explain, &explainErr); err != nil {
		t.Fatalf("sluice explain: %v\n%s", err, explainErr.String())
	}
	for _, want := range []string{"parallelism: 12 tasks", "Repartition events BY (uid) THROUGH TOPIC sluice.users.events.repartition (12 partitions)"} {
		if !strings.Contains(explain.String(), want) {
			t.Errorf("EXPLAIN does not show %q:\n%s", want, explain.String())
		}
	}

	c.apply(nodes["node-a"].url, script)
	out := c.readCommitted("out")
	// Records keyed by id (spread over every partition), uid i%users: each
	// uid three times, in different partitions, 6000 records apart.
	const users = 6000
	var recs []*kgo.Record
	var want []string
	for i := range uint64(3 * users) {
		recs = append(recs, keyed("events", i, fmt.Sprintf(`{"id": %d, "uid": %d}`, i, i%users)))
		if i < users {
			want = append(want, fmt.Sprintf(`{"uid":%d}`, i))
		}
	}
	shareAndFailover(t, c, nodes, "users", 24, recs, out, want)
	v, _ := splitOf(nodes["node-a"].url, "users")
	stages := 0
	for _, tk := range v.Tasks {
		if tk.Stage != "" {
			stages++
		}
	}
	if stages != 12 {
		t.Errorf("%d units of the repartition stage, want 12: %+v", stages, v.Tasks)
	}
}

// A server paused (SIGSTOP) past its lease loses its tasks of a split
// pipeline to the other; resumed, it stores no checkpoint under its old
// lease and commits no transaction: the checkpoints of each task it held
// are the new owner's (or taken under a later lease), the consumer group
// ends where the records end, and the exactly-once sink holds every
// record once.
func TestPausedTaskOwnerCannotCommit(t *testing.T) {
	c := newCluster(t, 8, kfake.SeedTopics(4, "out"))
	a := c.server("node-a")
	c.apply(a.url, fmt.Sprintf(`CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events', start = 'earliest');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', delivery = 'exactly_once');
CREATE PIPELINE copy WITH (parallelism = '4', checkpoint_interval = '1s') AS INSERT INTO out SELECT id FROM events;
`, c.brokers))
	b := c.server("node-b")
	out := c.readCommitted("out")
	const n = 4000
	c.produce(0, n)
	waitUntil(t, "the first records in the sink", 60*time.Second, func() bool { d, _ := out.distinct(); return d >= n })
	waitUntil(t, "two tasks on each server", 30*time.Second, func() bool {
		return maps(taskOwners(b.url, "copy"), map[string]int{"node-a": 2, "node-b": 2})
	})
	// The tasks node-a holds, with the lease epoch it holds them under.
	held := map[string]int64{}
	before, _ := splitOf(b.url, "copy")
	for _, tk := range before.Tasks {
		if tk.Owner == "node-a" {
			held[strings.ToLower(tk.Task)] = tk.LeaseEpoch
		}
	}
	stopProducing := c.keepProducing(n)
	time.Sleep(500 * time.Millisecond)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	waitUntil(t, "node-b to take node-a's tasks over", 30*time.Second, func() bool {
		return maps(taskOwners(b.url, "copy"), map[string]int{"node-b": 4})
	})
	takeover := time.Now()
	t.Logf("node-b took node-a's tasks %v over %.1fs after node-a was paused", held, takeover.Sub(paused).Seconds())
	time.Sleep(time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Give the resumed node-a time to try whatever it had in flight.
	time.Sleep(3 * time.Second)
	total := stopProducing()
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf(`{"id":%d}`, i))
	}
	waitUntil(t, "every record", 60*time.Second, func() bool { d, _ := out.distinct(); return d >= total })
	waitUntil(t, "the group's offsets at the end of the topic", 30*time.Second, func() bool {
		got, end := c.committed("sluice.copy")
		return got == end
	})
	time.Sleep(2500 * time.Millisecond)
	if diff := out.diff(want); diff != "" {
		t.Errorf("the sink does not hold each of the %d records once: %s", total, diff)
	}
	stored := 0
	for task, epoch := range held {
		for _, cp := range c.taskCheckpoints(task) {
			stored++
			if cp.owner == "node-a" && cp.fence <= epoch && cp.saved.After(takeover) {
				t.Errorf("%s: checkpoint epoch %d stored by node-a under its lease epoch %d after node-b took over", task, cp.epoch, cp.fence)
			}
		}
	}
	if stored == 0 {
		t.Errorf("no checkpoints stored for the tasks %v", held)
	}
	log := a.stderr.String()
	if !strings.Contains(log, "lease was lost") && !strings.Contains(log, "took it over") {
		t.Errorf("node-a did not report losing its tasks:\n%s", log)
	}
}

type checkpointRow struct {
	epoch, fence int64
	owner        string
	saved        time.Time
}

// taskCheckpoints returns the checkpoints stored in the catalog under key.
func (c *cluster) taskCheckpoints(key string) []checkpointRow {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.pg)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT epoch, fence, owner, saved_at FROM `+pgx.Identifier{c.schema}.Sanitize()+`.checkpoints WHERE pipeline_key = $1`, key)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []checkpointRow
	for rows.Next() {
		var r checkpointRow
		if err := rows.Scan(&r.epoch, &r.fence, &r.owner, &r.saved); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
