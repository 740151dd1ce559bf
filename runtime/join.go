package runtime

import (
	"container/heap"
	"slices"

	"github.com/sluice-sql/sluice/planner/dag"
)

// The interval join keeps each side's rows in append-only chunks of
// joinChunkRows, indexed by key hash. A row is released once the
// watermark passes its time plus d; until then it can match. Release is
// exact for matching (an expired row is skipped) and by chunk for memory:
// a chunk is freed when every row in it has expired. LEFT rows that never
// matched are emitted from a time-ordered heap when the watermark passes
// their time plus d (strictly: a partner at exactly time + d still
// matches).

const joinChunkRows = 1024

type joinChunk struct {
	rows    *Batch
	t       []int64
	seq     []int64 // the row's identity across checkpoints and restores
	prev    []int64 // previous row id with the same key hash, or -1
	matched []bool
	minT    int64
	maxT    int64
	// sorted holds the times of a full chunk in order, made the first time
	// the limit falls inside the chunk; sorted[:gone] are before the limit
	// (see waiting).
	sorted []int64
	gone   int
	isSort bool
}

type joinSide struct {
	keys    *keyHasher
	timeCol int
	schema  dag.Schema
	chunks  []*joinChunk
	base    int64 // id of the first row of chunks[0]
	next    int64 // id the next row gets
	index   joinIndex
	free    []*joinChunk
	// nextSeq numbers rows for incremental checkpoints: ids are positions
	// in this process's chunks, seqs survive a restore. logFrom is the
	// first id not yet in a snapshot; seqIdx maps seq to id while a
	// checkpoint chain is being restored.
	nextSeq int64
	logFrom int64
	seqIdx  map[int64]int64
}

// joinIndex maps a key hash to the newest row id with that key (older rows
// are chained through joinChunk.prev). It is a flat linear-probing table
// of 24-byte slots with no pointers; entries pointing at released rows are
// dropped when it is rebuilt, which happens as it grows and after the
// watermark has released many rows.
type joinIndex struct {
	slots []joinSlot
	count int
}

type joinSlot struct {
	lo, hi uint64 // 0, 0: empty
	id     int64
}

func (x *joinIndex) get(lo, hi uint64) (int64, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for pos := int(lo) & mask; ; pos = (pos + 1) & mask {
		s := &x.slots[pos]
		if s.lo == lo && s.hi == hi {
			return s.id, true
		}
		if s.lo == 0 && s.hi == 0 {
			return 0, false
		}
	}
}

// put makes id the newest row of the key and returns the previous newest,
// or -1 when there is none still stored (at or after base).
func (x *joinIndex) put(lo, hi uint64, id, base int64) int64 {
	if 4*(x.count+1) > 3*len(x.slots) {
		x.rebuild(base, 1)
	}
	mask := len(x.slots) - 1
	for pos := int(lo) & mask; ; pos = (pos + 1) & mask {
		s := &x.slots[pos]
		if s.lo == lo && s.hi == hi {
			prev := s.id
			s.id = id
			if prev < base {
				prev = -1
			}
			return prev
		}
		if s.lo == 0 && s.hi == 0 {
			*s = joinSlot{lo, hi, id}
			x.count++
			return -1
		}
	}
}

// rebuild keeps the entries still pointing at stored rows (id ≥ base) in a
// table sized for them plus extra at half load.
func (x *joinIndex) rebuild(base int64, extra int) {
	live := 0
	for i := range x.slots {
		if s := &x.slots[i]; (s.lo != 0 || s.hi != 0) && s.id >= base {
			live++
		}
	}
	c := 64
	for c < 2*(live+extra) {
		c *= 2
	}
	old := x.slots
	x.slots = make([]joinSlot, c)
	x.count = 0
	mask := c - 1
	for i := range old {
		s := old[i]
		if (s.lo == 0 && s.hi == 0) || s.id < base {
			continue
		}
		pos := int(s.lo) & mask
		for x.slots[pos].lo != 0 || x.slots[pos].hi != 0 {
			pos = (pos + 1) & mask
		}
		x.slots[pos] = s
		x.count++
	}
}

