package runtime

// The replay cut: after a restart, records up to the write intent's end
// offsets are replayed to rebuild the batch that was being written, so it
// is written again with the same token; records past the cut wait.

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
