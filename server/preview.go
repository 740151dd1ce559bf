package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

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
// back as errs, with positions in src.
func (s *Server) PlanPreview(src, pipeline string) (*PreviewPlan, sql.ErrorList, error) {
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
		g, errs = planner.PlanPreviewSQL(src, s.cat)
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
	if s.cfg.NewRowEncoder == nil {
		return errors.New("preview: the server has no row encoder")
	}
	enc := s.cfg.NewRowEncoder(p.Graph.Nodes[len(p.Graph.Nodes)-1].Schema)
	g := *p.Graph
	g.Name = fmt.Sprintf("preview-%d", previewSeq.Add(1))
	opts := s.options(g.Name)
	opts.GroupID = s.cfg.GroupID + "-preview"
	var sent int64
	var buf []byte
	err := runtime.Preview(ctx, &g, opts, func(b *runtime.Batch) error {
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
	if errors.Is(err, errPreviewFull) {
		return nil
	}
	return err
}
