package server

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// A tail shows the rows a running pipeline writes. The server puts a tap
// in front of each pipeline's sink: a sink connector that opens the real
// one, forwards every write, and, after a write succeeded, offers the rows
// to the tail subscribers. Offering never blocks: a subscriber whose
// buffer is full is dropped, so a slow tail never slows the pipeline.

const (
	tapConnector = "sluice.tap"
	// Options the tap adds to a sink's WITH options; the real sink never
	// sees them.
	tapOptConnector = "sluice.tap.connector"
	tapOptID        = "sluice.tap.id"
	// tailBuffer is the messages a subscriber may fall behind by.
	tailBuffer = 64
)

var (
	registerTap sync.Once
	tapSeq      atomic.Uint64
	taps        sync.Map // tap id → *tapPoint
)

// tapHub holds the tail subscribers of one server's pipelines.
type tapHub struct {
	s    *Server
	mu   sync.Mutex
	subs map[string]map[*Tail]struct{} // by lower-case pipeline name
}

func newTapHub(s *Server) *tapHub {
	registerTap.Do(func() { runtime.RegisterSinkWrapper(tapConnector, openTap, tappedSpec) })
	return &tapHub{s: s, subs: map[string]map[*Tail]struct{}{}}
}

// tapPoint is what one pipeline run's tap publishes to.
type tapPoint struct {
	hub      *tapHub
	pipeline string
}

// wrap returns g with its sink replaced by a tap of it, and release, to
// call when the run has ended. g itself is not changed: it is shared with
// the catalog.
func (h *tapHub) wrap(g *dag.Graph, pipeline string) (*dag.Graph, func()) {
	cp := *g
	cp.Nodes = append([]*dag.Node(nil), g.Nodes...)
	last := *cp.Nodes[len(cp.Nodes)-1]
	spec := *last.Sink
	spec.Options = maps.Clone(spec.Options)
	if spec.Options == nil {
		spec.Options = map[string]string{}
	}
	id := fmt.Sprintf("%d", tapSeq.Add(1))
	taps.Store(id, &tapPoint{hub: h, pipeline: strings.ToLower(pipeline)})
	spec.Options[tapOptConnector] = spec.Connector
	spec.Options[tapOptID] = id
	spec.Connector = tapConnector
	last.Sink = &spec
	cp.Nodes[len(cp.Nodes)-1] = &last
	return &cp, func() { taps.Delete(id) }
}

type tapSink struct {
	inner  runtime.Sink
	point  *tapPoint
	schema dag.Schema
	enc    RowEncoder
}

var (
	_ runtime.Sink              = (*tapSink)(nil)
	_ runtime.TokenDeduplicator = (*tapSink)(nil)
	_ runtime.Flusher           = (*tapSink)(nil)
	_ runtime.Committer         = tapCommitSink{}
)

// tappedSpec returns the spec of the sink a tap wraps: the runtime reads
// its declaration (delivery style, batching defaults).
func tappedSpec(tap *dag.SinkSpec) *dag.SinkSpec {
	spec := *tap
	spec.Options = maps.Clone(spec.Options)
	spec.Connector = spec.Options[tapOptConnector]
	delete(spec.Options, tapOptConnector)
	delete(spec.Options, tapOptID)
	return &spec
}

func openTap(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	id := cfg.Spec.Options[tapOptID]
	inner, err := runtime.OpenSink(ctx, func() runtime.SinkConfig { c := cfg; c.Spec = tappedSpec(cfg.Spec); return c }())
	if err != nil {
		return nil, err
	}
	t := &tapSink{inner: inner, schema: cfg.Schema}
	if p, ok := taps.Load(id); ok {
		t.point = p.(*tapPoint)
		if f := t.point.hub.s.cfg.NewRowEncoder; f != nil {
			t.enc = f(cfg.Schema)
		}
	}
	if _, ok := inner.(runtime.Committer); ok {
		return tapCommitSink{t}, nil
	}
	return t, nil
}

