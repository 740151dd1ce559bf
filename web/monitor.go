package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/sql"
)

// liveEvery is how often the live socket sends a pipeline's counters.
var liveEvery = time.Second

// graph answers a pipeline's operator graph, each node with its SQL span.
func (h *handler) graph(w http.ResponseWriter, r *http.Request) {
	g, err := h.srv.Graph(r.PathValue("name"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// live streams a pipeline's counters, about once a second, until the
// client goes away or the pipeline is dropped. Like the other sockets it
// has one reader and one writer, and drops a client that falls behind.
func (h *handler) live(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := h.srv.Object(sql.ObjPipeline, name); err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s, ok := h.open(w, r, cancel)
	if !ok {
		return
	}
	start := time.Now()
	var tr server.LiveTracker
	tick := time.NewTicker(liveEvery)
	defer tick.Stop()
	for {
		l, err := h.srv.Live(name, &tr)
		if err != nil {
			// Dropped.
			s.finish(endMsg{Type: "end", Reason: "dropped", ElapsedMS: time.Since(start).Milliseconds()})
			return
		}
		if !s.send(l) {
			s.finish(nil)
			return
		}
		select {
		case <-ctx.Done():
			s.finish(nil)
			return
		case <-tick.C:
		}
	}
}

// deadLettersAnswer is the answer of the dead_letters calls.
type deadLettersAnswer struct {
	Sources []server.SourceDeadLetters `json:"sources"`
}

// deadLetters answers the last dead letters of a pipeline's sources, or of
// one source: ?limit=N per source (default 20, at most 200).
func (h *handler) deadLetters(kind sql.ObjectKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if _, err := h.srv.Object(kind, name); err != nil {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
			return
		}
		n := 20
		if v := r.URL.Query().Get("limit"); v != "" {
			l, err := strconv.Atoi(v)
			if err != nil || l < 1 || l > server.MaxDeadLetters {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "limit must be a whole number from 1 to " + strconv.Itoa(server.MaxDeadLetters) + ", not " + strconv.Quote(v)})
				return
			}
			n = l
		}
		srcs, err := h.srv.DeadLetters(r.Context(), name, n)
		if err != nil {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, deadLettersAnswer{Sources: srcs})
	}
}
