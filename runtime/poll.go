package runtime

// The poll loop (one per source) reads records and hands them, in chunks,
// to the decode workers; it also serves commits and dead letters, so that
// one goroutine talks to each source.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

func (x *execution) decodeLoop() {
	decs := make([]*recordDecoder, len(x.sources))
	for c := range x.work {
		x.decodeChunk(decs, c)
		c.done <- struct{}{}
	}
}

// decodeChunk decodes c's records into c.batch. After a panic the chunk
// is handed on empty (the run is stopping) and the worker goes on serving,
// so that nothing waits for it forever.
func (x *execution) decodeChunk(decs []*recordDecoder, c *chunk) {
	defer func() {
		if x.recovered("decode", recover()) {
			decs[c.src.idx] = nil
			c.batch.Reset()
			c.rowRec, c.dead = c.rowRec[:0], c.dead[:0]
			c.failed = true
		}
	}()
	s := c.src
	d := decs[s.idx]
	if d == nil {
		// newRecordDecoder was checked by newExecution; it cannot fail here.
		d, _ = newRecordDecoder(s.rt.n.Schema, s.spec)
		d.limitFuture(s.rt.n.Schema, s.rt.n.TimeCol, s.maxFuture)
		decs[s.idx] = d
	}
	t0 := time.Now()
	defer func() { s.rt.stats.Busy.Add(int64(time.Since(t0))) }()
	c.batch.Reset()
	c.rowRec = c.rowRec[:0]
	c.dead = c.dead[:0]
	c.future = 0
	c.failed = false
	if testPanic != nil {
		testPanic(x.g.Name, "decode")
	}
	// max_future is measured against the wall clock (Options.Now is the
	// idleness clock, which tests may stop).
	d.setNow(time.Now())
	for i := range c.recs {
		if err := d.decode(&c.recs[i], c.batch); err != nil {
			c.dead = append(c.dead, deadRec{rec: int32(i), reason: err.Error()})
			if _, ok := err.(*futureError); ok {
				c.future++
			}
			continue
		}
		c.rowRec = append(c.rowRec, int32(i))
	}
}

