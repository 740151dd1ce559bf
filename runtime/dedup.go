package runtime

import (
	"math/bits"
	"slices"

	"github.com/sluice-sql/sluice/planner/dag"
)

// dedupTable maps 128-bit key hashes to the time of the row that opened
// the key's window. It is a flat Robin Hood table: 24 bytes a slot, no
// pointers (the garbage collector never scans it), and a load kept between
// dedupMinLoad and dedupMaxLoad, so a live key costs 24/load bytes:
// 26.7 to 34 bytes. Slot positions use multiply-shift over any capacity
// rather than a power of two, which is what lets the table grow by a
// fifth instead of doubling.
//
// Released keys are not deleted one by one: a key whose window the
// watermark has passed reads as absent (exactly the semantics of having
// been released) and its slot is reclaimed by the next rebuild, which runs
// when the table would grow and when the watermark has moved a whole
// window since the last one.
type dedupTable struct {
	slots []dedupSlot
	count int // occupied slots, released-but-not-reclaimed included
	// fresh counts keys inserted or renewed since the last rebuild: when it
	// is small next to count, most of the table is released keys.
	fresh int
}

type dedupSlot struct {
	lo, hi uint64 // lo == hi == 0 marks an empty slot (hashes are never 0,0)
	t      int64
}

const (
	dedupMinLoad = 0.7
	dedupMaxLoad = 0.9
	dedupMinCap  = 64
)

func (t *dedupTable) home(lo uint64) int {
	h, _ := bits.Mul64(lo, uint64(len(t.slots)))
	return int(h)
}

// check decides one row: keep reports whether it is kept, changed whether
// the key's state changed (a new key or a new window). released is the
// time at or before which kept times have been released (watermark − d);
// within is d.
func (t *dedupTable) check(lo, hi uint64, tm, released, within int64) (keep, changed bool) {
	if float64(t.count+1) > dedupMaxLoad*float64(len(t.slots)) {
		t.rebuild(released, t.count+1)
	}
	n := len(t.slots)
	pos := t.home(lo)
	dist := 0
	for {
		s := &t.slots[pos]
		if s.lo == 0 && s.hi == 0 {
			*s = dedupSlot{lo, hi, tm}
			t.count++
			t.fresh++
			return true, true
		}
		if s.lo == lo && s.hi == hi {
			switch {
			case s.t <= released || tm >= s.t+within:
				// Released, or the window has passed: this row is kept and
				// opens a new window.
				s.t = tm
				t.fresh++
				return true, true
			case tm > s.t-within:
				return false, false
			default:
				// Earlier than the kept row by d or more: not a duplicate
				// of it; the later window stays.
				return true, false
			}
		}
		sd := pos - t.home(s.lo)
		if sd < 0 {
			sd += n
		}
		if sd < dist {
			t.insertAt(pos, dedupSlot{lo, hi, tm})
			t.count++
			t.fresh++
			return true, true
		}
		pos++
		if pos == n {
			pos = 0
		}
		dist++
	}
}

// insertAt puts cur at pos, its Robin Hood position: pos is empty or
// holds an entry whose home comes after cur's. A Robin Hood run is sorted
// by home, so inserting there shifts the rest of the run, up to the next
// empty slot, one slot along: one memmove instead of swapping entries one
// at a time (the entries keep their order, so the table stays sorted).
func (t *dedupTable) insertAt(pos int, cur dedupSlot) {
	n := len(t.slots)
	e := pos
	for {
		s := &t.slots[e]
		if s.lo == 0 && s.hi == 0 {
			break
		}
		e++
		if e == n {
			e = 0
		}
	}
	if e >= pos {
		copy(t.slots[pos+1:e+1], t.slots[pos:e])
	} else {
		// The run wraps around the end of the table.
		copy(t.slots[1:e+1], t.slots[:e])
		t.slots[0] = t.slots[n-1]
		copy(t.slots[pos+1:], t.slots[pos:n-1])
	}
	t.slots[pos] = cur
}

