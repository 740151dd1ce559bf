package runtime

// Sink delivery styles. A sink declares (connector.Connector.Continuous)
// whether it writes rows as the operators produce them — Kafka, a file,
// standard output — or in batches, each write followed by a checkpoint —
// ClickHouse, PostgreSQL, Delta. Continuous sinks are flushed at each
// checkpoint, which runs on its own interval (Options.CheckpointInterval).

import (
	"context"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
)

// DefaultCheckpointInterval is how often a pipeline with a continuous sink
// checkpoints when neither the pipeline's checkpoint_interval option nor
// Options.CheckpointInterval says otherwise.
const DefaultCheckpointInterval = 5 * time.Second

// Flusher is an optional Sink interface for continuous sinks whose Write
// may return before the rows are durable (a Kafka producer's buffered
// records, a file not yet synced). Flush returns once every row of every
// Write before it is durably written, or with the error that kept one of
// them from it. The runtime calls it at each checkpoint, before the
// checkpoint is stored and the source offsets are committed.
type Flusher interface {
	Flush(ctx context.Context) error
}

// sinkWrappers maps a connector that wraps another sink (the server's
// tail tap) to a function returning the spec of the sink it wraps, so that
// the wrapped connector's declaration (delivery style, batching options
// and their defaults) is the one in force.
var sinkWrappers = map[string]func(*dag.SinkSpec) *dag.SinkSpec{}

// RegisterSinkWrapper registers a sink factory, like RegisterSink, for a
// connector that opens another sink inside it; inner returns the spec of
// that sink. The runtime reads the declaration of the inner connector.
func RegisterSinkWrapper(name string, open SinkOpener, inner func(*dag.SinkSpec) *dag.SinkSpec) {
	registry.Lock()
	sinkWrappers[name] = inner
	registry.Unlock()
	RegisterSink(name, open)
}

// declaredSink returns the spec of the sink whose declaration governs
// spec: spec itself, or the sink a wrapper opens.
func declaredSink(spec *dag.SinkSpec) *dag.SinkSpec {
	for range 8 {
		registry.RLock()
		inner := sinkWrappers[spec.Connector]
		registry.RUnlock()
		if inner == nil {
			break
		}
		spec = inner(spec)
	}
	return spec
}

// SinkContinuous tells whether a sink writes continuously (its connector
// declares Continuous): rows are handed to it as the operators produce
// them, and it is flushed at each checkpoint. Otherwise it writes in
// batches, each write followed by a checkpoint.
func SinkContinuous(spec *dag.SinkSpec) bool {
	c, ok := connector.Lookup(declaredSink(spec).Connector)
	return ok && c.Continuous
}