// pollLoop is the only goroutine that calls s.src. It polls until runCtx
// ends, then only serves ctrl (the final commit) until told to close.
func (x *execution) pollLoop(runCtx, stopCtx context.Context, s *sourceRT) {
	defer func() {
		if x.recovered("poll", recover()) {
			// The source is in an unknown state: call it no more, but
			// drain ctrl so that no sender waits for this goroutine.
			for m := range s.ctrl {
				if m.close {
					break
				}
			}
		}
	}()
	defer s.src.Close()
	var lastParts []int32
	serve := func(m ctrlMsg) bool {
		switch {
		case m.close:
			return false
		case m.dead != nil:
			if err := s.src.DeadLetter(stopCtx, m.dead, m.reason); err != nil {
				x.counters.deadLetterErrs.Add(1)
				x.opts.Logf("pipeline %q: source %q: dead letter: %v", x.g.Name, s.spec.Name, err)
			}
		case m.commit != nil:
			if err := s.src.Commit(stopCtx, m.commit); err != nil {
				x.counters.commitErrs.Add(1)
				x.opts.Logf("pipeline %q: source %q: commit: %v", x.g.Name, s.spec.Name, err)
			}
		}
		return true
	}
	stopping := false
	for {
		if stopping || runCtx.Err() != nil {
			if !serve(<-s.ctrl) {
				return
			}
			continue
		}
		select {
		case m := <-s.ctrl:
			if !serve(m) {
				return
			}
			continue
		default:
		}
		pctx, cancel := context.WithTimeout(runCtx, x.opts.PollTimeout)
		caughtUp := x.caughtUp(s)
		pollStart := x.opts.Now()
		recs, err := s.src.Poll(pctx)
		if caughtUp && len(s.free) == chunksPerSrc {
			// Only waiting with nothing in flight is idleness: while the
			// records of an earlier poll are still queued for the operator
			// goroutine (a slow sink holds it back), the partitions they
			// belong to are not idle, even if the source has no more.
			s.waited.Add(int64(x.opts.Now().Sub(pollStart)))
		}
		cancel()
		if err != nil && len(recs) == 0 {
			if runCtx.Err() != nil {
				continue
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				x.fail(fmt.Errorf("source %q: %w", s.spec.Name, err))
				stopping = true
				continue
			}
			// No records, but the partitions may still be news: a restored
			// watermark waits for them (sourceWatermark.unlisted).
			recs = nil
		}
		x.counters.recordsIn.Add(int64(len(recs)))
		if lr, ok := s.src.(LagReporter); ok {
			s.counters.lag.Store(lr.Lag())
		}
		parts := s.src.Partitions()
		// The first list is always handed on, even an empty one: a
		// restored watermark waits for it.
		changed := lastParts == nil || !slices.Equal(parts, lastParts)
		if changed {
			lastParts = append(make([]int32, 0, len(parts)), parts...)
		}
		for len(recs) > 0 || changed {
			n := min(len(recs), chunkRecords)
			var c *chunk
			for c == nil {
				select {
				case c = <-s.free:
				case m := <-s.ctrl:
					if !serve(m) {
						return
					}
				case <-runCtx.Done():
					// Records not handed on are simply not processed: their
					// offsets are not committed, so they are read again.
					recs, changed = nil, false
				}
				if runCtx.Err() != nil && c == nil {
					break
				}
			}
			if c == nil {
				break
			}
			c.fill(recs[:n], s.stable)
			c.parts = nil
			if changed {
				c.parts = lastParts
				changed = false
			}
			recs = recs[n:]
			for sent := false; !sent; {
				select {
				case x.work <- c:
					sent = true
				case m := <-s.ctrl:
					if !serve(m) {
						return
					}
				}
			}
			x.ordered <- c // never blocks: capacity is every chunk
		}
	}
}

// caughtUp reports whether waiting in s's next Poll can be idleness: the
// source has returned every record it knows of. A source that reports its
// lag (LagReporter) and is behind, or does not know yet (a Kafka client
// still connecting after a restart), has records to deliver, however long
// it takes: its partitions are not idle meanwhile. Otherwise a slow first
// fetch after a restart made every restored partition idle, and the
// watermark jumped to the largest time restored, past the records of the
// partitions that were behind.
func (x *execution) caughtUp(s *sourceRT) bool {
	lr, ok := s.src.(LagReporter)
	return !ok || lr.Lag() == 0
}

// fill copies recs into c, because a Poll's records are only valid until
// the next Poll and decoding happens later on another goroutine. When the
// source's record bytes are stable (StableRecords), only the Record structs
// are copied (Poll reuses its slice of them); the keys and values are kept
// as they are. Nothing downstream needs a private copy: decoding copies
// what it keeps into the batch, dead letters are cloned, and split chunks
// only share the bytes, which stay valid either way.
func (c *chunk) fill(recs []Record, stable bool) {
	if stable {
		c.buf = c.buf[:0]
		c.recs = append(c.recs[:0], recs...)
		return
	}
	total := 0
	for i := range recs {
		total += len(recs[i].Key) + len(recs[i].Value)
	}
	if cap(c.buf) < total {
		c.buf = make([]byte, 0, total+total/4)
	}
	c.buf = c.buf[:0]
	c.recs = c.recs[:0]
	for _, r := range recs {
		if r.Key != nil {
			k := len(c.buf)
			c.buf = append(c.buf, r.Key...)
			r.Key = c.buf[k:len(c.buf):len(c.buf)]
		}
		v := len(c.buf)
		c.buf = append(c.buf, r.Value...)
		r.Value = c.buf[v:len(c.buf):len(c.buf)]
		c.recs = append(c.recs, r)
	}
}
