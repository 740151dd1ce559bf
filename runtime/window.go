package runtime

import (
	"sort"

	"github.com/sluice-sql/sluice/planner/dag"
)

// windowOp groups rows into TUMBLE or HOP windows and aggregates them.
// Each open window has its own groups (key hash → group), so emitting a
// window is emitting and dropping one structure. Windows are half-open
// [start, start+size) and are emitted once, when the watermark reaches
// their end; a row whose windows are all emitted is late and dropped.
type windowOp struct {
	spec    *dag.WindowSpec
	keys    *keyHasher
	keySch  dag.Schema
	args    []*evaluator // per aggregate; nil for COUNT(*)
	argVecs []*Vector
	distH   [][]hash128 // per COUNT(DISTINCT) aggregate, per row
	distN   []bool
	size    int64
	slide   int64
	wm      int64
	windows map[int64]*openWindow
	starts  []int64 // sorted starts of open windows
	having  *evaluator
	schema  dag.Schema
	out     *Batch
	sel     []int32
	selOut  *Batch
	emit    emitter
	stats   *operatorStats
	tmp     Vector
}

type openWindow struct {
	start  int64
	groups map[[2]uint64]int32
	keys   *Batch
	aggs   []aggState // group g's aggregates at g*len(spec.Aggs)
}

// aggState accumulates one aggregate of one group.
type aggState struct {
	n    int64 // rows counted (COUNT, AVG)
	set  bool  // a non-NULL value was seen (SUM, MIN, MAX)
	i    int64
	u    uint64
	f    float64
	s    []byte
	dist map[[2]uint64]struct{}
}

func newWindow(n *dag.Node, emit emitter, st *operatorStats) *windowOp {
	ws := n.Window
	w := &windowOp{
		spec:    ws,
		keys:    newKeyHasher(ws.Keys),
		size:    int64(ws.Size),
		slide:   int64(ws.Slide),
		wm:      noWatermark,
		windows: map[int64]*openWindow{},
		schema:  n.Schema,
		out:     NewBatch(n.Schema),
		selOut:  NewBatch(n.Schema),
		emit:    emit,
		stats:   st,
	}
	if w.slide <= 0 || ws.Kind == dag.Tumble {
		w.slide = w.size
	}
	for i, k := range ws.Keys {
		w.keySch = append(w.keySch, dag.Column{Name: n.Schema[i].Name, Type: k.Type})
	}
	for _, a := range ws.Aggs {
		var ev *evaluator
		if a.Arg != nil {
			ev = newEvaluator(a.Arg)
		}
		w.args = append(w.args, ev)
	}
	w.argVecs = make([]*Vector, len(ws.Aggs))
	w.distH = make([][]hash128, len(ws.Aggs))
	if ws.Having != nil {
		w.having = newEvaluator(ws.Having)
	}
	return w
}

func (w *windowOp) process(_ int, b *Batch) {
	w.keys.hash(b)
	keyVecs := w.keys.vecs
	for a, ev := range w.args {
		if ev == nil {
			continue
		}
		w.argVecs[a] = ev.eval(b)
		if w.spec.Aggs[a].Func == dag.AggCountDistinct {
			h := resize(w.distH[a], b.Len)
			for i := range h {
				h[i] = hash128{lo: hashK3, hi: hashK4}
			}
			w.distN = resize(w.distN, b.Len)
			hashVector(w.argVecs[a], h, w.distN)
			w.distH[a] = h
		}
	}
	tv := &b.Vecs[w.spec.TimeCol]
	nagg := len(w.spec.Aggs)
	late := 0
	var last *openWindow
	for i := 0; i < b.Len; i++ {
		if tv.IsNull(i) {
			late++
			continue
		}
		t := timeNanos(tv, i)
		lastStart := floorDiv(t, w.slide) * w.slide
		missed := false
		for s := lastStart; s > t-w.size; s -= w.slide {
			if s+w.size <= w.wm {
				missed = true
				continue
			}
			win := last
			if win == nil || win.start != s {
				win = w.windows[s]
				if win == nil {
					win = &openWindow{start: s, groups: map[[2]uint64]int32{}, keys: NewBatch(w.keySch)}
					w.windows[s] = win
					w.addStart(s)
				}
				last = win
			}
			k := [2]uint64{w.keys.lo[i], w.keys.hi[i]}
			g, ok := win.groups[k]
			if !ok {
				g = int32(win.keys.Len)
				win.groups[k] = g
				for c, v := range keyVecs {
					win.keys.Vecs[c].AppendFrom(v, i)
				}
				win.keys.Len++
				win.aggs = append(win.aggs, make([]aggState, nagg)...)
			}
			w.update(win.aggs[int(g)*nagg:int(g)*nagg+nagg], i)
		}
		if missed {
			late++
		}
	}
	if late > 0 {
		w.stats.LateRows.Add(int64(late))
	}
	w.countState()
}

