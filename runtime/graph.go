package runtime

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// runner holds a graph's operators and moves batches and watermarks
// between them. Everything happens on one goroutine (the pipeline's
// operator goroutine): a batch is pushed through the whole chain before
// the next is taken, so the state of all operators between two batches is
// a consistent cut, which is what makes a checkpoint a plain snapshot.
type runner struct {
	nodes []*nodeRT
	byID  map[int]*nodeRT
}

type nodeRT struct {
	n     *dag.Node
	op    operator
	outs  []edgeRT
	inWM  []int64 // watermark per input port
	wm    int64   // the operator's input watermark (minimum over ports)
	stats *operatorStats
}

type edgeRT struct {
	to   *nodeRT
	port int
}

// sourceOp is a source node's operator: decoded batches enter here.
type sourceOp struct {
	noState
	emit emitter
}

func (s *sourceOp) process(_ int, b *Batch) { s.emit(b) }

// finalOp hands a sink node's input (or a preview's last rows) to the
// pipeline.
type finalOp struct {
	noState
	fn func(*Batch)
}

func (f *finalOp) process(_ int, b *Batch) { f.fn(b) }

// buildRunner instantiates the operators of g. final receives the rows
// of the sink node's input, or of the last node when it is not a sink.
func buildRunner(g *dag.Graph, final func(*Batch), limitDone func()) (*runner, error) {
	r := &runner{byID: map[int]*nodeRT{}}
	if len(g.Nodes) == 0 {
		return nil, fmt.Errorf("empty graph")
	}
	for idx, n := range g.Nodes {
		rt := &nodeRT{n: n, wm: noWatermark, stats: &operatorStats{ID: n.ID, Kind: n.Kind}}
		rt.inWM = make([]int64, len(n.Inputs))
		var ins []dag.Schema
		for port, in := range n.Inputs {
			up := r.byID[in]
			if up == nil {
				return nil, fmt.Errorf("node %d: input %d is not an earlier node", n.ID, in)
			}
			up.outs = append(up.outs, edgeRT{to: rt, port: port})
			ins = append(ins, up.n.Schema)
			rt.inWM[port] = noWatermark
		}
		emit := r.emitter(rt)
		last := idx == len(g.Nodes)-1
		if last && n.Kind != dag.KindSink {
			inner := emit
			emit = func(b *Batch) { inner(b); final(b) }
		}
		need := func(k int) error {
			if len(ins) != k {
				return fmt.Errorf("node %d (%s): %d inputs, want %d", n.ID, n.Kind, len(ins), k)
			}
			return nil
		}
		var err error
		switch n.Kind {
		case dag.KindSource:
			if n.Source == nil {
				return nil, fmt.Errorf("node %d: source without SourceSpec", n.ID)
			}
			rt.op = &sourceOp{emit: emit}
		case dag.KindFilter:
			if err = need(1); err == nil {
				if n.Predicate == nil {
					return nil, fmt.Errorf("node %d: filter without predicate", n.ID)
				}
				rt.op = newFilter(n, ins[0], emit)
			}
		case dag.KindProject:
			if err = need(1); err == nil {
				rt.op = newProject(n, emit)
			}
		case dag.KindDedup:
			if err = need(1); err == nil {
				if n.Dedup == nil || n.TimeCol < 0 {
					return nil, fmt.Errorf("node %d: dedup needs a DedupSpec and a time column", n.ID)
				}
				rt.op = newDedup(n, ins[0], emit, rt.stats)
			}
		case dag.KindJoin:
			if err = need(2); err == nil {
				if n.Join == nil {
					return nil, fmt.Errorf("node %d: join without JoinSpec", n.ID)
				}
				rt.op = newJoin(n, ins[0], ins[1], emit, rt.stats)
			}
		case dag.KindWindow:
			if err = need(1); err == nil {
				if n.Window == nil || n.Window.Size <= 0 {
					return nil, fmt.Errorf("node %d: window needs a WindowSpec with a size", n.ID)
				}
				rt.op = newWindow(n, emit, rt.stats)
			}
		case dag.KindLimit:
			if err = need(1); err == nil {
				rt.op = &limitOp{left: n.Limit, out: NewBatch(ins[0]), emit: emit, done: limitDone}
			}
		case dag.KindSink:
			if err = need(1); err == nil {
				if !last {
					return nil, fmt.Errorf("node %d: a sink must be the last node", n.ID)
				}
				rt.op = &finalOp{fn: final}
			}
		default:
			err = fmt.Errorf("node %d: unknown kind %q", n.ID, n.Kind)
		}
		if err != nil {
			return nil, err
		}
		r.nodes = append(r.nodes, rt)
		r.byID[n.ID] = rt
	}
	return r, nil
}

func (r *runner) emitter(rt *nodeRT) emitter {
	return func(b *Batch) {
		if b.Len == 0 {
			return
		}
		rt.stats.RowsOut.Add(int64(b.Len))
		for _, e := range rt.outs {
			e.to.stats.RowsIn.Add(int64(b.Len))
			t0 := time.Now()
			e.to.op.process(e.port, b)
			// The time goes to the operator fed, not to this one.
			d := int64(time.Since(t0))
			e.to.stats.Busy.Add(d)
			rt.stats.Busy.Add(-d)
		}
	}
}

