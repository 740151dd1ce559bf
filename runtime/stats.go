package runtime

import (
	"sync/atomic"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// pipelineCounters are a pipeline's counters: plain atomics written by the
// pipeline's goroutines and read by Stats at any time.
type pipelineCounters struct {
	recordsIn      atomic.Int64
	rowsDecoded    atomic.Int64
	deadLettered   atomic.Int64
	deadLetterErrs atomic.Int64
	futureRecords  atomic.Int64
	rowsWritten    atomic.Int64
	batchesWritten atomic.Int64
	sinkNanos      atomic.Int64 // total time in Sink.Write
	lastSinkNanos  atomic.Int64
	lastBatchRows  atomic.Int64
	checkpoints    atomic.Int64
	commitErrs     atomic.Int64
	possibleDups   atomic.Int64
	lastCheckpoint atomic.Int64 // unix nanos
	lastDeadLetter atomic.Pointer[string]
	sinkWarning    atomic.Pointer[string]
	// parts are the per-run operator and source counters, swapped in
	// whole by each Run so Stats never sees a half-built list.
	parts atomic.Pointer[runCounters]
}

type runCounters struct {
	ops     []*operatorStats
	sources []*sourceCounters
	// The queues whose fill Stats reports: decoded chunks waiting for the
	// operator goroutine, batches waiting for the sink.
	ordered chan *chunk
	sinkQ   chan sinkMsg
}

type sourceCounters struct {
	name      string
	lag       atomic.Int64
	watermark atomic.Int64
}

// Stats is a snapshot of a pipeline's counters.
type Stats struct {
	RecordsIn    int64 // records read from the sources
	RowsDecoded  int64 // records decoded into rows
	DeadLettered int64 // records sent to the dead-letter destination
	// DeadLetterErrors counts dead letters the source could not store.
	DeadLetterErrors int64
	// FutureRecords counts the dead-lettered records whose event time was
	// more than the source's max_future ahead of the clock.
	FutureRecords  int64
	RowsWritten    int64 // rows the sink has durably written
	BatchesWritten int64
	// SinkLatency is the mean and the last duration of Sink.Write.
	SinkLatency     time.Duration
	LastSinkLatency time.Duration
	// SinkTime is the total time spent in Sink.Write (and Commit), and
	// LastBatchRows the rows of the last write.
	SinkTime      time.Duration
	LastBatchRows int64
	// OperatorQueue is the decoded chunks waiting for the operators, of
	// OperatorQueueCap; SinkQueue the batches waiting for the sink, of
	// SinkQueueCap. A queue that stays full says that what reads it is the
	// bottleneck.
	OperatorQueue, OperatorQueueCap int
	SinkQueue, SinkQueueCap         int
	Checkpoints                     int64
	LastCheckpoint                  time.Time
	CommitErrors                    int64
	// PossibleDuplicates counts rows that a crash may have written twice:
	// the rows of a write whose checkpoint was not stored, found on
	// restart (0 when the sink deduplicates by token and the replay
	// reproduced the batch exactly).
	PossibleDuplicates int64
	// LastDeadLetter is why the last dead-lettered record was rejected.
	LastDeadLetter string
	// SinkWarning, once the sink is open, says when it cannot drop a batch
	// replayed after a crash (no insert deduplication), "" when it can.
	SinkWarning string
	Operators   []OperatorSnapshot
	Sources     []SourceSnapshot
}

// OperatorSnapshot is one operator's counters, counted from the start of
// the current Run (pipeline counters count over every Run of a Pipeline).
// StateEntries is what the operator holds in memory: dedup keys and join
// rows whose state the watermark has released count until their memory is
// reclaimed (dedup: by the next table rebuild; join: a chunk of 1024 rows
// at a time).
type OperatorSnapshot struct {
	ID            int
	Kind          dag.NodeKind
	RowsIn        int64
	RowsOut       int64
	DedupDrops    int64
	JoinMatches   int64
	JoinExpired   int64
	JoinLeftNulls int64
	LateRows      int64
	StateEntries  int64
	// JoinWaiting is the join rows that may still meet a partner: stored,
	// and the watermark has not passed their time plus the join interval.
	JoinWaiting int64
	// Busy is the time spent in the operator itself, not in the operators
	// it feeds; a source's is the time its records took to decode.
	Busy time.Duration
	// StateBytes estimates the bytes of the operator's state: the size
	// of its last full checkpoint, scaled to the entries it holds now (0
	// before its first checkpoint).
	StateBytes int64
}

// SourceSnapshot is one source's progress.
type SourceSnapshot struct {
	Name string
	// Lag is the records behind the end of the source, -1 if it cannot tell.
	Lag int64
	// Watermark is the source watermark (ns since the epoch); math.MinInt64
	// before any.
	Watermark int64
}

func (c *pipelineCounters) snapshot() Stats {
	s := Stats{
		RecordsIn:          c.recordsIn.Load(),
		RowsDecoded:        c.rowsDecoded.Load(),
		DeadLettered:       c.deadLettered.Load(),
		DeadLetterErrors:   c.deadLetterErrs.Load(),
		FutureRecords:      c.futureRecords.Load(),
		RowsWritten:        c.rowsWritten.Load(),
		BatchesWritten:     c.batchesWritten.Load(),
		LastSinkLatency:    time.Duration(c.lastSinkNanos.Load()),
		SinkTime:           time.Duration(c.sinkNanos.Load()),
		LastBatchRows:      c.lastBatchRows.Load(),
		Checkpoints:        c.checkpoints.Load(),
		CommitErrors:       c.commitErrs.Load(),
		PossibleDuplicates: c.possibleDups.Load(),
	}
	if s.BatchesWritten > 0 {
		s.SinkLatency = time.Duration(c.sinkNanos.Load() / s.BatchesWritten)
	}
	if t := c.lastCheckpoint.Load(); t != 0 {
		s.LastCheckpoint = time.Unix(0, t)
	}
	if w := c.sinkWarning.Load(); w != nil {
		s.SinkWarning = *w
	}
	if r := c.lastDeadLetter.Load(); r != nil {
		s.LastDeadLetter = *r
	}
	rc := c.parts.Load()
	if rc == nil {
		return s
	}
	if rc.ordered != nil {
		s.OperatorQueue, s.OperatorQueueCap = len(rc.ordered), cap(rc.ordered)
	}
	if rc.sinkQ != nil {
		s.SinkQueue, s.SinkQueueCap = len(rc.sinkQ), cap(rc.sinkQ)
	}
	for _, o := range rc.ops {
		state := o.State.Load()
		var bytes int64
		if b, at := o.StateBytes.Load(), o.StateAt.Load(); at > 0 {
			bytes = int64(float64(b) * float64(state) / float64(at))
		} else if state > 0 {
			bytes = b
		}
		s.Operators = append(s.Operators, OperatorSnapshot{
			Busy: time.Duration(max(0, o.Busy.Load())), StateBytes: bytes,
			ID: o.ID, Kind: o.Kind,
			RowsIn: o.RowsIn.Load(), RowsOut: o.RowsOut.Load(),
			DedupDrops: o.DedupDrops.Load(), JoinMatches: o.JoinMatch.Load(),
			JoinExpired: o.JoinExpire.Load(), JoinLeftNulls: o.LeftNulls.Load(),
			LateRows: o.LateRows.Load(), StateEntries: o.State.Load(),
			JoinWaiting: o.Waiting.Load(),
		})
	}
	for _, sc := range rc.sources {
		s.Sources = append(s.Sources, SourceSnapshot{Name: sc.name, Lag: sc.lag.Load(), Watermark: sc.watermark.Load()})
	}
	return s
}
