package server

import (
	"strings"
	"sync"
	"time"
)

// History bounds: a sample every HistoryEvery, HistoryLen of them (15
// minutes). A pipeline's history is a fixed ring, so memory per pipeline
// is constant whatever the uptime.
const (
	HistoryEvery = 10 * time.Second
	HistoryLen   = 90
)

// History is a pipeline's throughput over the last 15 minutes: rows per
// second read and written, averaged over each HistoryEvery, oldest first.
// A sample taken while the pipeline was not running is 0.
type History struct {
	EverySeconds float64   `json:"every_s"`
	End          time.Time `json:"end"` // when the last sample was taken
	In           []float64 `json:"in"`
	Out          []float64 `json:"out"`
}

type ring struct {
	in, out [HistoryLen]float64
	n, next int // samples held, where the next goes
	// The counters of each run (a task of the pipeline) at the previous
	// sample: a new run counts from zero.
	last  map[*run]counts
	endAt time.Time
}

// counts are a run's counters at a sample.
type counts struct {
	in, out int64
	at      time.Time
}

func (r *ring) add(in, out float64, at time.Time) {
	r.in[r.next], r.out[r.next] = in, out
	r.next = (r.next + 1) % HistoryLen
	r.n = min(r.n+1, HistoryLen)
	r.endAt = at
}

// history keeps every pipeline's ring, by lower-case name.
type history struct {
	mu    sync.Mutex
	rings map[string]*ring
}

func newHistory() *history { return &history{rings: map[string]*ring{}} }

// sample adds one sample per pipeline of the catalog: its rate since the
// previous sample, 0 when it is not running; for a pipeline split into
// tasks, the sum of the rates of its main graph's tasks running here.
func (s *Server) sampleHistory(now time.Time) {
	s.mu.Lock()
	runs := map[string][]*run{}
	for _, r := range s.runs {
		if r.u.stage == "" {
			k := strings.ToLower(r.name)
			runs[k] = append(runs[k], r)
		}
	}
	s.mu.Unlock()
	names := map[string]bool{}
	for _, o := range s.cat.List("PIPELINE") {
		names[strings.ToLower(o.Name)] = true
	}
	h := s.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.rings {
		if !names[k] {
			delete(h.rings, k) // dropped
		}
	}
	for k := range names {
		rg := h.rings[k]
		if rg == nil {
			rg = &ring{}
			h.rings[k] = rg
		}
		last := map[*run]counts{}
		var in, out float64
		for _, r := range runs[k] {
			st := r.p.Stats()
			c, ok := rg.last[r]
			if !ok {
				// A new run: its counters started at zero when it started.
				c = counts{at: r.started}
			}
			if dt := now.Sub(c.at).Seconds(); dt > 0 {
				in += max(float64(st.RecordsIn-c.in)/dt, 0)
				out += max(float64(st.RowsWritten-c.out)/dt, 0)
			}
			last[r] = counts{in: st.RecordsIn, out: st.RowsWritten, at: now}
		}
		rg.last = last
		rg.add(in, out, now)
	}
}

// History returns a pipeline's throughput history (empty before the first
// sample).
func (s *Server) History(name string) History {
	h := History{EverySeconds: s.historyEvery().Seconds(), In: []float64{}, Out: []float64{}}
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	rg := s.hist.rings[strings.ToLower(name)]
	if rg == nil {
		return h
	}
	h.End = rg.endAt.UTC()
	for i := 0; i < rg.n; i++ {
		j := (rg.next - rg.n + i + HistoryLen) % HistoryLen
		h.In = append(h.In, rg.in[j])
		h.Out = append(h.Out, rg.out[j])
	}
	return h
}

func (s *Server) historyEvery() time.Duration {
	if s.cfg.HistoryEvery > 0 {
		return s.cfg.HistoryEvery
	}
	return HistoryEvery
}

// keepHistory samples every pipeline's throughput until the server closes.
func (s *Server) keepHistory() {
	t := time.NewTicker(s.historyEvery())
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.sampleHistory(now)
		}
	}
}
