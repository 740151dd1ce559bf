package runtime

import (
	"slices"
	"strconv"
	"time"
)

// Task is the share of a pipeline one run executes (see docs/scaling.md):
// task Index of Count reads, of every source of the graph, the partitions
// p with p % Count == Index, and keeps its own keyed state, checkpoints
// and sink writer. The zero value, or any Count <= 1, is the whole
// pipeline.
type Task struct{ Index, Count int }

// Split reports whether the pipeline is split into several tasks.
func (t Task) Split() bool { return t.Count > 1 }

// Owns reports whether the task reads partition: every partition when the
// pipeline is not split.
func (t Task) Owns(partition int32) bool {
	return !t.Split() || int(partition)%t.Count == t.Index
}

// TaskName is the name a task keeps its checkpoints, intents and lease
// under, and that its write tokens start with: the pipeline's own name
// when the pipeline is not split (so a pipeline of one task keeps the
// names it always had), else pipeline + "#" + the task's index.
func TaskName(pipeline string, t Task) string {
	if !t.Split() {
		return pipeline
	}
	return pipeline + "#" + strconv.Itoa(t.Index)
}

// PartitionCounter is an optional Source interface: TotalPartitions is the
// number of partitions of the input, those the task owns and those it does
// not. The runtime refuses to run a task of a split pipeline whose sources
// disagree on it: a key hashed to partition p of one input must meet the
// same key in partition p of the other, in the same task.
type PartitionCounter interface {
	TotalPartitions() int
}

// MergeStats adds b's counters to a, to show the tasks of a split pipeline
// as one: counts and times are summed, the latest of the last-event times
// and the non-empty messages (b's when both have one) are kept, queues are
// summed, and the operators (by ID) and sources (by name) are merged the
// same way, a source's lag summed and its watermark the lowest (the one
// that holds the pipeline back).
func MergeStats(a, b Stats) Stats {
	r := a
	r.RecordsIn += b.RecordsIn
	r.RowsDecoded += b.RowsDecoded
	r.DeadLettered += b.DeadLettered
	r.DeadLetterErrors += b.DeadLetterErrors
	r.FutureRecords += b.FutureRecords
	r.RowsWritten += b.RowsWritten
	r.BatchesWritten += b.BatchesWritten
	r.SinkTime += b.SinkTime
	if r.BatchesWritten > 0 {
		r.SinkLatency = r.SinkTime / time.Duration(r.BatchesWritten)
	} else {
		r.SinkLatency = 0
	}
	r.OperatorQueue += b.OperatorQueue
	r.OperatorQueueCap += b.OperatorQueueCap
	r.SinkQueue += b.SinkQueue
	r.SinkQueueCap += b.SinkQueueCap
	r.Checkpoints += b.Checkpoints
	r.CommitErrors += b.CommitErrors
	r.PossibleDuplicates += b.PossibleDuplicates
	// The last write is the task's whose checkpoint is the latest.
	if a.BatchesWritten == 0 || b.BatchesWritten > 0 && b.LastCheckpoint.After(a.LastCheckpoint) {
		r.LastSinkLatency, r.LastBatchRows = b.LastSinkLatency, b.LastBatchRows
	}
	if b.LastCheckpoint.After(r.LastCheckpoint) {
		r.LastCheckpoint = b.LastCheckpoint
	}
	if b.LastDeadLetter != "" {
		r.LastDeadLetter = b.LastDeadLetter
	}
	if b.SinkWarning != "" {
		r.SinkWarning = b.SinkWarning
	}
	r.Operators = mergeOperators(a.Operators, b.Operators)
	r.Sources = mergeSources(a.Sources, b.Sources)
	return r
}

func mergeOperators(a, b []OperatorSnapshot) []OperatorSnapshot {
	out := slices.Clone(a)
	for _, o := range b {
		i := slices.IndexFunc(out, func(x OperatorSnapshot) bool { return x.ID == o.ID })
		if i < 0 {
			out = append(out, o)
			continue
		}
		m := &out[i]
		m.RowsIn += o.RowsIn
		m.RowsOut += o.RowsOut
		m.DedupDrops += o.DedupDrops
		m.JoinMatches += o.JoinMatches
		m.JoinExpired += o.JoinExpired
		m.JoinLeftNulls += o.JoinLeftNulls
		m.LateRows += o.LateRows
		m.StateEntries += o.StateEntries
		m.JoinWaiting += o.JoinWaiting
		m.Busy += o.Busy
		m.StateBytes += o.StateBytes
	}
	return out
}

func mergeSources(a, b []SourceSnapshot) []SourceSnapshot {
	out := slices.Clone(a)
	for _, s := range b {
		i := slices.IndexFunc(out, func(x SourceSnapshot) bool { return x.Name == s.Name })
		if i < 0 {
			out = append(out, s)
			continue
		}
		m := &out[i]
		if m.Lag < 0 || s.Lag < 0 {
			m.Lag = -1 // unknown for one task: unknown for all
		} else {
			m.Lag += s.Lag
		}
		m.Watermark = min(m.Watermark, s.Watermark)
	}
	return out
}
