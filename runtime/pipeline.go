package runtime

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
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
// called from the goroutine that calls Poll, after each Poll.
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
			if _, err := newDecoder(n.Schema, n.Source.Declared); err != nil {
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

// execution is one Run of a graph.
//
// Goroutines: one poller per source (the only caller of that Source's
// methods), DecodeWorkers decoders, the operator goroutine (runs in run:
// all operators, watermarks, barriers) and, for pipelines, the sink
// goroutine (accumulates, writes, checkpoints, asks pollers to commit).
// They talk only through bounded channels:
//
//	poller ─work─► decoders;  poller ─ordered─► operator (in poll order)
//	operator ─sinkQ─► sink;   sink ─ckptReq─► operator
//	operator, sink ─ctrl─► poller (dead letters, commits; FIFO)
//
// The one mutex (errMu) guards the first error only and is never held
// while taking another lock or sending on a channel.
type execution struct {
	g        *dag.Graph
	opts     Options
	counters *pipelineCounters
	preview  func(*Batch) error

	runner     *runner
	sources    []*sourceRT
	sinkNode   *dag.Node
	sinkSchema dag.Schema
	sink       Sink
	dedupSink  bool

	work    chan *chunk
	ordered chan *chunk
	ckptReq chan struct{}
	sinkQ   chan sinkMsg
	freeB   chan *Batch

	// operator goroutine state
	pending   *Batch
	epoch     uint64
	dirty     bool
	limitDone bool
	// rowsSince counts the rows produced since the last barrier: the
	// operator goroutine emits a barrier as soon as it reaches BatchSize,
	// so a write never holds more than BatchSize rows plus the output of
	// one chunk (see maybeBarrier).
	rowsSince int
	cut       map[string]Offsets // replay-to offsets of a pending intent
	cutHeld   int
	reqWait   bool // a checkpoint request waits for the cut

	restored *Checkpoint
	intent   *Intent
	// Incremental checkpoints: haveBase is true once a full checkpoint
	// exists; a full one is taken again when the deltas since the last
	// have grown to its size, or after fullEvery deltas.
	haveBase   bool
	sinceFull  int
	deltaBytes int
	fullBytes  int

	errMu  sync.Mutex
	err    error
	cancel context.CancelFunc
	// broken is set by a panic: the run stops without its final write
	// and checkpoint, since the panic may have left a part half done.
	broken atomic.Bool
}

type sinkMsg struct {
	batch   *Batch
	barrier *Checkpoint
	final   bool
}

type ctrlMsg struct {
	dead   *Record
	reason string
	commit Offsets
	close  bool
}

type sourceRT struct {
	idx  int
	key  string
	rt   *nodeRT
	spec *dag.SourceSpec
	src  Source
	ctrl chan ctrlMsg
	free chan *chunk
	wm   *sourceWatermark
	// waited is the time (ns) the poller has spent waiting in Poll with
	// every chunk back (nothing polled is still waiting to be processed).
	// It is the clock of partition idleness: a partition is idle after
	// waiting idle_timeout for its records, not after idle_timeout of wall
	// time, so a pipeline held back by a slow sink never mistakes the
	// records it has not read yet, or has read but not processed yet, for
	// an idle partition.
	waited   atomic.Int64
	next     Offsets // next offset per partition, as far as processed
	counters *sourceCounters
	held     []*chunk // chunks past the replay cut, waiting for it
	// stable is true when the source's record bytes outlive the next Poll
	// (StableRecords): chunks then keep them instead of copying them.
	stable bool
	// maxFuture is the source's max_future option.
	maxFuture time.Duration
}

// chunk is one decode task: records copied out of a Poll, decoded by a
// worker, consumed by the operator goroutine, then reused.
type chunk struct {
	src    *sourceRT
	recs   []Record
	buf    []byte
	parts  []int32 // the source's partitions when they changed, else nil
	batch  *Batch
	rowRec []int32 // record index of each decoded row
	dead   []deadRec
	future int // records dead-lettered for max_future
	done   chan struct{}
	// failed is set when decoding the chunk panicked: it must not be
	// processed (its offsets would count as read).
	failed bool
	// detached chunks were split off during a replay cut and are not
	// returned to the free list.
	detached bool
}

type deadRec struct {
	rec    int32
	reason string
}

// clock is the source's idleness clock (see waited).
func (s *sourceRT) clock() time.Time { return time.Unix(0, s.waited.Load()) }

func sourceKey(n *dag.Node) string { return fmt.Sprintf("%d:%s", n.ID, n.Source.Name) }

func newExecution(g *dag.Graph, opts Options, counters *pipelineCounters, preview func(*Batch) error) (*execution, error) {
	x := &execution{g: g, opts: opts, counters: counters, preview: preview}
	var final func(*Batch)
	if preview != nil {
		final = func(b *Batch) {
			if err := preview(b); err != nil {
				x.fail(err)
			}
		}
	} else {
		final = x.collect
	}
	r, err := buildRunner(g, final, func() { x.limitDone = true })
	if err != nil {
		return nil, err
	}
	x.runner = r
	rc := &runCounters{}
	for _, rt := range r.nodes {
		rc.ops = append(rc.ops, rt.stats)
		n := rt.n
		if n.Kind == dag.KindSource {
			sc := &sourceCounters{name: n.Source.Name}
			sc.lag.Store(-1)
			sc.watermark.Store(noWatermark)
			rc.sources = append(rc.sources, sc)
			s := &sourceRT{
				idx: len(x.sources), key: sourceKey(n), rt: rt, spec: n.Source,
				ctrl: make(chan ctrlMsg, 64), free: make(chan *chunk, chunksPerSrc),
				wm:   newSourceWatermark(n.Source.WatermarkDelay, n.Source.IdleTimeout),
				next: Offsets{}, counters: sc,
			}
			if s.maxFuture, err = SourceMaxFuture(n.Source); err != nil {
				return nil, err
			}
			for i := 0; i < chunksPerSrc; i++ {
				s.free <- &chunk{src: s, batch: NewBatch(n.Schema), done: make(chan struct{}, 1)}
			}
			x.sources = append(x.sources, s)
		}
		if n.Kind == dag.KindSink {
			x.sinkNode = n
			// Rows reach the sink with the types of the sink node's input;
			// the sink node's own schema only renames them.
			in := r.byID[n.Inputs[0]].n.Schema
			x.sinkSchema = slices.Clone(in)
			if len(n.Schema) == len(in) {
				for i := range in {
					x.sinkSchema[i].Name = n.Schema[i].Name
				}
			}
		}
	}
	if len(x.sources) == 0 {
		return nil, errors.New("graph has no source")
	}
	counters.parts.Store(rc)
	x.work = make(chan *chunk, opts.DecodeWorkers)
	x.ordered = make(chan *chunk, chunksPerSrc*len(x.sources))
	x.ckptReq = make(chan struct{}, 1)
	x.sinkQ = make(chan sinkMsg, sinkQueueLen)
	x.freeB = make(chan *Batch, sinkQueueLen+2)
	if x.sinkNode != nil {
		x.pending = NewBatch(x.sinkSchema)
	}
	return x, nil
}

// fail records the first error and stops the run.
func (x *execution) fail(err error) {
	x.errMu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.errMu.Unlock()
	if x.cancel != nil {
		x.cancel()
	}
}

func (x *execution) firstErr() error {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	return x.err
}

func (x *execution) run(ctx context.Context) error {
	name := x.g.Name
	if x.opts.Store != nil {
		chain, err := x.opts.Store.Load(ctx, name)
		if err != nil {
			return fmt.Errorf("pipeline %q: load checkpoint: %w", name, &RestoreError{Err: err})
		}
		var cp *Checkpoint
		if len(chain) > 0 {
			cp = chain[len(chain)-1]
		}
		in, err := x.opts.Store.LoadIntent(ctx, name)
		if err != nil {
			return fmt.Errorf("pipeline %q: load write intent: %w", name, err)
		}
		if cp != nil {
			x.haveBase = true
			dropped, err := x.restoreChain(chain)
			if err != nil {
				return fmt.Errorf("pipeline %q: %w", name, &RestoreError{Err: err})
			}
			if len(dropped) > 0 {
				x.opts.Logf("pipeline %q changed since its checkpoint: starting %s with empty state", name, strings.Join(dropped, ", "))
			}
			x.epoch = cp.Epoch
			for _, s := range x.sources {
				maps.Copy(s.next, cp.Offsets[s.key])
				if w := cp.Watermarks[s.key]; w != nil {
					s.wm.restore(w, s.clock())
				}
			}
			x.restored = cp
		}
		if in != nil && (cp == nil || in.Epoch > cp.Epoch) {
			x.intent = in
			x.cut = in.End
		}
	}

	if x.opts.Store != nil {
		x.runner.trackChanges()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	x.cancel = cancel
	// The stop sequence (final write, checkpoint, commit) outlives ctx.
	stopCtx, stopCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCancel()

	for _, s := range x.sources {
		cfg := SourceConfig{Spec: s.spec, GroupID: x.opts.GroupID}
		if x.preview == nil {
			cfg.Pipeline = name
			if x.restored != nil {
				if o, ok := x.restored.Offsets[s.key]; ok {
					cfg.Resume = maps.Clone(o)
				}
			}
		}
		src, err := OpenSource(runCtx, cfg)
		if err != nil {
			x.closeSources()
			return fmt.Errorf("pipeline %q: open source %q: %w", name, s.spec.Name, err)
		}
		s.src = src
		if st, ok := src.(StableRecords); ok {
			s.stable = st.RecordsStable()
		}
	}
	if x.sinkNode != nil {
		sink, err := OpenSink(runCtx, SinkConfig{Spec: x.sinkNode.Sink, Schema: x.sinkSchema})
		if err != nil {
			x.closeSources()
			return fmt.Errorf("pipeline %q: open sink %q: %w", name, x.sinkNode.Sink.Name, err)
		}
		x.sink = sink
		if d, ok := sink.(TokenDeduplicator); ok {
			x.dedupSink = d.DeduplicatesTokens()
		}
		if !x.dedupSink {
			w := fmt.Sprintf("sink %q cannot drop a batch replayed after a crash (no insert deduplication): the rows of the write in flight at a crash may be written twice, counted as possible duplicates", x.sinkNode.Sink.Name)
			if x.counters.sinkWarning.Swap(&w) == nil {
				x.opts.Logf("warning: %s", w)
			}
		}
		if x.intent != nil && !x.dedupSink {
			x.counters.possibleDups.Add(int64(x.intent.Rows))
		}
	}

	var workers, pollers, sinkWG sync.WaitGroup
	for i := 0; i < x.opts.DecodeWorkers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			x.decodeLoop()
		}()
	}
	for _, s := range x.sources {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			x.pollLoop(runCtx, stopCtx, s)
		}()
	}
	if x.sink != nil {
		sinkWG.Add(1)
		go func() {
			defer sinkWG.Done()
			x.sinkLoop(runCtx, stopCtx)
		}()
	}

	stopTimer := context.AfterFunc(runCtx, func() {
		time.AfterFunc(x.opts.StopTimeout, stopCancel)
	})
	defer stopTimer()

	x.runOperators(runCtx)
	sinkWG.Wait()
	for _, s := range x.sources {
		s.ctrl <- ctrlMsg{close: true}
	}
	pollers.Wait()
	close(x.work)
	workers.Wait()
	if x.sink != nil {
		if err := x.closeSink(); err != nil && x.firstErr() == nil {
			x.fail(fmt.Errorf("close sink: %w", err))
		}
	}
	if err := x.firstErr(); err != nil {
		return fmt.Errorf("pipeline %q: %w", name, err)
	}
	return nil
}