func (t *tapSink) Write(ctx context.Context, b *runtime.Batch, token string) error {
	if err := t.inner.Write(ctx, b, token); err != nil {
		return err
	}
	if t.point != nil && t.enc != nil {
		t.point.hub.publish(t.point.pipeline, b, t.enc)
	}
	return nil
}

func (t *tapSink) DeduplicatesTokens() bool {
	d, ok := t.inner.(runtime.TokenDeduplicator)
	return ok && d.DeduplicatesTokens()
}

// Flush flushes the tapped sink, if it is a runtime.Flusher.
func (t *tapSink) Flush(ctx context.Context) error {
	if f, ok := t.inner.(runtime.Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// tapCommitSink taps a sink that is a runtime.Committer.
type tapCommitSink struct{ *tapSink }

// Commit commits the tapped sink's epoch.
func (t tapCommitSink) Commit(ctx context.Context, epoch uint64) error {
	return t.inner.(runtime.Committer).Commit(ctx, epoch)
}

func (t *tapSink) Close() error { return t.inner.Close() }

// TailBatch is the rows of one sink write, as a JSON array of objects.
type TailBatch struct {
	Rows  []byte
	Count int
}

// Tail is one subscriber to a pipeline's output. C delivers the rows and
// is closed when the tail ends: the subscriber fell behind (Dropped), the
// pipeline was dropped, or Close was called.
type Tail struct {
	C       <-chan TailBatch
	c       chan TailBatch
	hub     *tapHub
	key     string
	once    sync.Once
	dropped atomic.Bool
}

// Dropped reports whether the tail ended because its reader fell behind.
func (t *Tail) Dropped() bool { return t.dropped.Load() }

// Close ends the tail.
func (t *Tail) Close() { t.hub.remove(t) }

// Tail subscribes to the rows the pipeline writes from now on.
func (s *Server) Tail(name string) (*Tail, error) {
	obj, ok := s.cat.Lookup(name)
	if !ok || obj.Pipeline == nil {
		return nil, fmt.Errorf("tail %s: %w", name, ErrUnknownPipeline)
	}
	if s.cfg.NewRowEncoder == nil {
		return nil, fmt.Errorf("tail %s: the server has no row encoder", name)
	}
	c := make(chan TailBatch, tailBuffer)
	t := &Tail{C: c, c: c, hub: s.taps, key: strings.ToLower(obj.Name)}
	s.taps.mu.Lock()
	if s.taps.subs[t.key] == nil {
		s.taps.subs[t.key] = map[*Tail]struct{}{}
	}
	s.taps.subs[t.key][t] = struct{}{}
	s.taps.mu.Unlock()
	return t, nil
}

func (h *tapHub) remove(t *Tail) {
	h.mu.Lock()
	delete(h.subs[t.key], t)
	h.mu.Unlock()
	t.once.Do(func() { close(t.c) })
}

func (h *tapHub) closePipeline(name string) {
	h.mu.Lock()
	subs := h.subs[strings.ToLower(name)]
	delete(h.subs, strings.ToLower(name))
	h.mu.Unlock()
	for t := range subs {
		t.once.Do(func() { close(t.c) })
	}
}

func (h *tapHub) publish(pipeline string, b *runtime.Batch, enc RowEncoder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.subs[pipeline]
	if len(subs) == 0 {
		return
	}
	msg := []byte{'['}
	for i := 0; i < b.Len; i++ {
		if i > 0 {
			msg = append(msg, ',')
		}
		msg = enc(msg, b, i)
	}
	msg = append(msg, ']')
	for t := range subs {
		select {
		case t.c <- TailBatch{Rows: msg, Count: b.Len}:
		default:
			t.dropped.Store(true)
			delete(subs, t)
			t.once.Do(func() { close(t.c) })
		}
	}
}
