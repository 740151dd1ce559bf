package runtime

// Barriers: the operator loop collects output rows, ships them to the sink
// loop in batches and, at a barrier, snapshots operator state for the
// checkpoint that follows the write.

import (
	"maps"
	"time"
)

// collect receives the rows for the sink.
func (x *execution) collect(b *Batch) {
	x.rowsSince += b.Len
	if x.pending.Len == 0 && x.continuous && x.opts.FlushInterval > 0 {
		x.pendingSince = time.Now()
	}
	x.pending.AppendBatch(b)
	if x.pending.Len >= x.shipAt {
		x.ship()
	}
}

func (x *execution) ship() {
	if x.pending.Len == 0 {
		return
	}
	x.sinkQ <- sinkMsg{batch: x.pending}
	select {
	case b := <-x.freeB:
		b.Reset()
		x.pending = b
	default:
		x.pending = NewBatch(x.sinkSchema)
	}
}

// barrier snapshots every operator with the offsets it reflects and sends
// the checkpoint down the sink queue behind the rows produced before it.
func (x *execution) barrier(final bool) {
	x.ship()
	x.rowsSince = 0
	if !x.dirty && !final {
		// Nothing changed since the last barrier; let the sink know the
		// request was seen.
		x.sinkQ <- sinkMsg{}
		return
	}
	x.dirty = false
	x.epoch++
	cp := &Checkpoint{
		Epoch:      x.epoch,
		Offsets:    map[string]Offsets{},
		Watermarks: map[string]map[int32]int64{},
		Time:       x.opts.Now(),
		Final:      final,
		Owner:      x.opts.Owner,
	}
	for _, s := range x.sources {
		cp.Offsets[s.key] = maps.Clone(s.next)
		cp.Watermarks[s.key] = s.wm.state()
	}
	if x.opts.Store == nil {
		// Nothing will store the operators' state: the checkpoint only
		// carries the offsets to commit after the write (and its token).
		// Skipping the snapshot is safe because change tracking is off
		// without a store (run calls trackChanges only with one), so no
		// operator keeps a change log that a snapshot would have reset.
		x.sinkQ <- sinkMsg{barrier: cp, final: final}
		return
	}
	full := !x.haveBase || x.sinceFull >= fullEvery || x.deltaBytes >= x.fullBytes
	size := x.runner.snapshot(cp, full)
	if full {
		x.haveBase = true
		x.sinceFull, x.deltaBytes, x.fullBytes = 0, 0, size
	} else {
		x.sinceFull++
		x.deltaBytes += size
	}
	x.sinkQ <- sinkMsg{barrier: cp, final: final}
}
