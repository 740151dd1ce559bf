package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTable makes an empty table for a postgres sink and returns its name
// and a function counting its rows and distinct ids.
func pgTable(t *testing.T, pgURL string) (string, func() (rows, distinct int64)) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	table := fmt.Sprintf("tasks_out_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id numeric(20, 0))"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	return table, func() (rows, distinct int64) {
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM "+table).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		return rows, distinct
	}
}

// A pipeline with parallelism 4 runs as 4 tasks, each with its own lease
// and checkpoints: two servers of one catalog run two each, both APIs list
// the tasks and their owners, STOP applied on one server stops the tasks
// on both, and START resumes every task from its checkpoint: the sink
// holds every record once. A replace with 2 tasks keeps the rows exact
// too, and DROP removes every task's checkpoints.
func TestParallelPipelineRunsItsTasks(t *testing.T) {
	c := newCluster(t, 8)
	table, count := pgTable(t, c.pg)
	a := c.server("node-a")
	b := c.server("node-b")
	c.apply(a.url, fmt.Sprintf(`CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK pg WITH (connector = 'postgres', url = '%s', table = '%s');
CREATE PIPELINE copy WITH (parallelism = '4') AS INSERT INTO pg SELECT id FROM events;
`, c.brokers, c.pg, table))
	const n = 4000
	c.produce(0, n)
	waitUntil(t, "every record in PostgreSQL", 60*time.Second, func() bool { rows, _ := count(); return rows >= n })

	// Both servers run their share, two tasks each, and agree on who
	// runs which.
	waitUntil(t, "two tasks on each server", 60*time.Second, func() bool {
		pa, ok1 := splitOf(a.url, "copy")
		pb, ok2 := splitOf(b.url, "copy")
		if !ok1 || !ok2 || len(pa.Tasks) != 4 || len(pb.Tasks) != 4 {
			return false
		}
		here := map[string]int{}
		for i, tk := range pa.Tasks {
			if !tk.LeaseLive || tk.Owner != pb.Tasks[i].Owner || tk.LeaseEpoch != pb.Tasks[i].LeaseEpoch {
				return false
			}
			if tk.RunningHere {
				here["node-a"]++
			}
			if pb.Tasks[i].RunningHere {
				here["node-b"]++
			}
			if tk.RunningHere == pb.Tasks[i].RunningHere || (tk.Owner == "node-a") != tk.RunningHere {
				return false
			}
		}
		return here["node-a"] == 2 && here["node-b"] == 2
	})
	p, _ := splitOf(a.url, "copy")
	for i, tk := range p.Tasks {
		if tk.Task != "copy#"+strconv.Itoa(i) || tk.Index != i || tk.Stage != "" {
			t.Errorf("task %d: %+v", i, tk)
		}
	}
	if p.State != "running" || p.Owner != "" || !slices.Equal(p.Owners, []string{"node-a", "node-b"}) || p.Metrics == nil {
		t.Errorf("pipeline of tasks on two servers: state %s, owner %q, owners %v, metrics %v", p.State, p.Owner, p.Owners, p.Metrics)
	}
	// Prometheus keeps one series per pipeline: node-a holds two of its
	// four leases.
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^sluice_pipeline_owned\{pipeline="copy"\} 2$`).Match(body) || !regexp.MustCompile(`(?m)^sluice_pipeline_records_in_total\{pipeline="copy"\} \d+$`).Match(body) {
		t.Errorf("node-a's /metrics for a pipeline of 4 tasks, 2 here:\n%s", regexp.MustCompile(`(?m)^sluice_pipeline_(owned|records_in_total).*$`).FindAll(body, -1))
	}

	// STOP on node-b stops every task, on both servers.
	c.apply(b.url, "STOP PIPELINE copy;")
	for _, s := range []*serverProc{a, b} {
		waitUntil(t, "every task to stop", 20*time.Second, func() bool {
			p, ok := splitOf(s.url, "copy")
			if !ok || p.State != "stopped" || p.Metrics != nil {
				return false
			}
			for _, tk := range p.Tasks {
				if tk.RunningHere || tk.LeaseLive {
					return false
				}
			}
			return true
		})
	}
	if rows, distinct := count(); rows != n || distinct != n {
		t.Fatalf("after STOP: %d rows, %d distinct, want %d", rows, distinct, n)
	}
	// Each task checkpointed under its own name.
	for i := range 4 {
		if owners, _ := c.checkpointRows(fmt.Sprintf("copy#%d", i)); len(owners) == 0 {
			t.Errorf("no checkpoint of task copy#%d", i)
		}
	}
	if owners, _ := c.checkpointRows("copy"); len(owners) != 0 {
		t.Errorf("checkpoints under the pipeline's own name: %v", owners)
	}
	c.produce(n, 2*n)
	time.Sleep(2 * time.Second)
	if rows, _ := count(); rows != n {
		t.Fatalf("a stopped pipeline wrote: %d rows", rows)
	}

	// START on node-a: every task resumes from its checkpoint.
	c.apply(a.url, "START PIPELINE copy;")
	waitUntil(t, "the records produced while stopped", 60*time.Second, func() bool { rows, _ := count(); return rows >= 2*n })
	time.Sleep(2 * time.Second)
	if rows, distinct := count(); rows != 2*n || distinct != 2*n {
		t.Fatalf("after STOP and START: %d rows, %d distinct, want %d", rows, distinct, 2*n)
	}

	// Replaced with another parallelism, on the server that runs half of
	// it: the tasks of the old plan stop on both servers and their
	// checkpoints go (their state is of other partitions); the two new
	// tasks start from the offsets committed, and nothing is lost or
	// written twice.
	c.apply(b.url, "CREATE OR REPLACE PIPELINE copy WITH (parallelism = '2') AS INSERT INTO pg SELECT id FROM events;")
	for i := 2; i < 4; i++ {
		if owners, _ := c.checkpointRows(fmt.Sprintf("copy#%d", i)); len(owners) != 0 {
			t.Errorf("task copy#%d of the old plan keeps checkpoints after a replace with 2 tasks", i)
		}
	}
	c.produce(2*n, 3*n)
	waitUntil(t, "the records produced after the replace", 60*time.Second, func() bool { rows, _ := count(); return rows >= 3*n })
	waitUntil(t, "two tasks listed", 10*time.Second, func() bool {
		p, ok := splitOf(a.url, "copy")
		return ok && len(p.Tasks) == 2 && p.Tasks[1].Task == "copy#1"
	})
	time.Sleep(2 * time.Second)
	if rows, distinct := count(); rows != 3*n || distinct != 3*n {
		t.Fatalf("after a replace with 2 tasks: %d rows, %d distinct, want %d", rows, distinct, 3*n)
	}

	// DROP removes every task's checkpoints.
	c.apply(a.url, "DROP PIPELINE copy;")
	for i := range 4 {
		if owners, _ := c.checkpointRows(fmt.Sprintf("copy#%d", i)); len(owners) != 0 {
			t.Errorf("task copy#%d keeps checkpoints after DROP", i)
		}
	}
}

// sluice run runs every task of a split pipeline in its one process, each
// checkpointing under its own name in the state directory, and reports
// the pipeline's progress as one; a second run resumes every task where it
// stopped.
func TestRunRunsEveryTask(t *testing.T) {
	c := newCluster(t, 4)
	table, count := pgTable(t, c.pg)
	state := filepath.Join(c.dir, "state")
	script := fmt.Sprintf(`CREATE SOURCE events (id UInt64) WITH (connector = 'kafka', brokers = '%s', topic = 'events', start = 'earliest');
CREATE SINK pg WITH (connector = 'postgres', url = '%s', table = '%s');
CREATE PIPELINE copy WITH (parallelism = '2') AS INSERT INTO pg SELECT id FROM events;
`, c.brokers, c.pg, table)
	run := func(want int64) string {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stderr lockedBuffer
		done := make(chan error, 1)
		go func() {
			done <- runScript(ctx, script, "p.sql", runConfig{stateDir: state, progress: time.Hour, groupID: "sluice", filesDir: c.dir, stdout: &stderr, stderr: &stderr})
		}()
		waitUntil(t, fmt.Sprintf("%d rows in PostgreSQL", want), 60*time.Second, func() bool { rows, _ := count(); return rows >= want })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("sluice run: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	const n = 3000
	c.produce(0, n)
	out := run(n)
	if !strings.Contains(out, fmt.Sprintf("progress pipeline=copy in=%d out=%d ", n, n)) {
		t.Errorf("no final progress line of both tasks, in=%d out=%d:\n%s", n, n, out)
	}
	for _, task := range []string{"copy#0", "copy#1"} {
		if _, err := os.Stat(filepath.Join(state, task)); err != nil {
			t.Errorf("no checkpoint of task %s: %v", task, err)
		}
	}
	c.produce(n, 2*n)
	out = run(2 * n)
	time.Sleep(time.Second)
	if rows, distinct := count(); rows != 2*n || distinct != 2*n {
		t.Fatalf("after a second run: %d rows, %d distinct, want %d", rows, distinct, 2*n)
	}
	if !strings.Contains(out, fmt.Sprintf("progress pipeline=copy in=%d ", n)) {
		t.Errorf("the second run did not resume both tasks (in=%d):\n%s", n, out)
	}
}
