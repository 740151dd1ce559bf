package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// monSource makes records as fast as the pipeline takes them; monSink
// takes 5 µs per row (200,000 rows a second at most), so the sink is what
// holds the pipeline back.
type monSource struct {
	next int64
	recs []runtime.Record
}

func (s *monSource) Poll(ctx context.Context) ([]runtime.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.recs = s.recs[:0]
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := 0; i < 500; i++ {
		s.recs = append(s.recs, runtime.Record{Offset: s.next, Value: fmt.Appendf(nil, `{"id":%d,"ts":%q}`, s.next, now)})
		s.next++
	}
	return s.recs, nil
}
func (s *monSource) Partitions() []int32                                       { return []int32{0} }
func (s *monSource) Commit(context.Context, runtime.Offsets) error             { return nil }
func (s *monSource) DeadLetter(context.Context, *runtime.Record, string) error { return nil }
func (s *monSource) Close() error                                              { return nil }

type monSink struct{}

func (monSink) Write(ctx context.Context, b *runtime.Batch, _ string) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(b.Len) * 5 * time.Microsecond):
	}
	return nil
}
func (monSink) Close() error { return nil }

func init() {
	runtime.Register(runtime.Connector{
		Declaration: connector.Connector{Name: "monitortest", Doc: "a fast source and a slow sink", Kinds: []connector.Kind{connector.Source, connector.Sink}},
		OpenSource: func(context.Context, runtime.SourceConfig) (runtime.Source, error) {
			return &monSource{}, nil
		},
		OpenSink: func(context.Context, runtime.SinkConfig) (runtime.Sink, error) { return monSink{}, nil },
	})
}

// A sink slower than its source fills its input queue: the live counters
// name it as the bottleneck, saturated, and say why.
func TestLiveNamesASlowSink(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, `CREATE SOURCE fast (id UInt64, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (connector = 'monitortest');
CREATE SINK slow (id UInt64) WITH (connector = 'monitortest');
CREATE PIPELINE jam AS INSERT INTO slow SELECT id FROM fast WHERE id >= 0;`)
	var tr LiveTracker
	var full, wrote bool
	waitFor(t, "the sink named the bottleneck", func() bool {
		l, err := s.Live("jam", &tr)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if len(l.Nodes) == 0 {
			return false
		}
		sink := l.Nodes[len(l.Nodes)-1]
		if sink.Kind != "sink" || l.Bottleneck != sink.ID || !l.Saturated {
			return false
		}
		for _, n := range l.Nodes {
			if n.Busy > 1 && n.Kind != "source" {
				t.Fatalf("%s busy %v of a core", n.Kind, n.Busy)
			}
		}
		if sink.QueueFill >= 0.75 && strings.Contains(l.Why, "input queue stays full") && l.Metrics != nil && l.Metrics.SinkQueue >= 0.75 {
			full = true
		}
		if sink.BatchRows > 0 && sink.LatencyMS > 0 && sink.RowsOut > 0 {
			wrote = true
		}
		return full && wrote
	})
}
