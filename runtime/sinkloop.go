package runtime

// The sink loop writes shipped batches at each barrier: write intent, one
// write, checkpoint, then commits of the offsets the checkpoint covers.

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// sinkLoop accumulates rows, writes them at barriers, stores each
// checkpoint after its write and then has the sources commit.
func (x *execution) sinkLoop(runCtx, stopCtx context.Context) {
	defer func() {
		if x.recovered("sink", recover()) {
			// Nothing more is written or checkpointed; drain the queue so
			// that the operator goroutine is not held up.
			for range x.sinkQ {
			}
		}
	}()
	acc := NewBatch(x.sinkSchema)
	name := TaskName(x.g.Name, x.opts.Task)
	prev := map[string]Offsets{}
	if x.restored != nil {
		prev = x.restored.Offsets
	}
	requested := false
	request := func() {
		if requested {
			return
		}
		select {
		case x.ckptReq <- struct{}{}:
			requested = true
		default:
		}
	}
	// A batch sink asks for a barrier every flush_interval: each write is
	// followed by its checkpoint. A continuous sink writes each batch as it
	// comes and asks for a barrier every CheckpointInterval.
	every := x.opts.FlushInterval
	if x.continuous {
		every = x.opts.CheckpointInterval
	}
	// Barriers are asked for every flush_interval (batch sinks) or
	// CheckpointInterval (continuous ones) from the last one asked for or
	// cut by batch_size (lastReq), whatever the write and checkpoint take:
	// rows wait at most that long before their write starts.
	lastReq := x.opts.Now()
	tickEvery := max(every/50, 5*time.Millisecond)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	failed := false
	var unsaved []*Checkpoint
	// written counts the rows a continuous sink was given since the last
	// checkpoint.
	written := 0
	for {
		var m sinkMsg
		var ok bool
		select {
		case m, ok = <-x.sinkQ:
			if !ok {
				return
			}
		case <-tick.C:
			now := x.opts.Now()
			if !requested && now.Sub(lastReq) >= every {
				request()
				if requested {
					lastReq = now
				}
			}
			continue
		}
		if m.batch != nil {
			if x.continuous {
				if !failed && !x.broken.Load() {
					if err := x.writeNow(stopCtx, m.batch); err != nil {
						x.fail(err)
						failed = true
					} else {
						written += m.batch.Len
						if x.replayCount > 0 {
							x.counters.possibleDups.Add(int64(m.batch.Len))
						}
					}
				}
			} else if !failed {
				acc.AppendBatch(m.batch)
			}
			select {
			case x.freeB <- m.batch:
			default:
			}
			// batch_size is the operator goroutine's trigger
			// (maybeBarrier); flush_interval is this one's.
			continue
		}
		if !requested {
			// A barrier for batch_size: the next flush_interval starts now.
			lastReq = x.opts.Now()
		}
		requested = false
		cp := m.barrier
		if cp == nil || failed || x.broken.Load() {
			continue
		}
		// Every write runs under stopCtx, which outlives the stop by
		// StopTimeout: a stop lets a write in flight finish rather than
		// cancelling it and writing its rows again under the final
		// barrier's token, which would store them twice.
		ctx := stopCtx
		if x.continuous && written > 0 {
			if err := x.settle(ctx, cp, prev, written); err != nil {
				x.fail(err)
				failed = true
				continue
			}
			written = 0
			if x.replayCount > 0 {
				x.replayCount--
			}
		}
		if acc.Len > 0 {
			token := writeToken(name, cp.Epoch, prev, cp.Offsets)
			if x.opts.Store != nil {
				in := &Intent{Epoch: cp.Epoch, Token: token, Rows: acc.Len, End: cp.Offsets, Owner: x.opts.Owner}
				if err := x.opts.Store.SaveIntent(ctx, name, in); err != nil {
					x.fail(fmt.Errorf("store write intent: %w", err))
					failed = true
					continue
				}
			}
			t0 := time.Now()
			err := x.sink.Write(ctx, acc, token)
			if err != nil {
				if runCtx.Err() != nil && !m.final {
					// The stop's time ran out during the write: the rows
					// stay in acc for the final barrier, and this checkpoint
					// is saved before the final one (a later incremental
					// checkpoint builds on it). The interrupted insert may
					// have landed, so its rows count as possible duplicates.
					x.counters.possibleDups.Add(int64(acc.Len))
					unsaved = append(unsaved, cp)
					continue
				}
				x.fail(fmt.Errorf("sink %q: %w", x.sinkNode.Sink.Name, err))
				failed = true
				continue
			}
			if c, ok := x.sink.(Committer); ok {
				if err := c.Commit(ctx, cp.Epoch); err != nil {
					x.fail(fmt.Errorf("sink %q: commit epoch %d: %w", x.sinkNode.Sink.Name, cp.Epoch, err))
					failed = true
					continue
				}
			}
			d := time.Since(t0)
			x.counters.sinkNanos.Add(int64(d))
			x.counters.lastSinkNanos.Store(int64(d))
			x.counters.batchesWritten.Add(1)
			x.counters.lastBatchRows.Store(int64(acc.Len))
			x.counters.rowsWritten.Add(int64(acc.Len))
			acc.Reset()
		}
		if x.opts.Store != nil {
			unsaved = append(unsaved, cp)
			for _, c := range unsaved {
				if err := x.opts.Store.Save(ctx, name, c); err != nil {
					x.fail(fmt.Errorf("store checkpoint: %w", err))
					failed = true
					break
				}
			}
			unsaved = unsaved[:0]
			if failed {
				continue
			}
			x.counters.checkpoints.Add(1)
			x.counters.lastCheckpoint.Store(cp.Time.UnixNano())
		}
		prev = cp.Offsets
		for _, s := range x.sources {
			if o := cp.Offsets[s.key]; len(o) > 0 {
				s.ctrl <- ctrlMsg{commit: o}
			}
		}
		if m.final {
			// Drain whatever follows (nothing should).
			for range x.sinkQ {
			}
			return
		}
	}
}