// push feeds a decoded batch into a source node.
func (r *runner) push(src *nodeRT, b *Batch) {
	if b.Len == 0 {
		return
	}
	src.stats.RowsIn.Add(int64(b.Len))
	t0 := time.Now()
	src.op.process(0, b)
	src.stats.Busy.Add(int64(time.Since(t0)))
}

// advance passes a node's output watermark downstream; a node whose
// minimum input watermark rises handles it and passes on its own.
func (r *runner) advance(n *nodeRT, wm int64) {
	for _, e := range n.outs {
		to := e.to
		if wm <= to.inWM[e.port] {
			continue
		}
		to.inWM[e.port] = wm
		m := to.inWM[0]
		for _, w := range to.inWM[1:] {
			m = min(m, w)
		}
		if m > to.wm {
			to.wm = m
			t0 := time.Now()
			to.op.watermark(m)
			to.stats.Busy.Add(int64(time.Since(t0)))
			r.advance(to, to.op.outputWatermark(m))
		}
	}
}

// snapshot captures every operator's state and watermarks into cp. When
// full is false, operators that can (dedup) write only what changed since
// their previous snapshot. It returns the bytes of state written.
func (r *runner) snapshot(cp *Checkpoint, full bool) int {
	cp.State = map[int][]byte{}
	cp.Kinds = map[int]string{}
	cp.NodeWatermarks = map[int][]int64{}
	size := 0
	for _, rt := range r.nodes {
		cp.NodeWatermarks[rt.n.ID] = append([]int64(nil), rt.inWM...)
		switch rt.n.Kind {
		case dag.KindDedup, dag.KindJoin, dag.KindWindow:
			var w stateWriter
			if inc, ok := rt.op.(incremental); ok && !full {
				inc.snapshotDelta(&w)
				if cp.Delta == nil {
					cp.Delta = map[int]bool{}
				}
				cp.Delta[rt.n.ID] = true
			} else {
				rt.op.snapshot(&w)
				rt.stats.StateBytes.Store(int64(len(w.buf)))
				rt.stats.StateAt.Store(rt.stats.State.Load())
			}
			cp.State[rt.n.ID] = w.buf
			cp.Kinds[rt.n.ID] = r.fingerprint(rt)
			size += len(w.buf)
		}
	}
	return size
}

// trackChanges turns on change logging in operators that checkpoint
// incrementally.
func (r *runner) trackChanges() {
	for _, rt := range r.nodes {
		if inc, ok := rt.op.(incremental); ok {
			inc.trackChanges()
		}
	}
}

// fingerprint names what a node's state means: its kind, its spec and the
// schemas it reads and writes. State saved under another fingerprint (the
// pipeline was replaced by a different query) is not restored.
func (r *runner) fingerprint(rt *nodeRT) string {
	var ins []dag.Schema
	for _, id := range rt.n.Inputs {
		ins = append(ins, r.byID[id].n.Schema)
	}
	b, _ := json.Marshal(struct {
		N   *dag.Node
		Ins []dag.Schema
	}{rt.n, ins})
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%s:%016x", rt.n.Kind, h.Sum64())
}

// restore loads operator state from a checkpoint chain (a full checkpoint,
// then incremental ones). A node whose state was saved by a different
// node (the pipeline was replaced) starts empty; dropped lists them.
func (r *runner) restore(chain []*Checkpoint) (dropped []string, err error) {
	skip := map[int]bool{}
	for _, cp := range chain {
		for id := range cp.State {
			if rt := r.byID[id]; rt == nil || r.fingerprint(rt) != cp.Kinds[id] {
				if !skip[id] {
					dropped = append(dropped, fmt.Sprintf("node %d (%s)", id, strings.SplitN(cp.Kinds[id], ":", 2)[0]))
				}
				skip[id] = true
			}
		}
	}
	// A node's state is its last full snapshot in the chain and the deltas
	// after it: a full snapshot replaces everything before it (operators
	// without deltas write one in every checkpoint).
	from := map[int]int{}
	for i, cp := range chain {
		for id := range cp.State {
			if !cp.Delta[id] {
				from[id] = i
			}
		}
	}
	for i, cp := range chain {
		for id, st := range cp.State {
			if skip[id] || i < from[id] {
				continue
			}
			rt := r.byID[id]
			var err error
			if cp.Delta[id] {
				inc, ok := rt.op.(incremental)
				if !ok {
					return nil, fmt.Errorf("checkpoint has incremental state for node %d (%s), which has none", id, rt.n.Kind)
				}
				err = inc.restoreDelta(&stateReader{buf: st})
			} else {
				err = rt.op.restore(&stateReader{buf: st})
			}
			if err != nil {
				return nil, fmt.Errorf("restore node %d (%s) at epoch %d: %w", id, rt.n.Kind, cp.Epoch, err)
			}
		}
	}
	last := chain[len(chain)-1]
	for id, wms := range last.NodeWatermarks {
		rt := r.byID[id]
		if rt == nil || len(wms) != len(rt.inWM) {
			continue
		}
		copy(rt.inWM, wms)
		if len(wms) > 0 {
			m := wms[0]
			for _, w := range wms[1:] {
				m = min(m, w)
			}
			rt.wm = m
		}
	}
	return dropped, nil
}