// RestoreError is a checkpoint that cannot be loaded or restored: the
// pipeline cannot resume from it until it is removed (which starts the
// pipeline without state, from the offsets last committed).
type RestoreError struct{ Err error }

func (e *RestoreError) Error() string { return e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// restoreChain restores the operators, turning a panic on a damaged
// checkpoint into an error.
func (x *execution) restoreChain(chain []*Checkpoint) (dropped []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("restore: %w", newPanicError("restore", r, x.g.Name, x.opts.Logf))
		}
	}()
	return x.runner.restore(chain)
}

// runOperators runs the operator loop; after a panic in it the run stops
// without a final barrier, so nothing the panic may have left half done
// is written or checkpointed.
func (x *execution) runOperators(ctx context.Context) {
	defer func() { x.recovered("operators", recover()) }()
	x.operatorLoop(ctx)
}

func (x *execution) closeSink() (err error) {
	defer func() {
		if x.recovered("sink", recover()) {
			err = nil
		}
	}()
	return x.sink.Close()
}

func (x *execution) closeSources() {
	for _, s := range x.sources {
		if s.src != nil {
			s.src.Close()
		}
	}
}

func (x *execution) decodeLoop() {
	decs := make([]*decoder, len(x.sources))
	for c := range x.work {
		x.decodeChunk(decs, c)
		c.done <- struct{}{}
	}
}

