package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/server"
)

const (
	writeWait = 10 * time.Second
	pongWait  = 60 * time.Second
	pingEvery = pongWait * 9 / 10
	// sendQueue is the messages a client may fall behind by before it is
	// dropped: the producer (a preview or a pipeline's tap) never waits
	// for a socket.
	sendQueue = 256
	// maxClientMessage bounds what a client may send: one preview request.
	maxClientMessage = 1 << 20
)

// Messages on the preview and tail sockets, server to client.
type (
	schemaMsg struct {
		Type    string          `json:"type"` // "schema"
		Columns []server.Column `json:"columns"`
	}
	rowsMsg struct {
		Type      string          `json:"type"` // "rows"
		Rows      json.RawMessage `json:"rows"`
		Count     int             `json:"count"`
		Total     int64           `json:"total"`
		ElapsedMS int64           `json:"elapsed_ms"`
	}
	endMsg struct {
		Type      string `json:"type"`   // "end"
		Reason    string `json:"reason"` // limit, timeout, done, stopped
		Total     int64  `json:"total"`
		ElapsedMS int64  `json:"elapsed_ms"`
	}
	// statsMsg is a preview's counters: about once a second and at its end.
	statsMsg struct {
		Type string `json:"type"` // "stats"
		server.PreviewStats
	}
	errorMsg struct {
		Type    string       `json:"type"` // "error"
		Message string       `json:"message"`
		Errors  []Diagnostic `json:"errors,omitempty"`
		More    int          `json:"more,omitempty"` // errors not listed
	}
)

// previewRequest is what a client asks to preview: query parameters, or
// a first JSON message when the query has neither sql nor pipeline.
type previewRequest struct {
	SQL      string `json:"sql"`
	Pipeline string `json:"pipeline"`
	Limit    int64  `json:"limit"`
}

func (h *handler) upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 16384,
		CheckOrigin:     h.checkOrigin,
		// A client that asks for sluice.v1 gets it; the bearer subprotocol
		// (login.go) is never echoed.
		Subprotocols: []string{wsProtocol},
	}
}

// checkOrigin admits browsers from the server's own host and from the
// configured origins; a cross-site page must not drive the API with the
// visitor's network position.
func (h *handler) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range h.cfg.Origins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// socket is one websocket connection: one goroutine reads (to see the
// client go away and to answer pings), one writes from a bounded queue.
type socket struct {
	conn    *websocket.Conn
	out     chan []byte
	cancel  context.CancelFunc
	done    chan struct{} // the writer ended
	dropped atomic.Bool
	first   chan []byte // the client's first message, for a preview request
}

func (h *handler) open(w http.ResponseWriter, r *http.Request, cancel context.CancelFunc) (*socket, bool) {
	conn, err := h.upgrader().Upgrade(w, r, nil)
	if err != nil {
		return nil, false // Upgrade has replied.
	}
	s := &socket{conn: conn, out: make(chan []byte, sendQueue), cancel: cancel, done: make(chan struct{}), first: make(chan []byte, 1)}
	go s.reader()
	go s.writer()
	return s, true
}

func (s *socket) reader() {
	defer s.cancel()
	s.conn.SetReadLimit(maxClientMessage)
	s.conn.SetReadDeadline(time.Now().Add(pongWait))
	s.conn.SetPongHandler(func(string) error { return s.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	first := true
	for {
		_, msg, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		if first {
			s.first <- msg
			first = false
		}
	}
}

func (s *socket) writer() {
	defer close(s.done)
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case msg, ok := <-s.out:
			s.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				s.conn.Close()
				return
			}
			if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				s.cancel()
				s.conn.Close()
				// Drain so senders never block on a dead socket.
				for range s.out {
				}
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				s.cancel()
			}
		}
	}
}

// send queues v without waiting; a client whose queue is full is dropped.
func (s *socket) send(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	select {
	case s.out <- b:
		return true
	default:
		s.dropped.Store(true)
		s.cancel()
		// Closing the connection fails the writer's pending write at once,
		// instead of feeding a slow client the rest of its queue.
		s.conn.Close()
		return false
	}
}

// finish sends the last message, waiting briefly since nothing else is
// being produced, then closes the socket.
func (s *socket) finish(v any) {
	if b, err := json.Marshal(v); v != nil && err == nil && !s.dropped.Load() {
		select {
		case s.out <- b:
		case <-time.After(writeWait):
		}
	}
	close(s.out)
	<-s.done
}

