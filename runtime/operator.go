package runtime

import (
	"math"
	"sync/atomic"

	"github.com/sluice-sql/sluice/planner/dag"
)

// operator is one node of a running graph, following the lifecycle of a
// stream operator: process a batch, react to a watermark, snapshot and
// restore. All calls come from one goroutine, in order, so operators need
// no locks; a batch passed to process (or to emit) is only valid during
// the call, so operators that keep rows copy them.
type operator interface {
	// process handles b arriving on input port.
	process(port int, b *Batch)
	// watermark reports that the input watermark (the minimum over the
	// inputs) has advanced to wm. Operators emit what it completes.
	watermark(wm int64)
	// outputWatermark is the watermark this operator passes downstream
	// when its input watermark is wm.
	outputWatermark(wm int64) int64
	snapshot(w *stateWriter)
	// restore replaces the operator's whole state by a snapshot's: nothing
	// from before the call survives it.
	restore(r *stateReader) error
}

// incremental is implemented by operators whose state can be checkpointed
// as the changes since the previous snapshot.
type incremental interface {
	// trackChanges turns change logging on (only runs that checkpoint pay
	// for it).
	trackChanges()
	snapshotDelta(w *stateWriter)
	// restoreDelta applies a delta on top of the state restored so far.
	restoreDelta(r *stateReader) error
}

// noState is embedded by stateless operators.
type noState struct{}

func (noState) watermark(int64)                {}
func (noState) outputWatermark(wm int64) int64 { return wm }
func (noState) snapshot(*stateWriter)          {}
func (noState) restore(*stateReader) error     { return nil }

// operatorStats are one operator's counters. They are written by the
// pipeline's operator goroutine and may be read at any time.
type operatorStats struct {
	ID         int
	Kind       dag.NodeKind
	RowsIn     atomic.Int64
	RowsOut    atomic.Int64
	DedupDrops atomic.Int64 // rows dropped as duplicates
	JoinMatch  atomic.Int64 // pairs emitted by a join
	JoinExpire atomic.Int64 // join rows released by the watermark (LEFT rows emitted unmatched included)
	LeftNulls  atomic.Int64 // LEFT rows emitted without a partner
	LateRows   atomic.Int64 // rows a window dropped because their window was already emitted
	State      atomic.Int64 // live state entries (dedup keys, buffered join rows, window groups)
	Waiting    atomic.Int64 // join rows that may still meet a partner (time + d not yet passed by the watermark)
	// Busy is the time (ns) spent in the operator itself, without the
	// operators it feeds; a source's is the time its records took to
	// decode (on the decode workers, in parallel).
	Busy atomic.Int64
	// StateBytes and StateAt are the bytes of the operator's last full
	// checkpoint and its state entries then: Stats scales them to the
	// entries held now.
	StateBytes atomic.Int64
	StateAt    atomic.Int64
}

// emitter passes an operator's output to the operators downstream.
type emitter func(b *Batch)

// filterOp keeps the rows where the predicate is true.
type filterOp struct {
	noState
	pred *evaluator
	sel  []int32
	out  *Batch
	emit emitter
}

func newFilter(n *dag.Node, in dag.Schema, emit emitter) *filterOp {
	return &filterOp{pred: newEvaluator(n.Predicate), out: NewBatch(in), emit: emit}
}

func (f *filterOp) process(_ int, b *Batch) {
	f.sel = f.pred.selectTrue(b, f.sel[:0])
	emitSelected(b, f.sel, f.out, f.emit)
}

// emitSelected emits the rows of b in sel: b itself when all are kept.
func emitSelected(b *Batch, sel []int32, out *Batch, emit emitter) {
	switch len(sel) {
	case 0:
	case b.Len:
		emit(b)
	default:
		out.Reset()
		out.Gather(b, sel)
		emit(out)
	}
}

// projectOp computes expressions; a column reference passes the input's
// vector through without a copy.
type projectOp struct {
	noState
	exprs []*evaluator
	out   Batch
	emit  emitter
}

func newProject(n *dag.Node, emit emitter) *projectOp {
	p := &projectOp{emit: emit, out: Batch{Vecs: make([]Vector, len(n.Exprs))}}
	for _, e := range n.Exprs {
		p.exprs = append(p.exprs, newEvaluator(e))
	}
	return p
}

func (p *projectOp) process(_ int, b *Batch) {
	for i, e := range p.exprs {
		p.out.Vecs[i] = *e.eval(b)
	}
	p.out.Len = b.Len
	p.emit(&p.out)
}

// limitOp passes the first n rows; previews stop when it is done.
type limitOp struct {
	noState
	left int64
	out  *Batch
	emit emitter
	done func()
}

func (l *limitOp) process(_ int, b *Batch) {
	if l.left <= 0 {
		return
	}
	if int64(b.Len) <= l.left {
		l.left -= int64(b.Len)
		l.emit(b)
	} else {
		l.out.Reset()
		for i := 0; i < int(l.left); i++ {
			l.out.AppendRow(b, i)
		}
		l.left = 0
		l.emit(l.out)
	}
	if l.left <= 0 && l.done != nil {
		l.done()
	}
}

const noWatermark = math.MinInt64
