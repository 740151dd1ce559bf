// Package runtime executes a dag.Graph: operators over columnar batches,
// watermarks, keyed state, checkpoints and delivery. It knows nothing of SQL.
//
// Entry points: NewPipeline and Pipeline.Run run a graph that ends in a
// sink, with checkpoints kept by a CheckpointStore (FileCheckpointStore in
// a state directory); Pipeline.Stats reads its counters at any time;
// Preview runs a graph that does not end in a sink and hands its rows to a
// callback. Connectors implement Source and Sink and register with
// RegisterSource and RegisterSink; the optional LagReporter and
// TokenDeduplicator interfaces tell the runtime more. docs/delivery.md
// explains how rows get from sources to sinks without loss.
package runtime

import (
	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Vector is one column of a batch (column.Vector).
type Vector = column.Vector

// Batch is a set of rows stored by column (column.Batch).
type Batch = column.Batch

// NewVector returns an empty vector of type t.
func NewVector(t dag.Type) Vector { return column.NewVector(t) }

// NewBatch returns an empty batch with one vector per column of s.
func NewBatch(s dag.Schema) *Batch { return column.NewBatch(s) }

// emptyLike returns an empty batch with the types of b.
func emptyLike(vecs []Vector) *Batch {
	out := &Batch{Vecs: make([]Vector, len(vecs))}
	for i := range vecs {
		out.Vecs[i] = NewVector(vecs[i].Type)
	}
	return out
}