// decodeChunk decodes c's records into c.batch. After a panic the chunk
// is handed on empty (the run is stopping) and the worker goes on serving,
// so that nothing waits for it forever.
func (x *execution) decodeChunk(decs []*decoder, c *chunk) {
	defer func() {
		if x.recovered("decode", recover()) {
			decs[c.src.idx] = nil
			c.batch.Reset()
			c.rowRec, c.dead = c.rowRec[:0], c.dead[:0]
			c.failed = true
		}
	}()
	s := c.src
	d := decs[s.idx]
	if d == nil {
		// newDecoder was checked by NewPipeline; it cannot fail here.
		d, _ = newDecoder(s.rt.n.Schema, s.spec.Declared)
		d.limitFuture(s.rt.n.TimeCol, s.maxFuture)
		decs[s.idx] = d
	}
	c.batch.Reset()
	c.rowRec = c.rowRec[:0]
	c.dead = c.dead[:0]
	c.future = 0
	c.failed = false
	if testPanic != nil {
		testPanic(x.g.Name, "decode")
	}
	// max_future is measured against the wall clock (Options.Now is the
	// idleness clock, which tests may stop).
	d.setNow(time.Now())
	for i := range c.recs {
		if err := d.decode(&c.recs[i], c.batch); err != nil {
			c.dead = append(c.dead, deadRec{rec: int32(i), reason: err.Error()})
			if _, ok := err.(*futureError); ok {
				c.future++
			}
			continue
		}
		c.rowRec = append(c.rowRec, int32(i))
	}
}