func (w *windowOp) addStart(s int64) {
	i := sort.Search(len(w.starts), func(i int) bool { return w.starts[i] >= s })
	w.starts = append(w.starts, 0)
	copy(w.starts[i+1:], w.starts[i:])
	w.starts[i] = s
}

func (w *windowOp) countState() {
	var n int64
	for _, win := range w.windows {
		n += int64(win.keys.Len)
	}
	w.stats.State.Store(n)
}

func (w *windowOp) update(st []aggState, i int) {
	for a := range st {
		s := &st[a]
		v := w.argVecs[a]
		f := w.spec.Aggs[a].Func
		if v == nil { // COUNT(*)
			s.n++
			continue
		}
		if v.IsNull(i) {
			continue
		}
		switch f {
		case dag.AggCount:
			s.n++
		case dag.AggCountDistinct:
			if s.dist == nil {
				s.dist = map[[2]uint64]struct{}{}
			}
			lo, hi := w.distH[a][i].finish()
			s.dist[[2]uint64{lo, hi}] = struct{}{}
		case dag.AggSum, dag.AggAvg:
			s.n++
			switch v.Type.Kind.Storage() {
			case dag.StoreUint64:
				s.u += v.U64[i]
				s.f += float64(v.U64[i])
			case dag.StoreFloat64:
				s.f += v.F64[i]
			default:
				s.i += v.I64[i]
				if v.Type.Kind == dag.Decimal {
					s.f += float64(v.I64[i]) / float64(pow10[v.Type.Scale])
				} else {
					s.f += float64(v.I64[i])
				}
			}
			s.set = true
		case dag.AggMin, dag.AggMax:
			better := !s.set
			if s.set {
				var c int
				switch v.Type.Kind.Storage() {
				case dag.StoreUint64:
					c = cmp3(v.U64[i], s.u)
				case dag.StoreFloat64:
					c = cmp3(v.F64[i], s.f)
				case dag.StoreBytes:
					c = compareBytes(v.Bytes(i), s.s)
				default:
					c = cmp3(v.I64[i], s.i)
				}
				better = (f == dag.AggMin && c < 0) || (f == dag.AggMax && c > 0)
			}
			if better {
				s.set = true
				switch v.Type.Kind.Storage() {
				case dag.StoreUint64:
					s.u = v.U64[i]
				case dag.StoreFloat64:
					s.f = v.F64[i]
				case dag.StoreBytes:
					s.s = append(s.s[:0], v.Bytes(i)...)
				default:
					s.i = v.I64[i]
				}
			}
		}
	}
}

