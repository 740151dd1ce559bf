package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Defaults of the sink batching options.
const (
	// DefaultBatchSize is the rows per sink write when the sink's
	// batch_size option is not set.
	DefaultBatchSize = 100000
	// DefaultFlushInterval is the longest rows wait for a write when the
	// sink's flush_interval option is not set.
	DefaultFlushInterval = time.Second
)

const (
	chunkRecords  = 1024 // records per decode task
	chunksPerSrc  = 8    // decode tasks in flight per source: bounds memory
	shipRows      = 8192 // rows per batch handed to the sink goroutine
	sinkQueueLen  = 8    // batches queued for the sink goroutine
	watermarkTick = 100 * time.Millisecond
	fullEvery     = 64 // incremental checkpoints between full ones, at most
)

// Options configure a pipeline run. The zero value works: no checkpoint
// store (offsets are still committed after each write, but state starts
// empty after a restart), decode on every core, the sink's own batching
// options.
type Options struct {
	// Store persists checkpoints; nil disables them.
	Store CheckpointStore
	// GroupID is the default prefix of consumer groups,
	// <group_id>.<pipeline>, for sources without a group_id option of
	// their own. Default "sluice".
	GroupID string
	// DecodeWorkers is the number of decode goroutines. Default
	// GOMAXPROCS.
	DecodeWorkers int
	// BatchSize and FlushInterval override the sink's batch_size and
	// flush_interval options (see DefaultBatchSize, DefaultFlushInterval).
	BatchSize     int
	FlushInterval time.Duration
	// CheckpointInterval is how often a pipeline whose sink writes
	// continuously (SinkContinuous) checkpoints: flushes the sink, stores
	// the checkpoint and commits the source offsets. Its rows are written
	// as they are produced, in between. A batch sink checkpoints with each
	// write instead (batch_size, flush_interval). Default
	// DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// PollTimeout bounds one Source.Poll so the polling goroutine can
	// serve commits and dead letters. Default 100ms.
	PollTimeout time.Duration
	// StopTimeout bounds the final write, checkpoint and commit after the
	// context is cancelled. Default 30s.
	StopTimeout time.Duration
	// Now is the clock for idleness; default time.Now.
	Now func() time.Time
	// Logf receives operational messages; default discards them.
	Logf func(format string, args ...any)
	// Owner is the lease the run holds on the pipeline, recorded on every
	// checkpoint and write intent so the store can refuse those of a
	// fenced owner (ErrFenced). Zero: no lease.
	Owner Owner
	// Task is the share of the pipeline this run executes; the zero value
	// runs all of it. A task of a split pipeline reads only the partitions
	// it owns, and stores its checkpoints and write intents under
	// TaskName(pipeline, Task), so that tasks never share one. Its sources
	// keep the pipeline's consumer groups: each task commits only the
	// partitions it owns.
	Task Task
}

func (o *Options) fill(sink *dag.SinkSpec) error {
	if o.GroupID == "" {
		o.GroupID = "sluice"
	}
	if o.DecodeWorkers <= 0 {
		o.DecodeWorkers = runtime.GOMAXPROCS(0)
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 100 * time.Millisecond
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if sink != nil {
		rows, flush, err := SinkBatching(sink)
		if err != nil {
			return err
		}
		if o.BatchSize <= 0 {
			o.BatchSize = rows
		}
		if o.FlushInterval <= 0 {
			o.FlushInterval = flush
		}
	}
	return nil
}

// LagReporter is an optional Source interface: Lag returns how many records
// the source is behind the end of its partitions, or -1 if unknown. It is
// called from the goroutine that calls Poll, before and after each Poll.
// It also decides idleness: a poll waits for idle partitions only while
// the source is caught up (Lag 0); while it is behind or does not know,
// its partitions have records to come and none of them is idle.
type LagReporter interface {
	Lag() int64
}

// TokenDeduplicator is an optional Sink interface: a sink that reports true
// drops a write whose token it has already stored (ClickHouse insert
// deduplication), so a replayed batch is not written twice.
type TokenDeduplicator interface {
	DeduplicatesTokens() bool
}

// Pipeline runs one dag.Graph whose last node is a sink.
type Pipeline struct {
	g        *dag.Graph
	opts     Options
	counters *pipelineCounters
	running  atomic.Bool
}

// NewPipeline checks g and prepares to run it. Nothing is opened until
// Run.
func NewPipeline(g *dag.Graph, opts Options) (*Pipeline, error) {
	if len(g.Nodes) == 0 || g.Nodes[len(g.Nodes)-1].Kind != dag.KindSink {
		return nil, fmt.Errorf("pipeline %q: the last node must be a sink", g.Name)
	}
	if err := opts.fill(g.Nodes[len(g.Nodes)-1].Sink); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", g.Name, err)
	}
	// Build once to report graph errors now rather than at Run.
	if _, err := buildRunner(g, func(*Batch) {}, nil); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", g.Name, err)
	}
	for _, n := range g.Nodes {
		if n.Kind == dag.KindSource {
			if _, err := newRecordDecoder(n.Schema, n.Source); err != nil {
				return nil, fmt.Errorf("pipeline %q: source %q: %w", g.Name, n.Source.Name, err)
			}
			if _, err := SourceMaxFuture(n.Source); err != nil {
				return nil, fmt.Errorf("pipeline %q: %w", g.Name, err)
			}
		}
	}
	return &Pipeline{g: g, opts: opts, counters: &pipelineCounters{}}, nil
}