// rebuild reinserts the unreleased keys into a table sized for them at
// dedupMinLoad (growing or shrinking), need being the keys about to be held.
func (t *dedupTable) rebuild(released int64, need int) {
	live := 0
	for i := range t.slots {
		s := &t.slots[i]
		if (s.lo != 0 || s.hi != 0) && s.t > released {
			live++
		}
	}
	want := live + (need - t.count)
	c := max(int(float64(want)/dedupMinLoad)+1, dedupMinCap)
	old := t.slots
	t.slots = make([]dedupSlot, c)
	t.count = 0
	t.fresh = 0
	// Reinsert in the old table's order from one of its empty slots: that
	// is the order of the keys' homes (runs are sorted by home, and home is
	// monotonic in lo whatever the capacity), so each key lands at or just
	// after the end of its new run, writing the new table front to back
	// with next to no shifting.
	start := 0
	for i := range old {
		if old[i].lo == 0 && old[i].hi == 0 {
			start = i
			break
		}
	}
	//
	// While the keys come in that order the new table is filled front to
	// back: last is the position of the key placed last and lastHome its
	// home, and every slot after last is empty, so a key whose home is not
	// before lastHome goes to its home or right after last, with no probing.
	// Keys that share an old home can reach the new table out of order (a
	// larger table tells them apart); those take the general path, which
	// shifts the run ending at last by at most one slot.
	n := len(t.slots)
	last, lastHome := -1, 0
	fast := true
	for _, part := range [2][]dedupSlot{old[start:], old[:start]} {
		for i := range part {
			s := &part[i]
			if (s.lo == 0 && s.hi == 0) || s.t <= released {
				continue
			}
			if fast {
				h := t.home(s.lo)
				if h >= lastHome {
					if p := max(h, last+1); p < n {
						t.slots[p] = *s
						t.count++
						last, lastHome = p, h
						continue
					}
				}
				if last+1 >= n {
					fast = false
				}
			}
			t.insertFresh(*s)
			if fast && (t.slots[last+1].lo != 0 || t.slots[last+1].hi != 0) {
				last++
			}
		}
	}
}

func (t *dedupTable) insertFresh(e dedupSlot) {
	n := len(t.slots)
	pos := t.home(e.lo)
	for dist := 0; ; dist++ {
		s := &t.slots[pos]
		if s.lo == 0 && s.hi == 0 {
			*s = e
			break
		}
		sd := pos - t.home(s.lo)
		if sd < 0 {
			sd += n
		}
		if sd < dist {
			t.insertAt(pos, e)
			break
		}
		pos++
		if pos == n {
			pos = 0
		}
	}
	t.count++
}

// bytes is the memory the table holds.
func (t *dedupTable) bytes() int { return len(t.slots) * 24 }

// set makes tm the key's window start, inserting the key if needed.
func (t *dedupTable) set(lo, hi uint64, tm int64) {
	if float64(t.count+1) > dedupMaxLoad*float64(len(t.slots)) {
		t.rebuild(noWatermark, t.count+1)
	}
	n := len(t.slots)
	pos := t.home(lo)
	for dist := 0; ; dist++ {
		s := &t.slots[pos]
		if s.lo == lo && s.hi == hi {
			s.t = tm
			return
		}
		sd := pos - t.home(s.lo)
		if sd < 0 {
			sd += n
		}
		if (s.lo == 0 && s.hi == 0) || sd < dist {
			t.insertAt(pos, dedupSlot{lo, hi, tm})
			t.count++
			return
		}
		pos++
		if pos == n {
			pos = 0
		}
	}
}

// dedupOp implements DEDUPLICATE BY keys WITHIN d.
//
// With change tracking on (checkpoints enabled) it also logs every key
// whose state changed since the last snapshot, so a checkpoint can store
// those 24-byte entries instead of the whole table.
type dedupOp struct {
	track     bool
	changes   []dedupSlot
	keys      *keyHasher
	timeCol   int
	within    int64
	wm        int64
	lastSweep int64
	table     dedupTable
	sel       []int32
	out       *Batch
	emit      emitter
	stats     *operatorStats
}

