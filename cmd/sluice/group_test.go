package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func kafkaCluster(t *testing.T, topic string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

func produceIDs(t *testing.T, brokers, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"id": %d}`, i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// runUntil runs a script with `sluice run` until out has n lines, then
// stops it and returns the lines it ends with.
func runUntil(t *testing.T, script, stateDir, out string, n int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runScript(ctx, script, "copy.sql", runConfig{stateDir: stateDir, progress: time.Hour, groupID: "sluice", stdout: io.Discard, stderr: io.Discard})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for countLines(out) < n && time.Now().Before(deadline) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("sluice run ended: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sluice run: %v", err)
	}
	return countLines(out)
}

// A pipeline reads with the consumer group <group_id>.<pipeline>: the same
// script with another group_id and a new state directory reads the topic
// again, and the first group_id resumes where it committed.
func TestRunHonoursGroupID(t *testing.T) {
	brokers := kafkaCluster(t, "orders")
	produceIDs(t, brokers, "orders", 0, 10)
	dir := t.TempDir()
	script := func(group, out string) string {
		return `CREATE SOURCE orders (id UInt64) WITH (connector = 'kafka', brokers = '` + brokers + `', topic = 'orders', group_id = '` + group + `');
CREATE SINK out WITH (connector = 'file', path = '` + out + `');
CREATE PIPELINE copy AS INSERT INTO out SELECT id FROM orders;`
	}
	out1, out2, out3 := filepath.Join(dir, "g1.jsonl"), filepath.Join(dir, "g2.jsonl"), filepath.Join(dir, "g1-again.jsonl")
	if n := runUntil(t, script("g1", out1), filepath.Join(dir, "state1"), out1, 10); n != 10 {
		t.Fatalf("group g1 wrote %d rows, want 10", n)
	}
	if n := runUntil(t, script("g2", out2), filepath.Join(dir, "state2"), out2, 10); n != 10 {
		t.Fatalf("group g2 with a new state directory wrote %d rows, want the topic's 10", n)
	}
	// g1 committed its offsets: with a new state directory it reads only
	// what was produced since.
	produceIDs(t, brokers, "orders", 10, 15)
	if n := runUntil(t, script("g1", out3), filepath.Join(dir, "state3"), out3, 5); n != 5 {
		t.Fatalf("group g1 again wrote %d rows, want the 5 new ones", n)
	}
}

// DROP PIPELINE forgets the pipeline's committed offsets with its
// checkpoints: a pipeline created again under the same name reads the
// topic from its start option, as a new one does.
func TestServerDropThenCreateStartsAfresh(t *testing.T) {
	brokers := kafkaCluster(t, "orders")
	produceIDs(t, brokers, "orders", 0, 10)
	url := testServer(t, "")
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "first.jsonl"), filepath.Join(dir, "second.jsonl")
	apply := func(name, src string) {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if stdout, stderr, code := sluice("apply", "-f", f, "--server", url); code != 0 {
			t.Fatalf("apply %s: %d\n%s%s", name, code, stdout, stderr)
		}
	}
	apply("1.sql", `CREATE SOURCE orders (id UInt64) WITH (connector = 'kafka', brokers = '`+brokers+`', topic = 'orders');
CREATE SINK first WITH (connector = 'file', path = '`+out1+`');
CREATE SINK second WITH (connector = 'file', path = '`+out2+`');
CREATE PIPELINE copy AS INSERT INTO first SELECT id FROM orders;`)
	waitUntil(t, "the first pipeline's 10 rows", 30*time.Second, func() bool { return countLines(out1) >= 10 })
	if stdout, stderr, code := sluice("drop", "copy", "--server", url); code != 0 {
		t.Fatalf("drop: %d\n%s%s", code, stdout, stderr)
	}
	apply("2.sql", `CREATE PIPELINE copy AS INSERT INTO second SELECT id FROM orders;`)
	waitUntil(t, "the new pipeline's 10 rows", 30*time.Second, func() bool { return countLines(out2) >= 10 })
	if n := countLines(out1); n != 10 {
		t.Errorf("the dropped pipeline wrote %d rows, want 10", n)
	}
}