// pollLoop is the only goroutine that calls s.src. It polls until runCtx
// ends, then only serves ctrl (the final commit) until told to close.
func (x *execution) pollLoop(runCtx, stopCtx context.Context, s *sourceRT) {
	defer func() {
		if x.recovered("poll", recover()) {
			// The source is in an unknown state: call it no more, but
			// drain ctrl so that no sender waits for this goroutine.
			for m := range s.ctrl {
				if m.close {
					break
				}
			}
		}
	}()
	defer s.src.Close()
	var lastParts []int32
	serve := func(m ctrlMsg) bool {
		switch {
		case m.close:
			return false
		case m.dead != nil:
			if err := s.src.DeadLetter(stopCtx, m.dead, m.reason); err != nil {
				x.counters.deadLetterErrs.Add(1)
				x.opts.Logf("pipeline %q: source %q: dead letter: %v", x.g.Name, s.spec.Name, err)
			}
		case m.commit != nil:
			if err := s.src.Commit(stopCtx, m.commit); err != nil {
				x.counters.commitErrs.Add(1)
				x.opts.Logf("pipeline %q: source %q: commit: %v", x.g.Name, s.spec.Name, err)
			}
		}
		return true
	}
	stopping := false
	for {
		if stopping || runCtx.Err() != nil {
			if !serve(<-s.ctrl) {
				return
			}
			continue
		}
		select {
		case m := <-s.ctrl:
			if !serve(m) {
				return
			}
			continue
		default:
		}
		pctx, cancel := context.WithTimeout(runCtx, x.opts.PollTimeout)
		pollStart := x.opts.Now()
		recs, err := s.src.Poll(pctx)
		if len(s.free) == chunksPerSrc {
			// Only waiting with nothing in flight is idleness: while the
			// records of an earlier poll are still queued for the operator
			// goroutine (a slow sink holds it back), the partitions they
			// belong to are not idle, even if the source has no more.
			s.waited.Add(int64(x.opts.Now().Sub(pollStart)))
		}
		cancel()
		if err != nil && len(recs) == 0 {
			if runCtx.Err() != nil {
				continue
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				x.fail(fmt.Errorf("source %q: %w", s.spec.Name, err))
				stopping = true
				continue
			}
			// No records, but the partitions may still be news: a restored
			// watermark waits for them (sourceWatermark.unlisted).
			recs = nil
		}
		x.counters.recordsIn.Add(int64(len(recs)))
		if lr, ok := s.src.(LagReporter); ok {
			s.counters.lag.Store(lr.Lag())
		}
		parts := s.src.Partitions()
		// The first list is always handed on, even an empty one: a
		// restored watermark waits for it.
		changed := lastParts == nil || !slices.Equal(parts, lastParts)
		if changed {
			lastParts = append(make([]int32, 0, len(parts)), parts...)
		}
		for len(recs) > 0 || changed {
			n := min(len(recs), chunkRecords)
			var c *chunk
			for c == nil {
				select {
				case c = <-s.free:
				case m := <-s.ctrl:
					if !serve(m) {
						return
					}
				case <-runCtx.Done():
					// Records not handed on are simply not processed: their
					// offsets are not committed, so they are read again.
					recs, changed = nil, false
				}
				if runCtx.Err() != nil && c == nil {
					break
				}
			}
			if c == nil {
				break
			}
			c.fill(recs[:n], s.stable)
			c.parts = nil
			if changed {
				c.parts = lastParts
				changed = false
			}
			recs = recs[n:]
			for sent := false; !sent; {
				select {
				case x.work <- c:
					sent = true
				case m := <-s.ctrl:
					if !serve(m) {
						return
					}
				}
			}
			x.ordered <- c // never blocks: capacity is every chunk
		}
	}
}

