package kafka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// DeadLetters reads back what DeadLetter stored, newest first and bounded,
// through the runtime's connector registry.
func TestReadDeadLetters(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(2, "orders"))
	spec := &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "orders"}}
	registerOnce()

	// No dead-letter topic yet: none.
	got, ok, err := runtime.ReadDeadLetters(ctxT(t), spec, 10)
	if err != nil || !ok || len(got) != 0 {
		t.Fatalf("before any: %v, %v, %v", got, ok, err)
	}

	produce(t, brokers, "orders", 6, 2)
	s := openSrc(t, map[string]string{"brokers": brokers, "topic": "orders"}, "g", nil)
	recs := pollN(t, s, 6)
	for i, r := range recs {
		if err := s.DeadLetter(ctxT(t), &r, fmt.Sprintf("reason %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err = runtime.ReadDeadLetters(ctxT(t), spec, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d dead letters, want 4", len(got))
	}
	seen := map[string]bool{}
	for _, d := range got {
		var i int
		if _, err := fmt.Sscanf(d.Reason, "reason %d", &i); err != nil {
			t.Fatalf("reason %q", d.Reason)
		}
		r := recs[i]
		if d.Topic != "orders" || d.Partition != r.Partition || d.Offset != r.Offset || string(d.Value) != string(r.Value) {
			t.Fatalf("dead letter %+v, want the record %d at %d/%d", d, i, r.Partition, r.Offset)
		}
		seen[d.Reason] = true
	}
	if len(seen) != 4 {
		t.Fatalf("dead letters listed twice: %v", seen)
	}
	// n bounds the list; with room for all, all six are there.
	if all, _, err := runtime.ReadDeadLetters(ctxT(t), spec, 100); err != nil || len(all) != 6 {
		t.Fatalf("all: %d, %v", len(all), err)
	}
	// Newest first.
	for i := 1; i < len(got); i++ {
		if got[i].Time.After(got[i-1].Time) {
			t.Fatalf("not newest first: %v after %v", got[i].Time, got[i-1].Time)
		}
	}

	// A large value is cut.
	big := strings.Repeat("x", runtime.MaxDeadLetterBytes+10)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "orders.dlq", Value: []byte(big),
		Headers: []kgo.RecordHeader{{Key: HeaderError, Value: []byte("too big")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got, _, err = runtime.ReadDeadLetters(ctxT(t), spec, 1)
	if err != nil || len(got) != 1 || got[0].Reason != "too big" || !got[0].Truncated || len(got[0].Value) != runtime.MaxDeadLetterBytes || got[0].Partition != -1 {
		t.Fatalf("big: %+v, %v", got, err)
	}
}
