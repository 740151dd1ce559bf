package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

// PreviewPlan is a planned preview: the graph to run and the columns of
// its rows.
type PreviewPlan struct {
	Graph   *dag.Graph
	Columns []Column
}

// PlanPreview plans a preview of either a SELECT (src) or, when pipeline
// is set, the SELECT of that pipeline without its sink. SQL errors come
// back as errs, with positions in src. Planning stops once ctx has ended,
// with an error that gives ctx's cause (see PlanLimit).
func (s *Server) PlanPreview(ctx context.Context, src, pipeline string) (*PreviewPlan, sql.ErrorList, error) {
	var g *dag.Graph
	if pipeline != "" {
		obj, ok := s.cat.Lookup(pipeline)
		if !ok || obj.Pipeline == nil {
			return nil, nil, fmt.Errorf("preview %s: %w", pipeline, ErrUnknownPipeline)
		}
		pg := obj.Pipeline.Graph
		cp := *pg
		// The node before the sink is the pipeline's output.
		cp.Nodes = pg.Nodes[:len(pg.Nodes)-1]
		g = &cp
	} else {
		var errs sql.ErrorList
		g, errs = planner.PlanPreviewSQLContext(ctx, src, s.cat)
		if len(errs) > 0 {
			return nil, errs, nil
		}
	}
	p := &PreviewPlan{Graph: g}
	for _, c := range g.Nodes[len(g.Nodes)-1].Schema {
		p.Columns = append(p.Columns, ColumnOf(c))
	}
	return p, nil, nil
}

// previewSeq names previews apart in logs and consumer groups.
var previewSeq atomic.Uint64

// errPreviewFull ends a preview at its row limit.
var errPreviewFull = errors.New("preview row limit reached")

// RunPreview runs a planned preview until its LIMIT, maxRows rows (0: no
// limit), fn returning an error, or ctx ending. fn receives each batch as
// a JSON array of row objects and the number of rows in it. The preview
// reads with its own consumer group and commits nothing, so it never
// moves or slows a pipeline's reading.
func (s *Server) RunPreview(ctx context.Context, p *PreviewPlan, maxRows int64, fn func(rows []byte, n int) error) error {
	return s.RunPreviewStats(ctx, p, maxRows, fn, 0, nil)
}

// PreviewStats is what a preview has done so far, so that a user sees why
// rows are missing from it: how many were read, dropped as duplicates,
// matched or still waiting in a join, dropped as late or dead-lettered.
type PreviewStats struct {
	ElapsedMS    int64 `json:"elapsed_ms"`
	Read         int64 `json:"read"`          // records read from the sources
	DedupDropped int64 `json:"dedup_dropped"` // rows dropped by DEDUPLICATE BY
	JoinMatches  int64 `json:"join_matches"`  // pairs a JOIN emitted
	JoinWaiting  int64 `json:"join_waiting"`  // rows a JOIN holds that may still meet a partner
	LateDropped  int64 `json:"late_dropped"`  // rows a window dropped because their window was emitted
	DeadLetters  int64 `json:"dead_letters"`  // records that could not be decoded or typed
	// LastDeadLetter is why the last dead letter was rejected; "" when
	// there was none.
	LastDeadLetter string            `json:"last_dead_letter"`
	Emitted        int64             `json:"emitted"` // rows sent to the client
	Operators      []PreviewOperator `json:"operators"`
}

// PreviewOperator is one operator's counters in a preview.
type PreviewOperator struct {
	ID          int    `json:"id"`
	Kind        string `json:"kind"`
	Name        string `json:"name,omitempty"` // a source's name
	RowsIn      int64  `json:"rows_in"`
	RowsOut     int64  `json:"rows_out"`
	DedupDrops  int64  `json:"dedup_drops,omitempty"`
	JoinMatches int64  `json:"join_matches,omitempty"`
	JoinWaiting int64  `json:"join_waiting,omitempty"`
	LateRows    int64  `json:"late_rows,omitempty"`
}

func previewStats(st runtime.Stats, g *dag.Graph, emitted int64, elapsed time.Duration) PreviewStats {
	p := PreviewStats{
		ElapsedMS: elapsed.Milliseconds(), Read: st.RecordsIn, DeadLetters: st.DeadLettered,
		LastDeadLetter: st.LastDeadLetter, Emitted: emitted, Operators: []PreviewOperator{},
	}
	for _, o := range st.Operators {
		p.DedupDropped += o.DedupDrops
		p.JoinMatches += o.JoinMatches
		p.JoinWaiting += o.JoinWaiting
		p.LateDropped += o.LateRows
		op := PreviewOperator{ID: o.ID, Kind: string(o.Kind), RowsIn: o.RowsIn, RowsOut: o.RowsOut,
			DedupDrops: o.DedupDrops, JoinMatches: o.JoinMatches, JoinWaiting: o.JoinWaiting, LateRows: o.LateRows}
		if o.ID >= 0 && o.ID < len(g.Nodes) && g.Nodes[o.ID].Source != nil {
			op.Name = g.Nodes[o.ID].Source.Name
		}
		p.Operators = append(p.Operators, op)
	}
	return p
}

// RunPreviewStats is RunPreview that also calls stats with the preview's
// counters every interval while it runs (from another goroutine), and
// once when it has ended.
func (s *Server) RunPreviewStats(ctx context.Context, p *PreviewPlan, maxRows int64, fn func(rows []byte, n int) error, every time.Duration, stats func(PreviewStats)) error {
	if s.cfg.NewRowEncoder == nil {
		return errors.New("preview: the server has no row encoder")
	}
	enc := s.cfg.NewRowEncoder(p.Graph.Nodes[len(p.Graph.Nodes)-1].Schema)
	g := *p.Graph
	g.Name = fmt.Sprintf("preview-%d", previewSeq.Add(1))
	opts := s.options(unit{pipeline: g.Name, name: g.Name})
	opts.GroupID = s.cfg.GroupID + "-preview"
	var sent int64
	var emitted atomic.Int64
	var buf []byte
	counters := &runtime.PreviewCounters{}
	start := time.Now()
	snapshot := func() PreviewStats { return previewStats(counters.Stats(), &g, emitted.Load(), time.Since(start)) }
	var ticking sync.WaitGroup
	done := make(chan struct{})
	if stats != nil && every > 0 {
		ticking.Add(1)
		go func() {
			defer ticking.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					stats(snapshot())
				case <-done:
					return
				}
			}
		}()
	}
	err := runtime.PreviewCounted(ctx, &g, opts, counters, func(b *runtime.Batch) error {
		n := b.Len
		if maxRows > 0 && sent+int64(n) > maxRows {
			n = int(maxRows - sent)
		}
		buf = append(buf[:0], '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = enc(buf, b, i)
		}
		buf = append(buf, ']')
		sent += int64(n)
		emitted.Store(sent)
		if n > 0 {
			if err := fn(buf, n); err != nil {
				return err
			}
		}
		if maxRows > 0 && sent >= maxRows {
			return errPreviewFull
		}
		return nil
	})
	close(done)
	ticking.Wait()
	if stats != nil {
		stats(snapshot())
	}
	if errors.Is(err, errPreviewFull) {
		return nil
	}
	return err
}