// fill copies recs into c, because a Poll's records are only valid until
// the next Poll and decoding happens later on another goroutine. When the
// source's record bytes are stable (StableRecords), only the Record structs
// are copied (Poll reuses its slice of them); the keys and values are kept
// as they are. Nothing downstream needs a private copy: decoding copies
// what it keeps into the batch, dead letters are cloned, and split chunks
// only share the bytes, which stay valid either way.
func (c *chunk) fill(recs []Record, stable bool) {
	if stable {
		c.buf = c.buf[:0]
		c.recs = append(c.recs[:0], recs...)
		return
	}
	total := 0
	for i := range recs {
		total += len(recs[i].Key) + len(recs[i].Value)
	}
	if cap(c.buf) < total {
		c.buf = make([]byte, 0, total+total/4)
	}
	c.buf = c.buf[:0]
	c.recs = c.recs[:0]
	for _, r := range recs {
		if r.Key != nil {
			k := len(c.buf)
			c.buf = append(c.buf, r.Key...)
			r.Key = c.buf[k:len(c.buf):len(c.buf)]
		}
		v := len(c.buf)
		c.buf = append(c.buf, r.Value...)
		r.Value = c.buf[v:len(c.buf):len(c.buf)]
		c.recs = append(c.recs, r)
	}
}

// operatorLoop runs every operator. It returns after ctx ends (having
// sent the final barrier) or, for a preview, when the limit is reached.
func (x *execution) operatorLoop(ctx context.Context) {
	tick := time.NewTicker(watermarkTick)
	defer tick.Stop()
	defer func() {
		if x.sinkQ != nil && x.sink != nil {
			close(x.sinkQ)
		}
	}()
	for {
		if x.limitDone || (x.preview != nil && x.firstErr() != nil) {
			x.cancel()
			return
		}
		select {
		case <-ctx.Done():
			if x.sink != nil && !x.broken.Load() {
				if x.cut != nil && x.dedupSink && x.intent != nil {
					// Stopped before the replay reached the unconfirmed
					// write: the next write will not carry its token.
					x.counters.possibleDups.Add(int64(x.intent.Rows))
				}
				x.cut = nil
				x.barrier(true)
			}
			return
		case c := <-x.ordered:
			x.processChunk(c)
			x.maybeBarrier()
		case <-x.ckptReq:
			if x.cut != nil {
				x.reqWait = true
			} else {
				x.barrier(false)
			}
		case <-tick.C:
			for _, s := range x.sources {
				x.advanceSource(s, s.clock())
			}
			x.maybeBarrier()
		}
	}
}

// maybeBarrier emits a barrier once the rows produced since the last one
// reach the sink's batch size. It runs between chunks, so a write holds
// at most BatchSize rows plus the output of one chunk. The sink goroutine
// cannot do this itself: by the time it has counted BatchSize rows, the
// operator goroutine may have queued several more batches ahead of its
// request, and they would all go into the write before the barrier. While
// a replay cut is pending the barrier waits for the cut, whose write must
// cover exactly the input of the unconfirmed one.
func (x *execution) maybeBarrier() {
	if x.sink != nil && x.cut == nil && x.rowsSince >= x.opts.BatchSize {
		x.barrier(false)
	}
}