// DefaultMaxFuture is how far ahead of the clock an event time may be
// when the source's max_future option is not set.
const DefaultMaxFuture = 24 * time.Hour

// SourceMaxFuture reads a source's max_future option: records whose event
// time is later than the clock plus this are dead-lettered, so that they
// never move the watermark. 0 turns the check off.
func SourceMaxFuture(spec *dag.SourceSpec) (time.Duration, error) {
	d, err := durationOption(spec.Connector, connector.Source, spec.Options, maxFutureOption)
	if err != nil {
		return 0, fmt.Errorf("source %q: %w", spec.Name, err)
	}
	return d, nil
}

// Stats returns a snapshot of the pipeline's counters; safe at any time.
func (p *Pipeline) Stats() Stats { return p.counters.snapshot() }

// Run executes the pipeline until ctx is cancelled (then it writes the
// rows already produced, checkpoints, commits and returns nil) or a
// source or the sink fails (then it returns the error after the same
// orderly stop where possible).
//
// A panic in any of the pipeline's goroutines (a bug, or a connector's)
// stops only this pipeline: Run returns it as a *PanicError, and the stack
// goes to Options.Logf.
func (p *Pipeline) Run(ctx context.Context) (err error) {
	// Two runs would share a consumer group and a checkpoint.
	if !p.running.CompareAndSwap(false, true) {
		return fmt.Errorf("pipeline %q is already running", p.g.Name)
	}
	defer p.running.Store(false)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pipeline %q: %w", p.g.Name, newPanicError("start", r, p.g.Name, p.opts.Logf))
		}
	}()
	x, err := newExecution(p.g, p.opts, p.counters, nil)
	if err != nil {
		return err
	}
	return x.run(ctx)
}

// PanicError is a panic recovered inside a pipeline: Where names the part
// that panicked (start, poll, decode, operators, sink), Value is what it
// panicked with and Stack its goroutine's stack.
type PanicError struct {
	Where string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error in %s: %v (the stack is in the log)", e.Where, e.Value)
}

func newPanicError(where string, v any, pipeline string, logf func(string, ...any)) *PanicError {
	e := &PanicError{Where: where, Value: v, Stack: debug.Stack()}
	if logf != nil {
		logf("pipeline %q: panic in %s: %v\n%s", pipeline, where, v, e.Stack)
	}
	return e
}

// testPanic, when set by a test, is called by the decode workers with
// "decode" before each chunk and by the operator goroutine with
// "operators" before each chunk, so tests can make those parts panic.
var testPanic func(pipeline, where string)

// recovered turns a panic in one of the execution's goroutines into its
// error and stops the run. It returns true when there was one.
func (x *execution) recovered(where string, r any) bool {
	if r == nil {
		return false
	}
	x.broken.Store(true)
	x.fail(newPanicError(where, r, x.g.Name, x.opts.Logf))
	return true
}

// Preview runs g, whose last node is not a sink, and hands each batch of
// its output to fn until a Limit node is satisfied, fn returns an error,
// or ctx ends. It writes nothing: no sink, no commits, no dead letters, no
// checkpoints. The batch is valid only during the call. A nil error is
// returned when the preview ends by its limit or by ctx.
func Preview(ctx context.Context, g *dag.Graph, opts Options, fn func(*Batch) error) error {
	return PreviewCounted(ctx, g, opts, &PreviewCounters{}, fn)
}

// PreviewCounters are the counters of one preview, readable while it
// runs.
type PreviewCounters struct{ c pipelineCounters }

// Stats returns a snapshot of the preview's counters.
func (p *PreviewCounters) Stats() Stats { return p.c.snapshot() }

// PreviewCounted is Preview counting into counters, which the caller may
// read while the preview runs (to show why rows are missing from it).
func PreviewCounted(ctx context.Context, g *dag.Graph, opts Options, counters *PreviewCounters, fn func(*Batch) error) (err error) {
	if len(g.Nodes) == 0 || g.Nodes[len(g.Nodes)-1].Kind == dag.KindSink {
		return errors.New("preview: the last node must not be a sink")
	}
	if err := opts.fill(nil); err != nil {
		return err
	}
	opts.Store = nil
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("preview: %w", newPanicError("start", r, g.Name, opts.Logf))
		}
	}()
	x, err := newExecution(g, opts, &counters.c, fn)
	if err != nil {
		return err
	}
	return x.run(ctx)
}
