package runtime

import (
	"math"
	"time"
)

// sourceWatermark tracks one source's watermark: per partition the largest
// time seen minus the delay, the source's being the minimum over its
// partitions. A partition that has had no record for idleTimeout (counted
// from when it was first listed, if it never had one) does not hold the
// watermark back; when all are idle the watermark is the largest time seen
// minus the delay. The result never goes backwards.
//
// After a restore the partitions are only those the checkpoint had a time
// for: one that was listed but had no record yet is not among them. Until
// the source lists its partitions again (setPartitions), the watermark
// stays where it was restored, since a minimum over the restored
// partitions alone would pass the records of the missing ones.
type sourceWatermark struct {
	delay   int64
	idle    time.Duration
	parts   map[int32]*partitionTime
	maxSeen int64
	seen    bool
	cur     int64
	// unlisted is true from a restore until the source lists its
	// partitions.
	unlisted bool
	// held are partitions whose records are held back by a replay cut:
	// they have records, so they are never idle.
	held map[int32]bool
}

type partitionTime struct {
	max  int64
	seen bool
	last time.Time // last record, or when the partition was first listed
}

func newSourceWatermark(delay, idle time.Duration) *sourceWatermark {
	if idle <= 0 {
		idle = 5 * time.Second
	}
	return &sourceWatermark{delay: int64(delay), idle: idle, parts: map[int32]*partitionTime{}, maxSeen: math.MinInt64, cur: noWatermark}
}

// setPartitions makes the tracked partitions exactly ps (after an
// assignment change); new ones start their idle clock at now.
func (w *sourceWatermark) setPartitions(ps []int32, now time.Time) {
	w.unlisted = false
	keep := make(map[int32]bool, len(ps))
	for _, p := range ps {
		keep[p] = true
		if w.parts[p] == nil {
			w.parts[p] = &partitionTime{max: math.MinInt64, last: now}
		}
	}
	for p := range w.parts {
		if !keep[p] {
			delete(w.parts, p)
		}
	}
}

func (w *sourceWatermark) observe(p int32, t int64, now time.Time) {
	pt := w.parts[p]
	if pt == nil {
		pt = &partitionTime{max: math.MinInt64}
		w.parts[p] = pt
	}
	if !pt.seen || t > pt.max {
		pt.max = t
	}
	pt.seen = true
	pt.last = now
	if t > w.maxSeen {
		w.maxSeen = t
	}
	w.seen = true
}

// wake is called when records arrive. If every partition was idle, the
// source was waiting for data as a whole, and the records arriving now are
// the first of a new burst; one fetch rarely brings every partition's
// share, so each partition gets a fresh idle_timeout to show its records
// before it stops holding the watermark back again. Without this, the
// first partition to deliver would alone set the watermark and release
// state that its siblings' records, still in flight, need.
func (w *sourceWatermark) wake(now time.Time) {
	for p, pt := range w.parts {
		if !w.isIdle(p, pt, now) {
			return
		}
	}
	for _, pt := range w.parts {
		pt.last = now
	}
}

// touch marks partition p active (a record arrived, even one without a
// time or one that was dead-lettered).
func (w *sourceWatermark) touch(p int32, now time.Time) {
	if pt := w.parts[p]; pt != nil {
		pt.last = now
	}
}

// hold marks partition p as having records held back (by a replay cut):
// until release, it is not idle, however long its records wait. They are
// not observed yet, so p's time stays where the processed records left it.
func (w *sourceWatermark) hold(p int32) {
	if w.held == nil {
		w.held = map[int32]bool{}
	}
	w.held[p] = true
}

// release ends every hold; the held records are about to be processed,
// which marks their partitions active as any records do.
func (w *sourceWatermark) release() { clear(w.held) }

func (w *sourceWatermark) isIdle(p int32, pt *partitionTime, now time.Time) bool {
	return !w.held[p] && now.Sub(pt.last) >= w.idle
}

func (w *sourceWatermark) current(now time.Time) int64 {
	if w.unlisted {
		return w.cur
	}
	wm := int64(math.MaxInt64)
	active := false
	for p, pt := range w.parts {
		if w.isIdle(p, pt, now) {
			continue
		}
		active = true
		if !pt.seen {
			wm = math.MinInt64
		} else if m := satSub(pt.max, w.delay); m < wm {
			wm = m
		}
	}
	if !active {
		wm = noWatermark
		if w.seen {
			wm = satSub(w.maxSeen, w.delay)
		}
	}
	if wm > w.cur {
		w.cur = wm
	}
	return w.cur
}

// state and restore carry the per-partition maxima across a restart, so
// the watermark resumes where it was rather than from nothing.
func (w *sourceWatermark) state() map[int32]int64 {
	m := make(map[int32]int64, len(w.parts))
	for p, pt := range w.parts {
		if pt.seen {
			m[p] = pt.max
		}
	}
	m[-1] = w.cur
	return m
}

func (w *sourceWatermark) restore(m map[int32]int64, now time.Time) {
	w.unlisted = true
	for p, t := range m {
		if p == -1 {
			w.cur = t
			continue
		}
		w.parts[p] = &partitionTime{max: t, seen: true, last: now}
		if t > w.maxSeen {
			w.maxSeen = t
		}
		w.seen = true
	}
}