func (x *execution) advanceSource(s *sourceRT, now time.Time) {
	wm := s.wm.current(now)
	if s.counters.watermark.Swap(wm) != wm {
		// A watermark that moves may emit windows and LEFT rows or release
		// state even when no record arrives: the next barrier must write
		// and checkpoint them.
		x.dirty = true
	}
	x.runner.advance(s.rt, wm)
}

// processChunk feeds a decoded chunk to its source node and advances the
// source's watermark.
func (x *execution) processChunk(c *chunk) {
	<-c.done
	s := c.src
	if c.failed || x.broken.Load() {
		if !c.detached {
			s.free <- c
		}
		return
	}
	if testPanic != nil {
		testPanic(x.g.Name, "operators")
	}
	now := s.clock()
	if c.parts != nil {
		s.wm.setPartitions(c.parts, now)
	}
	if c.future > 0 {
		x.counters.futureRecords.Add(int64(c.future))
	}
	if len(c.dead) > 0 {
		x.counters.deadLettered.Add(int64(len(c.dead)))
		reason := c.dead[len(c.dead)-1].reason
		x.counters.lastDeadLetter.Store(&reason)
		if x.preview == nil {
			for _, d := range c.dead {
				r := c.recs[d.rec]
				r.Key = slices.Clone(r.Key)
				r.Value = slices.Clone(r.Value)
				s.ctrl <- ctrlMsg{dead: &r, reason: d.reason}
			}
		}
	}
	x.counters.rowsDecoded.Add(int64(len(c.rowRec)))
	if x.cut != nil && x.holdPastCut(c, x.cut[s.key]) {
		return
	}

	x.consume(c, now)
	if x.cut != nil && x.cutReached() {
		x.releaseCut()
	}
}

// consume runs a chunk through the graph and recycles it.
func (x *execution) consume(c *chunk, now time.Time) {
	s := c.src
	if len(c.recs) > 0 {
		s.wm.wake(now)
	}
	for i := range c.recs {
		r := &c.recs[i]
		s.next[r.Partition] = r.Offset + 1
		s.wm.touch(r.Partition, now)
	}
	tc := s.rt.n.TimeCol
	for i, ri := range c.rowRec {
		r := &c.recs[ri]
		t := r.Timestamp
		if tc >= 0 {
			v := &c.batch.Vecs[tc]
			if v.IsNull(i) {
				continue
			}
			t = timeNanos(v, i)
		}
		s.wm.observe(r.Partition, t, now)
	}
	x.dirty = true
	x.runner.push(s.rt, c.batch)
	if !c.detached {
		s.free <- c
	}
	x.advanceSource(s, now)
}

// holdPastCut handles replay after a crash: records at or past the cut
// are held back until every partition of every source reaches it, so that
// the first barrier falls exactly where the unconfirmed write ended.
// Records before the cut are processed now (in their order; partitions are
// independent). It returns true when it took care of c. Held rows are
// bounded: past a limit the cut is abandoned and the possible duplicates
// are counted instead.
//
// A partition the cut does not name had no record processed before it
// (the cut holds every partition that ever had one), so all of its
// records are past the cut. A partition with held records has records:
// it must not count as idle while they wait, or the watermark would pass
// them and release the state they need.
func (x *execution) holdPastCut(c *chunk, cut Offsets) bool {
	before := func(r *Record) bool {
		end, ok := cut[r.Partition]
		return ok && r.Offset < end
	}
	anyPast := false
	for i := range c.recs {
		if !before(&c.recs[i]) {
			anyPast = true
			break
		}
	}
	if !anyPast {
		return false
	}
	head := c.split(before, true)
	tail := c.split(before, false)
	// head and tail share c's record bytes: c gives up its buffer.
	c.buf = nil
	c.src.free <- c
	if len(head.recs) > 0 {
		x.consumeDetached(head)
	}
	c.src.held = append(c.src.held, tail)
	for i := range tail.recs {
		c.src.wm.hold(tail.recs[i].Partition)
	}
	x.cutHeld += tail.batch.Len
	if x.cutHeld > 4*DefaultBatchSize {
		x.opts.Logf("pipeline %q: replay did not reach the last write's offsets; its rows may be duplicated", x.g.Name)
		if x.dedupSink && x.intent != nil {
			x.counters.possibleDups.Add(int64(x.intent.Rows))
		}
		x.releaseCut()
	} else if x.cutReached() {
		x.releaseCut()
	}
	return true
}

