package runtime

// The operator loop runs the DAG's operators over decoded chunks in
// order, moves watermarks and decides when a barrier is due.

import (
	"context"
	"slices"
	"time"
)

// operatorLoop runs every operator. It returns after ctx ends (having
// sent the final barrier) or, for a preview, when the limit is reached.
func (x *execution) operatorLoop(ctx context.Context) {
	every := watermarkTick
	if x.continuous && x.opts.FlushInterval > 0 && x.opts.FlushInterval < every {
		every = max(x.opts.FlushInterval, time.Millisecond)
	}
	tick := time.NewTicker(every)
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
//
// A continuous sink takes its rows at once instead: the pending rows are
// shipped when flush_interval has passed since the first of them (at once
// with the default '0'), and barriers come only when the sink goroutine
// asks for one (CheckpointInterval). So window results and LEFT rows that
// a watermark step emits leave on that step.
func (x *execution) maybeBarrier() {
	if x.continuous {
		if x.pending.Len > 0 && (x.opts.FlushInterval <= 0 || time.Since(x.pendingSince) >= x.opts.FlushInterval) {
			x.ship()
		}
		return
	}
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
