// Package blackhole is Sluice's blackhole sink: it counts the rows it is
// given and discards them, to measure the engine without a destination.
package blackhole

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the blackhole connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

var declaration = connector.Connector{
	Name:  "blackhole",
	Doc:   "Counts the rows and discards them, for benchmarking the engine without a destination.",
	Kinds: []connector.Kind{connector.Sink},
	// Rows are counted as they are produced.
	Continuous: true,
	Options:    []connector.Option{connector.ContinuousBatchSize, connector.ContinuousFlushInterval},
}

var _ runtime.Sink = (*Sink)(nil)

// Sink discards rows, counting them.
type Sink struct {
	name   string
	rows   atomic.Int64
	writes atomic.Int64
}

// OpenSink opens a blackhole sink.
func OpenSink(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err == nil {
		// Used by the runtime, which batches the writes.
		o.Count("batch_size")
		o.Duration("flush_interval")
		err = o.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("open blackhole sink %q: %w", cfg.Spec.Name, err)
	}
	return &Sink{name: cfg.Spec.Name}, nil
}

// Write counts b's rows and forgets them.
func (s *Sink) Write(_ context.Context, b *runtime.Batch, _ string) error {
	s.rows.Add(int64(b.Len))
	s.writes.Add(1)
	return nil
}

// Rows returns the rows written so far.
func (s *Sink) Rows() int64 { return s.rows.Load() }

// Close logs what the sink discarded.
func (s *Sink) Close() error {
	slog.Info("blackhole sink closed", "sink", s.name, "rows", s.rows.Load(), "writes", s.writes.Load())
	return nil
}