func (s *joinSide) row(id int64) (*joinChunk, int) {
	off := id - s.base
	return s.chunks[off/joinChunkRows], int(off % joinChunkRows)
}

// add stores row i of b as a new row and returns its id.
func (s *joinSide) add(b *Batch, i int, lo, hi uint64, t int64) int64 {
	s.nextSeq++
	return s.addSeq(b, i, lo, hi, t, s.nextSeq-1)
}

// addSeq stores row i of b with a given seq (on restore).
func (s *joinSide) addSeq(b *Batch, i int, lo, hi uint64, t, seq int64) int64 {
	if len(s.chunks) == 0 || s.chunks[len(s.chunks)-1].rows.Len == joinChunkRows {
		var c *joinChunk
		if n := len(s.free); n > 0 {
			c = s.free[n-1]
			s.free = s.free[:n-1]
			c.rows.Reset()
			c.t, c.seq, c.prev, c.matched = c.t[:0], c.seq[:0], c.prev[:0], c.matched[:0]
			c.sorted, c.gone, c.isSort = c.sorted[:0], 0, false
		} else {
			c = &joinChunk{rows: NewBatch(s.schema), t: make([]int64, 0, joinChunkRows), seq: make([]int64, 0, joinChunkRows),
				prev: make([]int64, 0, joinChunkRows), matched: make([]bool, 0, joinChunkRows)}
			for i := range c.rows.Vecs {
				c.rows.Vecs[i].Reserve(joinChunkRows, 16)
			}
		}
		c.minT, c.maxT = t, t
		s.chunks = append(s.chunks, c)
	}
	c := s.chunks[len(s.chunks)-1]
	c.rows.AppendRow(b, i)
	c.t = append(c.t, t)
	c.seq = append(c.seq, seq)
	c.matched = append(c.matched, false)
	c.minT, c.maxT = min(c.minT, t), max(c.maxT, t)
	id := s.next
	s.next++
	c.prev = append(c.prev, s.index.put(lo, hi, id, s.base))
	return id
}

// release frees whole chunks whose rows have all expired (time < limit),
// and drops index entries that only point into freed chunks.
func (s *joinSide) release(limit int64) int {
	freed := 0
	for len(s.chunks) > 0 {
		c := s.chunks[0]
		if c.rows.Len < joinChunkRows || c.maxT >= limit {
			break
		}
		s.base += int64(c.rows.Len)
		freed += c.rows.Len
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		if len(s.free) < 16 {
			s.free = append(s.free, c)
		}
	}
	if freed > 0 && s.index.count > 2*int(s.next-s.base)+1024 {
		s.index.rebuild(s.base, 0)
	}
	return freed
}

func (s *joinSide) live() int64 { return s.next - s.base }

// waiting counts the stored rows whose time is at or after limit: those
// that may still meet a partner. limit only rises. A chunk wholly before
// or after it counts at once; a full chunk the limit falls into is sorted
// once, and a cursor then moves through it as the limit rises, so each
// row costs O(log n) once however unordered the times are; only the last,
// filling chunk is scanned.
func (s *joinSide) waiting(limit int64) int64 {
	var n int64
	for _, c := range s.chunks {
		switch {
		case c.maxT < limit:
		case c.minT >= limit:
			n += int64(len(c.t))
		case len(c.t) < joinChunkRows:
			for _, t := range c.t {
				if t >= limit {
					n++
				}
			}
		default:
			if !c.isSort {
				c.sorted = append(c.sorted[:0], c.t...)
				slices.Sort(c.sorted)
				c.gone, c.isSort = 0, true
			}
			for c.gone < len(c.sorted) && c.sorted[c.gone] < limit {
				c.gone++
			}
			n += int64(len(c.sorted) - c.gone)
		}
	}
	return n
}