// split returns a detached chunk with the records for which keep returns
// want, and their decoded rows.
func (c *chunk) split(keep func(*Record) bool, want bool) *chunk {
	d := &chunk{src: c.src, batch: emptyLike(c.batch.Vecs), detached: true}
	newIdx := make([]int32, len(c.recs))
	for i := range c.recs {
		newIdx[i] = -1
		if keep(&c.recs[i]) == want {
			newIdx[i] = int32(len(d.recs))
			d.recs = append(d.recs, c.recs[i])
		}
	}
	var sel []int32
	for row, ri := range c.rowRec {
		if n := newIdx[ri]; n >= 0 {
			sel = append(sel, int32(row))
			d.rowRec = append(d.rowRec, n)
		}
	}
	d.batch.Gather(c.batch, sel)
	return d
}

// consumeDetached processes a chunk that is not from the free list.
func (x *execution) consumeDetached(c *chunk) {
	c.detached = true
	x.consume(c, c.src.clock())
}

func (x *execution) cutReached() bool {
	for _, s := range x.sources {
		for p, end := range x.cut[s.key] {
			if s.next[p] < end {
				return false
			}
		}
	}
	return true
}

// releaseCut emits the barrier at the cut, then the held rows.
func (x *execution) releaseCut() {
	x.cut = nil
	x.barrier(false)
	x.reqWait = false
	x.cutHeld = 0
	for _, s := range x.sources {
		held := s.held
		s.held = nil
		s.wm.release()
		for _, c := range held {
			x.consumeDetached(c)
			x.maybeBarrier()
		}
	}
}

// collect receives the rows for the sink.
func (x *execution) collect(b *Batch) {
	x.rowsSince += b.Len
	x.pending.AppendBatch(b)
	if x.pending.Len >= shipRows {
		x.ship()
	}
}

func (x *execution) ship() {
	if x.pending.Len == 0 {
		return
	}
	x.sinkQ <- sinkMsg{batch: x.pending}
	select {
	case b := <-x.freeB:
		b.Reset()
		x.pending = b
	default:
		x.pending = NewBatch(x.sinkSchema)
	}
}

// barrier snapshots every operator with the offsets it reflects and sends
// the checkpoint down the sink queue behind the rows produced before it.
func (x *execution) barrier(final bool) {
	x.ship()
	x.rowsSince = 0
	if !x.dirty && !final {
		// Nothing changed since the last barrier; let the sink know the
		// request was seen.
		x.sinkQ <- sinkMsg{}
		return
	}
	x.dirty = false
	x.epoch++
	cp := &Checkpoint{
		Epoch:      x.epoch,
		Offsets:    map[string]Offsets{},
		Watermarks: map[string]map[int32]int64{},
		Time:       x.opts.Now(),
	}
	for _, s := range x.sources {
		cp.Offsets[s.key] = maps.Clone(s.next)
		cp.Watermarks[s.key] = s.wm.state()
	}
	if x.opts.Store == nil {
		// Nothing will store the operators' state: the checkpoint only
		// carries the offsets to commit after the write (and its token).
		// Skipping the snapshot is safe because change tracking is off
		// without a store (run calls trackChanges only with one), so no
		// operator keeps a change log that a snapshot would have reset.
		x.sinkQ <- sinkMsg{barrier: cp, final: final}
		return
	}
	full := !x.haveBase || x.sinceFull >= fullEvery || x.deltaBytes >= x.fullBytes
	size := x.runner.snapshot(cp, full)
	if full {
		x.haveBase = true
		x.sinceFull, x.deltaBytes, x.fullBytes = 0, 0, size
	} else {
		x.sinceFull++
		x.deltaBytes += size
	}
	x.sinkQ <- sinkMsg{barrier: cp, final: final}
}

