package kafka

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/format"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// crashingStore fails its first checkpoint Save, as a process killed
// after the sink committed the epoch's transaction and before the
// checkpoint was stored.
type crashingStore struct {
	*runtime.MemoryCheckpointStore
	mu      sync.Mutex
	crashed bool
}

func (c *crashingStore) Save(ctx context.Context, name string, cp *runtime.Checkpoint) error {
	c.mu.Lock()
	crash := !c.crashed
	c.crashed = true
	c.mu.Unlock()
	if crash {
		return errors.New("injected crash before the checkpoint")
	}
	return c.MemoryCheckpointStore.Save(ctx, name, cp)
}

// A crash between the Kafka commit of an epoch and its checkpoint, in a
// whole pipeline: the restart replays the epoch, recognises it committed
// and aborts it; a read_committed reader (kcat) sees every row once.
func TestExactlyOnceCrashBetweenCommitAndCheckpoint(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	registerOnce()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 3000
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// src (id UInt64) from topic in → SELECT id → the exactly-once sink on
	// topic out: the graph the planner makes of it (connectors' tests may
	// not import the planner).
	id := dag.Column{Name: "id", Type: dag.T(dag.UInt64).WithNull(true), Path: []string{"id"}}
	graph := &dag.Graph{Name: "copy", Nodes: []*dag.Node{
		{ID: 0, Kind: dag.KindSource, TimeCol: 1,
			Schema: dag.Schema{id, {Name: "_timestamp", Type: dag.Timestamp, Pseudo: true}},
			Source: &dag.SourceSpec{Name: "src", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "in"},
				Declared: dag.Schema{id}, IdleTimeout: 5 * time.Second}},
		{ID: 1, Kind: dag.KindProject, Inputs: []int{0}, TimeCol: -1,
			Schema: dag.Schema{{Name: "id", Type: id.Type}}, Exprs: []*dag.Expr{dag.ColRef(0, id.Type, "id")}},
		{ID: 2, Kind: dag.KindSink, Inputs: []int{1}, TimeCol: -1,
			Schema: dag.Schema{{Name: "id", Type: id.Type}},
			Sink:   &dag.SinkSpec{Name: "dst", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "out", "delivery": "exactly_once"}}},
	}}
	mem := &runtime.MemoryCheckpointStore{}
	run := func(store runtime.CheckpointStore, until func(*runtime.Pipeline) bool) (*runtime.Pipeline, error) {
		p, err := runtime.NewPipeline(graph, runtime.Options{Store: store, CheckpointInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		deadline := time.After(30 * time.Second)
		for !until(p) {
			select {
			case err := <-done:
				cancel()
				return p, err
			case <-deadline:
				cancel()
				<-done
				t.Fatalf("not done in 30 s: %+v", p.Stats())
			case <-time.After(10 * time.Millisecond):
			}
		}
		cancel()
		return p, <-done
	}
	_, err = run(&crashingStore{MemoryCheckpointStore: mem}, func(*runtime.Pipeline) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "injected crash") {
		t.Fatalf("first run: %v", err)
	}
	in, _ := mem.LoadIntent(context.Background(), "copy")
	if in == nil || in.Rows == 0 {
		t.Fatalf("no write intent after the crash: %+v", in)
	}
	// More input arrives before the restart: it goes into the epochs
	// after the replayed one, committed as usual.
	recs = recs[:0]
	for i := n; i < n+1000; i++ {
		recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p2, err := run(mem, func(p *runtime.Pipeline) bool { return p.Stats().RowsWritten >= int64(in.Rows)+1000 })
	if err != nil {
		t.Fatal(err)
	}
	if d := p2.Stats().PossibleDuplicates; d != 0 {
		t.Errorf("possible duplicates %d, want 0", d)
	}
	out, err := exec.Command(kcat, "-C", "-b", brokers, "-t", "out", "-o", "beginning", "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", "%s\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range strings.Fields(string(out)) {
		seen[l]++
	}
	if len(seen) != n+1000 {
		t.Errorf("read_committed saw %d distinct rows, want %d", len(seen), n+1000)
	}
	for row, k := range seen {
		if k != 1 {
			t.Errorf("row %s seen %d times", row, k)
		}
	}
	t.Logf("the crashed epoch held %d rows; its replay was aborted", in.Rows)
}

// registerOnce registers the connector with the runtime (and its
// declaration) and the JSON format, unless a test did already.
func registerOnce() {
	if _, ok := connector.Lookup("kafka"); !ok {
		runtime.Register(Connector)
	}
	if _, ok := format.Lookup("json"); !ok {
		format.Register(jsonformat.Format)
	}
}