func (h *handler) preview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	q := r.URL.Query()
	req := previewRequest{SQL: q.Get("sql"), Pipeline: q.Get("pipeline")}
	if v := q.Get("limit"); v != "" {
		req.Limit, _ = strconv.ParseInt(v, 10, 64)
	}
	s, ok := h.open(w, r, cancel)
	if !ok {
		return
	}
	if req.SQL == "" && req.Pipeline == "" {
		select {
		case msg := <-s.first:
			if err := json.Unmarshal(msg, &req); err != nil {
				s.finish(errorMsg{Type: "error", Message: "the first message must be JSON: {\"sql\": \"SELECT …\"} or {\"pipeline\": \"name\"}"})
				return
			}
		case <-ctx.Done():
			s.finish(errorMsg{Type: "error", Message: "no preview request received"})
			return
		case <-time.After(writeWait):
			s.finish(errorMsg{Type: "error", Message: "no preview request received within 10s"})
			return
		}
	}
	done, err := h.planTurn(ctx)
	if err != nil {
		s.finish(errorMsg{Type: "error", Message: err.Error()})
		return
	}
	planCtx, release := server.PlanLimit(ctx, h.cfg.PlanTimeout)
	plan, errs, err := h.srv.PlanPreview(planCtx, req.SQL, req.Pipeline)
	release()
	done()
	if err != nil {
		s.finish(errorMsg{Type: "error", Message: err.Error()})
		return
	}
	if len(errs) > 0 {
		shown, more := firstErrors(errs)
		s.finish(errorMsg{Type: "error", Message: errs.Error(), Errors: diagnostics(shown, req.SQL), More: more})
		return
	}
	limit := h.cfg.PreviewMaxRows
	if req.Limit > 0 && req.Limit < limit {
		limit = req.Limit
	}
	if !s.send(schemaMsg{Type: "schema", Columns: plan.Columns}) {
		s.finish(nil)
		return
	}
	start := time.Now()
	runCtx, stop := context.WithTimeout(ctx, h.cfg.PreviewTimeout)
	defer stop()
	var total int64
	err = h.srv.RunPreviewStats(runCtx, plan, limit, func(rows []byte, n int) error {
		total += int64(n)
		if !s.send(rowsMsg{Type: "rows", Rows: json.RawMessage(rows), Count: n, Total: total, ElapsedMS: time.Since(start).Milliseconds()}) {
			return errors.New("the client is too slow; dropped")
		}
		return nil
	}, h.cfg.PreviewStatsEvery, func(st server.PreviewStats) {
		s.send(statsMsg{Type: "stats", PreviewStats: st})
	})
	end := endMsg{Type: "end", Total: total, ElapsedMS: time.Since(start).Milliseconds()}
	switch {
	case s.dropped.Load() || ctx.Err() != nil:
		// The client is gone or dropped: nobody to tell.
		s.finish(nil)
		return
	case err != nil:
		s.finish(errorMsg{Type: "error", Message: err.Error()})
		return
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		end.Reason = "timeout"
	case total >= limit || hitLimit(plan, total):
		end.Reason = "limit"
	default:
		end.Reason = "done"
	}
	s.finish(end)
}

func (h *handler) tail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	obj, err := h.srv.Object("PIPELINE", name)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		return
	}
	t, err := h.srv.Tail(name)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
		return
	}
	defer t.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s, ok := h.open(w, r, cancel)
	if !ok {
		return
	}
	var cols []server.Column
	if o, _, err := h.srv.PlanPreview(ctx, "", obj.Name); err == nil && o != nil {
		cols = o.Columns
	}
	s.send(schemaMsg{Type: "schema", Columns: cols})
	start := time.Now()
	var total int64
	for {
		select {
		case <-ctx.Done():
			s.finish(nil)
			return
		case b, ok := <-t.C:
			if !ok {
				if t.Dropped() {
					s.finish(errorMsg{Type: "error", Message: "the client is too slow; dropped"})
				} else {
					s.finish(endMsg{Type: "end", Reason: "stopped", Total: total, ElapsedMS: time.Since(start).Milliseconds()})
				}
				return
			}
			total += int64(b.Count)
			if !s.send(rowsMsg{Type: "rows", Rows: json.RawMessage(b.Rows), Count: b.Count, Total: total, ElapsedMS: time.Since(start).Milliseconds()}) {
				s.finish(nil)
				return
			}
		}
	}
}

// hitLimit reports whether the SELECT's own LIMIT ended the preview.
func hitLimit(p *server.PreviewPlan, total int64) bool {
	last := p.Graph.Nodes[len(p.Graph.Nodes)-1]
	return last.Kind == dag.KindLimit && total >= last.Limit
}
