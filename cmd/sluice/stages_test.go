package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A pipeline's repartition stages write internal topics that belong to it:
// DROP deletes them, so the same pipeline created again in the same script
// joins each record once — with the old topics left, its new stages would
// append every record again after the old copies and the join would pair
// each order with its payment four times. The last DROP leaves no
// internal topic behind.
func TestDropDeletesInternalTopics(t *testing.T) {
	c := newCluster(t, 4, kfake.SeedTopics(4, "orders", "payments", "out1", "out2"))
	node := c.server("node-a")
	objects := fmt.Sprintf(`CREATE SOURCE orders (id UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'orders');
CREATE SOURCE payments (id UInt64, n UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'payments');
CREATE SINK out1 WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out1', delivery = 'exactly_once');
CREATE SINK out2 WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out2', delivery = 'exactly_once');
`, c.brokers)
	pipeline := func(sink string) string {
		return `CREATE PIPELINE paid WITH (parallelism = '2', checkpoint_interval = '1s') AS
  INSERT INTO ` + sink + ` SELECT o.id AS id, p.n AS n
  FROM orders AS o JOIN payments AS p ON o.id = p.id WITHIN INTERVAL 1 HOUR;
`
	}
	c.apply(node.url, objects+pipeline("out1"))

	// Keyed by anything but id: the join needs both stages.
	const ids = 500
	var recs []*kgo.Record
	var want []string
	for i := range ids {
		recs = append(recs, keyed("orders", uint64(i*7+1), fmt.Sprintf(`{"id": %d}`, i)),
			keyed("payments", uint64(i*11+3), fmt.Sprintf(`{"id": %d, "n": %d}`, i, i*2)))
		want = append(want, fmt.Sprintf(`{"id":%d,"n":%d}`, i, i*2))
	}
	done, _ := c.produceRecords(t, recs, 200, 0)
	<-done

	exact := func(topic string) {
		t.Helper()
		out := c.readCommitted(topic)
		deadline := time.Now().Add(90 * time.Second)
		for out.diff(want) != "" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		// Past three checkpoints, nothing more may come.
		time.Sleep(3 * time.Second)
		if d := out.diff(want); d != "" {
			t.Fatalf("%s: %s", topic, d)
		}
	}
	exact("out1")

	internal := []string{"sluice.paid.orders.repartition", "sluice.paid.payments.repartition"}
	exists := func(topic string) bool {
		// A client of its own each time: a client answers from the
		// metadata it has cached for a few seconds.
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		d, ok := td[topic]
		return ok && d.Err == nil
	}
	for _, tp := range internal {
		if !exists(tp) {
			t.Fatalf("internal topic %s missing while the pipeline runs", tp)
		}
	}

	c.apply(node.url, "DROP PIPELINE paid;\n"+pipeline("out2"))
	exact("out2")

	c.apply(node.url, "DROP PIPELINE paid;")
	for _, tp := range internal {
		if exists(tp) {
			t.Errorf("internal topic %s left after DROP", tp)
		}
	}
}

// Servers share each group of a pipeline's units on its own: the tasks of
// a repartition stage, and the pipeline's own tasks. Applied on one of two
// servers, a pipeline of four tasks behind a stage of four settles at two
// of each on each server, not the stage on one and the pipeline on the
// other, where the busier half would hold the whole back.
func TestServersShareEachStage(t *testing.T) {
	c := newCluster(t, 4, kfake.SeedTopics(4, "out"))
	nodes := c.workers("node-a", "node-b")
	c.apply(nodes["node-a"].url, fmt.Sprintf(`CREATE SOURCE events (id UInt64, uid UInt64) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events');
CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out');
CREATE PIPELINE users WITH (parallelism = '4') AS
  INSERT INTO out SELECT uid FROM events DEDUPLICATE BY uid WITHIN INTERVAL 1 HOUR;
`, c.brokers))
	want := map[string]int{"node-a stage": 2, "node-a": 2, "node-b stage": 2, "node-b": 2}
	var got map[string]int
	waitUntil(t, "each server to run two tasks of the stage and two of the pipeline", 30*time.Second, func() bool {
		v, ok := splitOf(nodes["node-b"].url, "users")
		if !ok {
			return false
		}
		got = map[string]int{}
		for _, tk := range v.Tasks {
			if !tk.LeaseLive {
				return false
			}
			k := tk.Owner
			if tk.Stage != "" {
				k += " stage"
			}
			got[k]++
		}
		return maps(got, want)
	})
	t.Logf("tasks per server: %v", got)
}