// sinkLoop accumulates rows, writes them at barriers, stores each
// checkpoint after its write and then has the sources commit.
func (x *execution) sinkLoop(runCtx, stopCtx context.Context) {
	defer func() {
		if x.recovered("sink", recover()) {
			// Nothing more is written or checkpointed; drain the queue so
			// that the operator goroutine is not held up.
			for range x.sinkQ {
			}
		}
	}()
	acc := NewBatch(x.sinkSchema)
	name := x.g.Name
	prev := map[string]Offsets{}
	if x.restored != nil {
		prev = x.restored.Offsets
	}
	lastFlush := x.opts.Now()
	requested := false
	request := func() {
		if requested {
			return
		}
		select {
		case x.ckptReq <- struct{}{}:
			requested = true
		default:
		}
	}
	tick := time.NewTicker(max(x.opts.FlushInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	failed := false
	var unsaved []*Checkpoint
	for {
		var m sinkMsg
		var ok bool
		select {
		case m, ok = <-x.sinkQ:
			if !ok {
				return
			}
		case <-tick.C:
			if x.opts.Now().Sub(lastFlush) >= x.opts.FlushInterval {
				request()
			}
			continue
		}
		if m.batch != nil {
			if !failed {
				acc.AppendBatch(m.batch)
			}
			select {
			case x.freeB <- m.batch:
			default:
			}
			// batch_size is the operator goroutine's trigger
			// (maybeBarrier); flush_interval is this one's.
			continue
		}
		requested = false
		cp := m.barrier
		if cp == nil || failed || x.broken.Load() {
			lastFlush = x.opts.Now()
			continue
		}
		// Every write runs under stopCtx, which outlives the stop by
		// StopTimeout: a stop lets a write in flight finish rather than
		// cancelling it and writing its rows again under the final
		// barrier's token, which would store them twice.
		ctx := stopCtx
		if acc.Len > 0 {
			token := writeToken(name, cp.Epoch, prev, cp.Offsets)
			if x.opts.Store != nil {
				in := &Intent{Epoch: cp.Epoch, Token: token, Rows: acc.Len, End: cp.Offsets}
				if err := x.opts.Store.SaveIntent(ctx, name, in); err != nil {
					x.fail(fmt.Errorf("store write intent: %w", err))
					failed = true
					continue
				}
			}
			t0 := time.Now()
			err := x.sink.Write(ctx, acc, token)
			if err != nil {
				if runCtx.Err() != nil && !m.final {
					// The stop's time ran out during the write: the rows
					// stay in acc for the final barrier, and this checkpoint
					// is saved before the final one (a later incremental
					// checkpoint builds on it). The interrupted insert may
					// have landed, so its rows count as possible duplicates.
					x.counters.possibleDups.Add(int64(acc.Len))
					unsaved = append(unsaved, cp)
					continue
				}
				x.fail(fmt.Errorf("sink %q: %w", x.sinkNode.Sink.Name, err))
				failed = true
				continue
			}
			d := time.Since(t0)
			x.counters.sinkNanos.Add(int64(d))
			x.counters.lastSinkNanos.Store(int64(d))
			x.counters.batchesWritten.Add(1)
			x.counters.rowsWritten.Add(int64(acc.Len))
			acc.Reset()
		}
		if x.opts.Store != nil {
			unsaved = append(unsaved, cp)
			for _, c := range unsaved {
				if err := x.opts.Store.Save(ctx, name, c); err != nil {
					x.fail(fmt.Errorf("store checkpoint: %w", err))
					failed = true
					break
				}
			}
			unsaved = unsaved[:0]
			if failed {
				continue
			}
			x.counters.checkpoints.Add(1)
			x.counters.lastCheckpoint.Store(cp.Time.UnixNano())
		}
		prev = cp.Offsets
		lastFlush = x.opts.Now()
		for _, s := range x.sources {
			if o := cp.Offsets[s.key]; len(o) > 0 {
				s.ctrl <- ctrlMsg{commit: o}
			}
		}
		if m.final {
			// Drain whatever follows (nothing should).
			for range x.sinkQ {
			}
			return
		}
	}
}

// writeToken names a write by the input it covers: the pipeline, the
// epoch and the offsets it starts and ends at. A replay from the same
// checkpoint to the same offsets produces the same rows and so the same
// token.
func writeToken(pipeline string, epoch uint64, from, to map[string]Offsets) string {
	h := fnv.New64a()
	for _, m := range []map[string]Offsets{from, to} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			h.Write([]byte(k))
			o := m[k]
			for _, p := range slices.Sorted(maps.Keys(o)) {
				fmt.Fprintf(h, "|%d=%d", p, o[p])
			}
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s-%d-%016x", pipeline, epoch, h.Sum64())
}