func cmp3[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareBytes(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return cmp3(int64(len(a)), int64(len(b)))
}

func (w *windowOp) watermark(wm int64) {
	w.wm = wm
	for len(w.starts) > 0 && w.starts[0]+w.size <= wm {
		s := w.starts[0]
		w.starts = w.starts[1:]
		win := w.windows[s]
		delete(w.windows, s)
		w.emitWindow(win)
	}
	w.countState()
}

func (w *windowOp) emitWindow(win *openWindow) {
	out := w.out
	out.Reset()
	nk := len(w.spec.Keys)
	nagg := len(w.spec.Aggs)
	for c := 0; c < nk; c++ {
		out.Vecs[c].AppendVector(&win.keys.Vecs[c])
	}
	for g := 0; g < win.keys.Len; g++ {
		putTime(&out.Vecs[nk], win.start)
		putTime(&out.Vecs[nk+1], win.start+w.size)
		for a := 0; a < nagg; a++ {
			w.result(&out.Vecs[nk+2+a], a, &win.aggs[g*nagg+a])
		}
	}
	out.Len = win.keys.Len
	if w.having == nil {
		w.emit(out)
		return
	}
	w.sel = w.having.selectTrue(out, w.sel[:0])
	emitSelected(out, w.sel, w.selOut, w.emit)
}

// result appends aggregate a's value, converting the accumulator to the
// result type the planner chose.
func (w *windowOp) result(out *Vector, a int, s *aggState) {
	ag := &w.spec.Aggs[a]
	switch ag.Func {
	case dag.AggCount:
		putInt(out, s.n)
		return
	case dag.AggCountDistinct:
		putInt(out, int64(len(s.dist)))
		return
	}
	if !s.set {
		out.AppendNull()
		return
	}
	argT := ag.Arg.Type
	tmp := &w.tmp
	if ag.Func == dag.AggAvg {
		*tmp = NewVector(dag.T(dag.Float64))
		tmp.AppendFloat(s.f / float64(s.n))
		appendConverted(out, tmp, 0)
		return
	}
	tmp.Type = argT
	tmp.Reset()
	switch argT.Kind.Storage() {
	case dag.StoreUint64:
		tmp.AppendUint(s.u)
	case dag.StoreFloat64:
		tmp.AppendFloat(s.f)
	case dag.StoreBytes:
		tmp.AppendBytes(s.s)
	default:
		tmp.AppendInt(s.i)
	}
	appendConverted(out, tmp, 0)
}

func (w *windowOp) outputWatermark(wm int64) int64 { return wm }

func (w *windowOp) snapshot(sw *stateWriter) {
	sw.i64(w.wm)
	sw.u64(uint64(len(w.starts)))
	for _, s := range w.starts {
		win := w.windows[s]
		sw.i64(s)
		sw.u64(uint64(win.keys.Len))
		for g := 0; g < win.keys.Len; g++ {
			for c := range win.keys.Vecs {
				sw.value(&win.keys.Vecs[c], g)
			}
		}
		for _, st := range win.aggs {
			sw.i64(st.n)
			sw.bool(st.set)
			sw.i64(st.i)
			sw.u64(st.u)
			sw.f64(st.f)
			sw.bytes(st.s)
			sw.u64(uint64(len(st.dist)))
			for k := range st.dist {
				sw.u64(k[0])
				sw.u64(k[1])
			}
		}
	}
}

func (w *windowOp) restore(r *stateReader) error {
	w.windows = map[int64]*openWindow{}
	w.starts = w.starts[:0]
	w.wm = r.i64()
	nw := r.count()
	nagg := len(w.spec.Aggs)
	for i := 0; i < nw && r.err == nil; i++ {
		win := &openWindow{start: r.i64(), groups: map[[2]uint64]int32{}, keys: NewBatch(w.keySch)}
		ng := r.count()
		for g := 0; g < ng && r.err == nil; g++ {
			for c := range win.keys.Vecs {
				r.value(&win.keys.Vecs[c])
			}
			win.keys.Len++
		}
		if r.err != nil {
			break
		}
		// Group hashes are recomputed from the key values.
		h := newKeyHasher(nil)
		h.state = resize(h.state, win.keys.Len)
		h.null = resize(h.null, win.keys.Len)
		for g := range h.state {
			h.state[g] = hash128{lo: hashK2, hi: hashK1}
		}
		for c := range win.keys.Vecs {
			hashVector(&win.keys.Vecs[c], h.state, h.null)
		}
		for g := range h.state {
			lo, hi := h.state[g].finish()
			win.groups[[2]uint64{lo, hi}] = int32(g)
		}
		win.aggs = make([]aggState, ng*nagg)
		for k := range win.aggs {
			st := &win.aggs[k]
			st.n, st.set, st.i, st.u, st.f = r.i64(), r.bool(), r.i64(), r.u64(), r.f64()
			st.s = append([]byte(nil), r.bytes()...)
			nd := r.count()
			if nd > 0 {
				st.dist = make(map[[2]uint64]struct{}, nd)
				for d := 0; d < nd; d++ {
					st.dist[[2]uint64{r.u64(), r.u64()}] = struct{}{}
				}
			}
		}
		// Checkpoints written by earlier Sluice releases could
		// list one window twice, as identical copies: keep one.
		if w.windows[win.start] == nil {
			w.addStart(win.start)
		}
		w.windows[win.start] = win
	}
	w.countState()
	return r.err
}