// storeState publishes the join's state gauges.
func (j *joinOp) storeState() {
	j.stats.State.Store(j.left.live() + j.right.live())
	limit := satSub(j.wm, j.within)
	j.stats.Waiting.Store(j.left.waiting(limit) + j.right.waiting(limit))
}

type joinRef struct {
	b   *Batch // the incoming batch, or nil for a stored row
	i   int
	id  int64
	ids bool // id is valid (the row is stored)
}

type leftPending struct {
	t  int64
	id int64
}

type pendingHeap []leftPending

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].t < h[j].t }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(leftPending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type joinOp struct {
	left, right joinSide
	within      int64
	isLeft      bool
	nl          int // left columns
	wm          int64
	residual    *evaluator
	pending     pendingHeap
	pairs       []joinPair
	out, sel    *Batch
	selIdx      []int32
	emit        emitter
	stats       *operatorStats
	// With change tracking on, matchLog holds the seqs of stored left rows
	// (already in a snapshot) that have found a partner since.
	track    bool
	matchLog []int64
}

type joinPair struct {
	l, r joinRef // r.b == nil && !r.ids means NULLs
	null bool
}

func newJoin(n *dag.Node, left, right dag.Schema, emit emitter, st *operatorStats) *joinOp {
	j := n.Join
	op := &joinOp{
		left:   joinSide{keys: newKeyHasher(j.LeftKeys), timeCol: j.LeftTime, schema: left},
		right:  joinSide{keys: newKeyHasher(j.RightKeys), timeCol: j.RightTime, schema: right},
		within: int64(j.Within),
		isLeft: j.Type == dag.Left,
		nl:     len(left),
		wm:     noWatermark,
		out:    NewBatch(n.Schema),
		sel:    NewBatch(n.Schema),
		emit:   emit,
		stats:  st,
	}
	if j.Residual != nil {
		op.residual = newEvaluator(j.Residual)
	}
	return op
}

func (j *joinOp) process(port int, b *Batch) {
	if j.left.seqIdx != nil {
		j.restored()
	}
	me, other := &j.left, &j.right
	if port == 1 {
		me, other = &j.right, &j.left
	}
	me.keys.hash(b)
	tv := &b.Vecs[me.timeCol]
	expired := satSub(j.wm, j.within) // rows with time < expired are released
	j.pairs = j.pairs[:0]
	for i := 0; i < b.Len; i++ {
		if me.keys.null[i] || tv.IsNull(i) {
			// Cannot match anything: a LEFT row goes out with NULLs now.
			if port == 0 && j.isLeft {
				j.pairs = append(j.pairs, joinPair{l: joinRef{b: b, i: i}, null: true})
			}
			continue
		}
		t := tv.I64[i]
		lo, hi := me.keys.lo[i], me.keys.hi[i]
		start := len(j.pairs)
		for id, ok := other.index.get(lo, hi); ok && id >= other.base; {
			c, k := other.row(id)
			ot := c.t[k]
			if ot >= expired && t-ot <= j.within && ot-t <= j.within {
				p := joinPair{l: joinRef{id: id, ids: true}, r: joinRef{b: b, i: i}}
				if port == 0 {
					p = joinPair{l: joinRef{b: b, i: i}, r: joinRef{id: id, ids: true}}
				}
				j.pairs = append(j.pairs, p)
			}
			id = c.prev[k]
		}
		id := me.add(b, i, lo, hi, t)
		for p := start; p < len(j.pairs); p++ {
			if port == 0 {
				j.pairs[p].l.id, j.pairs[p].l.ids = id, true
			} else {
				j.pairs[p].r.id, j.pairs[p].r.ids = id, true
			}
		}
		if port == 0 && j.isLeft {
			heap.Push(&j.pending, leftPending{t: t, id: id})
		}
	}
	j.flushPairs()
	// Rows that arrived already behind the watermark: emit or release them
	// now rather than at the next watermark.
	j.expire()
	j.storeState()
}

// flushPairs builds the candidate pairs' rows, applies the residual
// predicate and emits the survivors, marking their left rows matched.
func (j *joinOp) flushPairs() {
	if len(j.pairs) == 0 {
		return
	}
	out := j.out
	out.Reset()
	for _, p := range j.pairs {
		j.appendSide(out, 0, &j.left, p.l, false)
		j.appendSide(out, j.nl, &j.right, p.r, p.null)
		out.Len++
	}
	j.selIdx = j.selIdx[:0]
	if j.residual != nil {
		j.selIdx = j.residual.selectTrue(out, j.selIdx)
	} else {
		for i := range j.pairs {
			j.selIdx = append(j.selIdx, int32(i))
		}
	}
	matches := 0
	for _, i := range j.selIdx {
		p := &j.pairs[i]
		if p.null {
			continue
		}
		matches++
		if p.l.ids {
			c, k := j.left.row(p.l.id)
			if !c.matched[k] && j.track && p.l.id < j.left.logFrom {
				j.matchLog = append(j.matchLog, c.seq[k])
			}
			c.matched[k] = true
		}
	}
	j.stats.JoinMatch.Add(int64(matches))
	emitSelected(out, j.selIdx, j.sel, j.emit)
}

func (j *joinOp) appendSide(out *Batch, base int, s *joinSide, r joinRef, null bool) {
	n := len(s.schema)
	if null {
		for c := 0; c < n; c++ {
			out.Vecs[base+c].AppendNull()
		}
		return
	}
	src, i := r.b, r.i
	if src == nil {
		c, k := s.row(r.id)
		src, i = c.rows, k
	}
	for c := 0; c < n; c++ {
		out.Vecs[base+c].AppendFrom(&src.Vecs[c], i)
	}
}

func (j *joinOp) watermark(wm int64) {
	if j.left.seqIdx != nil {
		j.restored()
	}
	j.wm = wm
	j.expire()
	j.storeState()
}

// expire emits unmatched LEFT rows whose time + d the watermark has passed
// (strictly) and frees chunks that hold only expired rows.
func (j *joinOp) expire() {
	limit := satSub(j.wm, j.within) // time < limit ⇔ wm > time + d
	j.pairs = j.pairs[:0]
	for len(j.pending) > 0 && j.pending[0].t < limit {
		p := heap.Pop(&j.pending).(leftPending)
		j.stats.JoinExpire.Add(1)
		c, k := j.left.row(p.id)
		if !c.matched[k] {
			j.pairs = append(j.pairs, joinPair{l: joinRef{id: p.id, ids: true}, null: true})
		}
	}
	if len(j.pairs) > 0 {
		j.stats.LeftNulls.Add(int64(len(j.pairs)))
		out := j.out
		out.Reset()
		for _, p := range j.pairs {
			j.appendSide(out, 0, &j.left, p.l, false)
			j.appendSide(out, j.nl, &j.right, p.r, true)
			out.Len++
		}
		j.emit(out)
	}
	fl := j.left.release(limit)
	fr := j.right.release(limit)
	if !j.isLeft {
		j.stats.JoinExpire.Add(int64(fl))
	}
	j.stats.JoinExpire.Add(int64(fr))
}

// outputWatermark holds the watermark back by d (and 1 ns): a pair or an
// unmatched LEFT row emitted later has a time of at least wm − d, so rows
// the join emits are never behind the watermark it passes on.
func (j *joinOp) outputWatermark(wm int64) int64 {
	return satSub(satSub(wm, j.within), 1)
}

func (j *joinOp) trackChanges() { j.track = true }

// A snapshot is the watermark, then per side the next seq and the rows
// (seq, matched, values); a delta adds, for the left side, the seqs of
// rows matched since the snapshot before. Rows the watermark has released
// are left out: their LEFT emission, if any, has happened.

func (j *joinOp) snapshot(w *stateWriter) { j.write(w, false) }

func (j *joinOp) snapshotDelta(w *stateWriter) { j.write(w, true) }

func (j *joinOp) write(w *stateWriter, delta bool) {
	limit := satSub(j.wm, j.within)
	sides := [2]*joinSide{&j.left, &j.right}
	// A first pass counts the rows written and their exact encoded size,
	// so the buffer is allocated once rather than grown and copied as it
	// doubles.
	var counts [2]int64
	size := 8 + 2*16
	if delta {
		size += 8 + 8*len(j.matchLog)
	}
	for si, s := range sides {
		from := s.base
		if delta {
			from = max(s.logFrom, s.base)
		}
		for id := from; id < s.next; id++ {
			c, k := s.row(id)
			if c.t[k] < limit {
				continue
			}
			counts[si]++
			size += 8 + 1
			for v := range c.rows.Vecs {
				size += valueSize(&c.rows.Vecs[v], k)
			}
		}
	}
	w.buf = slices.Grow(w.buf, size)
	w.i64(j.wm)
	for si, s := range sides {
		from := s.base
		if delta {
			from = max(s.logFrom, s.base)
		}
		w.i64(s.nextSeq)
		w.u64(uint64(counts[si]))
		for id := from; id < s.next; id++ {
			c, k := s.row(id)
			if c.t[k] < limit {
				continue
			}
			w.i64(c.seq[k])
			w.bool(c.matched[k])
			for v := range c.rows.Vecs {
				w.value(&c.rows.Vecs[v], k)
			}
		}
		s.logFrom = s.next
	}
	if delta {
		w.u64(uint64(len(j.matchLog)))
		for _, q := range j.matchLog {
			w.i64(q)
		}
	}
	j.matchLog = j.matchLog[:0]
}

func (j *joinOp) restore(r *stateReader) error {
	for _, s := range []*joinSide{&j.left, &j.right} {
		*s = joinSide{keys: s.keys, timeCol: s.timeCol, schema: s.schema}
	}
	j.pending = j.pending[:0]
	j.matchLog = j.matchLog[:0]
	return j.read(r, false)
}

func (j *joinOp) restoreDelta(r *stateReader) error { return j.read(r, true) }

func (j *joinOp) read(r *stateReader, delta bool) error {
	j.wm = r.i64()
	for port, s := range []*joinSide{&j.left, &j.right} {
		s.nextSeq = max(s.nextSeq, r.i64())
		n := r.count()
		tmp := NewBatch(s.schema)
		seqs := make([]int64, 0, n)
		matched := make([]bool, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			seqs = append(seqs, r.i64())
			matched = append(matched, r.bool())
			for v := range tmp.Vecs {
				r.value(&tmp.Vecs[v])
			}
			tmp.Len++
		}
		if r.err != nil {
			return r.err
		}
		if s.seqIdx == nil {
			s.seqIdx = map[int64]int64{}
		}
		s.keys.hash(tmp)
		tv := &tmp.Vecs[s.timeCol]
		for i := 0; i < tmp.Len; i++ {
			id := s.addSeq(tmp, i, s.keys.lo[i], s.keys.hi[i], tv.I64[i], seqs[i])
			s.seqIdx[seqs[i]] = id
			c, k := s.row(id)
			c.matched[k] = matched[i]
			if port == 0 && j.isLeft {
				heap.Push(&j.pending, leftPending{t: tv.I64[i], id: id})
			}
		}
		s.logFrom = s.next
	}
	if delta {
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			if id, ok := j.left.seqIdx[r.i64()]; ok {
				c, k := j.left.row(id)
				c.matched[k] = true
			}
		}
	}
	// Rows a later checkpoint's watermark has released were emitted (LEFT)
	// before that checkpoint: drop them silently.
	limit := satSub(j.wm, j.within)
	for len(j.pending) > 0 && j.pending[0].t < limit {
		heap.Pop(&j.pending)
	}
	j.storeState()
	return r.err
}

// restored ends a restore: the seq index is only needed while a chain is
// applied.
func (j *joinOp) restored() {
	j.left.seqIdx, j.right.seqIdx = nil, nil
}