// writeNow hands a batch to a continuous sink as soon as it arrives.
func (x *execution) writeNow(ctx context.Context, b *Batch) error {
	t0 := time.Now()
	if err := x.sink.Write(ctx, b, ""); err != nil {
		return fmt.Errorf("sink %q: %w", x.sinkNode.Sink.Name, err)
	}
	d := time.Since(t0)
	x.counters.sinkNanos.Add(int64(d))
	x.counters.lastSinkNanos.Store(int64(d))
	x.counters.batchesWritten.Add(1)
	x.counters.lastBatchRows.Store(int64(b.Len))
	x.counters.rowsWritten.Add(int64(b.Len))
	return nil
}

// settle makes the rows a continuous sink was given since the last
// checkpoint durable before checkpoint cp is stored: it stores the write
// intent (so a crash from here on replays to exactly cp's offsets under
// cp's epoch, and counts the rows as possible duplicates), flushes the
// sink and, for a Committer, commits the epoch.
func (x *execution) settle(ctx context.Context, cp *Checkpoint, prev map[string]Offsets, rows int) error {
	name := TaskName(x.g.Name, x.opts.Task)
	if x.opts.Store != nil {
		in := &Intent{Epoch: cp.Epoch, Token: writeToken(name, cp.Epoch, prev, cp.Offsets), Rows: rows, End: cp.Offsets, Owner: x.opts.Owner}
		if err := x.opts.Store.SaveIntent(ctx, name, in); err != nil {
			return fmt.Errorf("store write intent: %w", err)
		}
	}
	if f, ok := x.sink.(Flusher); ok {
		t0 := time.Now()
		if err := f.Flush(ctx); err != nil {
			return fmt.Errorf("sink %q: flush: %w", x.sinkNode.Sink.Name, err)
		}
		x.counters.sinkNanos.Add(int64(time.Since(t0)))
	}
	if c, ok := x.sink.(Committer); ok {
		if err := c.Commit(ctx, cp.Epoch); err != nil {
			return fmt.Errorf("sink %q: commit epoch %d: %w", x.sinkNode.Sink.Name, cp.Epoch, err)
		}
	}
	return nil
}

// writeToken names a write by the input it covers: the pipeline, the
// epoch and the offsets it starts and ends at. A replay from the same
// checkpoint to the same offsets produces the same rows and so the same
// token.
func writeToken(pipeline string, epoch uint64, from, to map[string]Offsets) string {
	h := fnv.New64a()
	for _, m := range []map[string]Offsets{from, to} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			h.Write([]byte(k))
			o := m[k]
			for _, p := range slices.Sorted(maps.Keys(o)) {
				fmt.Fprintf(h, "|%d=%d", p, o[p])
			}
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s-%d-%016x", pipeline, epoch, h.Sum64())
}