func newDedup(n *dag.Node, in dag.Schema, emit emitter, st *operatorStats) *dedupOp {
	return &dedupOp{
		keys:      newKeyHasher(n.Dedup.Keys),
		timeCol:   n.TimeCol,
		within:    int64(n.Dedup.Within),
		wm:        noWatermark,
		lastSweep: noWatermark,
		out:       NewBatch(in),
		emit:      emit,
		stats:     st,
	}
}

func (d *dedupOp) process(_ int, b *Batch) {
	d.keys.hash(b)
	tv := &b.Vecs[d.timeCol]
	released := satSub(d.wm, d.within)
	sel := d.sel[:0]
	drops := 0
	for i := 0; i < b.Len; i++ {
		// NULL keys are never duplicates; a row without a time has no
		// window to be a duplicate in.
		if d.keys.null[i] || tv.IsNull(i) {
			sel = append(sel, int32(i))
			continue
		}
		keep, changed := d.table.check(d.keys.lo[i], d.keys.hi[i], tv.I64[i], released, d.within)
		if !keep {
			drops++
			continue
		}
		sel = append(sel, int32(i))
		if changed && d.track {
			d.changes = append(d.changes, dedupSlot{d.keys.lo[i], d.keys.hi[i], tv.I64[i]})
		}
	}
	d.sel = sel
	d.stats.DedupDrops.Add(int64(drops))
	d.stats.State.Store(int64(d.table.count))
	emitSelected(b, sel, d.out, d.emit)
}

func (d *dedupOp) watermark(wm int64) {
	d.wm = wm
	// Growth already reclaims released slots while keys keep arriving.
	// When they slow down, reclaim here, at most once per window of event
	// time, so memory follows the live keys.
	if d.table.count > dedupMinCap && d.within > 0 && satSub(wm, d.lastSweep) >= d.within &&
		4*d.table.fresh < d.table.count {
		d.lastSweep = wm
		d.table.rebuild(satSub(wm, d.within), d.table.count)
		d.stats.State.Store(int64(d.table.count))
	}
}

func (d *dedupOp) outputWatermark(wm int64) int64 { return wm }

func (d *dedupOp) trackChanges() { d.track = true }

// snapshotDelta writes the keys changed since the last snapshot.
func (d *dedupOp) snapshotDelta(w *stateWriter) {
	w.buf = slices.Grow(w.buf, 16+24*len(d.changes))
	w.i64(d.wm)
	w.u64(uint64(len(d.changes)))
	for _, c := range d.changes {
		w.u64(c.lo)
		w.u64(c.hi)
		w.i64(c.t)
	}
	d.changes = d.changes[:0]
}

// restoreDelta applies changes written by snapshotDelta on top of the
// restored state; keys the watermark has released since are reclaimed by
// the next rebuild like any other.
func (d *dedupOp) restoreDelta(r *stateReader) error {
	d.wm = r.i64()
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		lo, hi, t := r.u64(), r.u64(), r.i64()
		if r.err == nil {
			d.table.set(lo, hi, t)
		}
	}
	d.stats.State.Store(int64(d.table.count))
	return r.err
}

func (d *dedupOp) snapshot(w *stateWriter) {
	d.changes = d.changes[:0]
	released := satSub(d.wm, d.within)
	live := 0
	for i := range d.table.slots {
		s := &d.table.slots[i]
		if (s.lo != 0 || s.hi != 0) && s.t > released {
			live++
		}
	}
	w.buf = slices.Grow(w.buf, 16+24*live)
	w.i64(d.wm)
	w.u64(uint64(live))
	for i := range d.table.slots {
		s := &d.table.slots[i]
		if (s.lo != 0 || s.hi != 0) && s.t > released {
			w.u64(s.lo)
			w.u64(s.hi)
			w.i64(s.t)
		}
	}
}

func (d *dedupOp) restore(r *stateReader) error {
	d.changes = d.changes[:0]
	d.wm = r.i64()
	n := r.count()
	d.table = dedupTable{}
	d.table.rebuild(noWatermark, n)
	for i := 0; i < n && r.err == nil; i++ {
		d.table.insertFresh(dedupSlot{lo: r.u64(), hi: r.u64(), t: r.i64()})
	}
	d.stats.State.Store(int64(d.table.count))
	return r.err
}
