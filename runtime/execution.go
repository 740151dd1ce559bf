package runtime

// One run of a pipeline: its goroutines, their channels and the state they
// share. Run opens the sources and the sink, restores the last checkpoint
// and starts the decode, poll, operator and sink loops (poll.go,
// operators.go, sinkloop.go); barriers (barrier.go) and the replay cut
// (replay.go) tie them together.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

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
	// continuous is true for a sink that writes rows as they are produced
	// (SinkContinuous): batches are shipped and written at once, and
	// barriers come every CheckpointInterval instead of at batch_size.
	continuous bool
	// shipAt is the pending rows that make a batch for the sink goroutine.
	shipAt int
	// replayCount is the checkpoints during which the rows a continuous
	// at-least-once sink writes count as possible duplicates, after a
	// crash (sink goroutine).
	replayCount int

	work    chan *chunk
	ordered chan *chunk
	ckptReq chan struct{}
	sinkQ   chan sinkMsg
	freeB   chan *Batch

	// operator goroutine state
	pending *Batch
	// pendingSince is when the first row now pending was produced (for a
	// continuous sink's flush_interval).
	pendingSince time.Time
	epoch        uint64
	dirty        bool
	limitDone    bool
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
			if _, err := newRecordDecoder(n.Schema, n.Source); err != nil {
				return nil, fmt.Errorf("source %q: %w", n.Source.Name, err)
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
	x.work = make(chan *chunk, opts.DecodeWorkers)
	x.ordered = make(chan *chunk, chunksPerSrc*len(x.sources))
	x.ckptReq = make(chan struct{}, 1)
	x.sinkQ = make(chan sinkMsg, sinkQueueLen)
	rc.ordered, rc.sinkQ = x.ordered, x.sinkQ
	counters.parts.Store(rc)
	x.freeB = make(chan *Batch, sinkQueueLen+2)
	x.shipAt = shipRows
	if x.sinkNode != nil {
		x.pending = NewBatch(x.sinkSchema)
		x.continuous = SinkContinuous(x.sinkNode.Sink)
		if x.continuous {
			x.shipAt = min(shipRows, max(opts.BatchSize, 1))
		}
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
	// Checkpoints and intents are the task's; consumer groups and the
	// names sinks derive stay the pipeline's (the sinks add the task).
	name := TaskName(x.g.Name, x.opts.Task)
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
		cfg := SourceConfig{Spec: s.spec, GroupID: x.opts.GroupID, Task: x.opts.Task}
		if x.preview == nil {
			cfg.Pipeline = x.g.Name
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
	if err := x.checkCoPartitioned(); err != nil {
		x.closeSources()
		return fmt.Errorf("pipeline %q: %w", name, err)
	}
	if x.sinkNode != nil {
		sc := SinkConfig{Spec: x.sinkNode.Sink, Schema: x.sinkSchema, Pipeline: x.g.Name, GroupID: x.opts.GroupID, CheckpointInterval: x.opts.CheckpointInterval, Task: x.opts.Task}
		if x.restored != nil {
			sc.Restored = x.restored.Epoch
		}
		if x.intent != nil {
			sc.Pending = x.intent.Epoch
		}
		sink, err := OpenSink(runCtx, sc)
		if err != nil {
			x.closeSources()
			return fmt.Errorf("pipeline %q: open sink %q: %w", name, x.sinkNode.Sink.Name, err)
		}
		x.sink = sink
		if d, ok := sink.(TokenDeduplicator); ok {
			x.dedupSink = d.DeduplicatesTokens()
		}
		if _, ok := sink.(Committer); ok {
			// A replayed epoch that was committed is dropped (Committer).
			x.dedupSink = true
		}
		if !x.dedupSink {
			w := fmt.Sprintf("sink %q cannot drop a batch replayed after a crash (no insert deduplication): the rows of the write in flight at a crash may be written twice, counted as possible duplicates", x.sinkNode.Sink.Name)
			if x.continuous {
				w = fmt.Sprintf("sink %q cannot drop a batch replayed after a crash (at-least-once delivery): the rows it was given since the last checkpoint may be written twice; those of an interrupted checkpoint are counted as possible duplicates", x.sinkNode.Sink.Name)
			}
			if x.counters.sinkWarning.Swap(&w) == nil {
				x.opts.Logf("warning: %s", w)
			}
		}
		// A restart from a checkpoint that a stop did not store, or with
		// a write intent newer than the checkpoint (or without one), follows
		// a crash.
		crashed := x.restored != nil && !x.restored.Final || x.intent != nil
		replayCounted := x.continuous && !x.dedupSink && crashed
		if x.intent != nil && !x.dedupSink && !replayCounted {
			x.counters.possibleDups.Add(int64(x.intent.Rows))
		}
		if x.continuous && !x.dedupSink && x.opts.Store != nil && (x.restored == nil || x.restored.Final) && x.intent == nil {
			// Mark the run as started, so that a crash before its first
			// checkpoint is known as one by the next run (above), also
			// when it resumed from a clean stop (or was taken over from
			// one by another server): the mark is newer than the
			// checkpoint.
			mark := &Intent{Owner: x.opts.Owner}
			if x.restored != nil {
				mark.Epoch = x.restored.Epoch + 1
			}
			if err := x.opts.Store.SaveIntent(runCtx, name, mark); err != nil {
				x.closeSources()
				sink.Close()
				return fmt.Errorf("pipeline %q: store write intent: %w", name, err)
			}
		}
		if replayCounted {
			// The last run did not stop cleanly: it may have written rows
			// after its last checkpoint (and after an interrupted one's),
			// which the replay writes again. They are counted until the
			// first checkpoint: after an interrupted checkpoint that is the
			// replay cut, which reproduces exactly its rows (the sink
			// goroutine writes nothing more before a checkpoint is stored);
			// otherwise an upper bound of what the crashed run wrote after
			// its last checkpoint.
			x.replayCount = 1
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

// checkCoPartitioned refuses to run a task of a split pipeline whose
// sources have different numbers of partitions: task i reads partitions
// p % Count == i of every source, so a key produced to partition p of one
// input meets the same key of another in the same task only when both
// are partitioned alike. Sources that cannot tell are not checked.
func (x *execution) checkCoPartitioned() error {
	if !x.opts.Task.Split() || len(x.sources) < 2 {
		return nil
	}
	var first *sourceRT
	total := 0
	for _, s := range x.sources {
		pc, ok := s.src.(PartitionCounter)
		if !ok {
			continue
		}
		n := pc.TotalPartitions()
		if first == nil {
			first, total = s, n
			continue
		}
		if n != total {
			return fmt.Errorf("sources %q (%d partitions) and %q (%d partitions) are not co-partitioned: every source of a pipeline with parallelism %d needs the same number of partitions",
				first.spec.Name, total, s.spec.Name, n, x.opts.Task.Count)
		}
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
