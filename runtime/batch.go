// Package runtime executes a dag.Graph: operators over columnar batches,
// watermarks, keyed state, checkpoints and delivery. It knows nothing of SQL.
package runtime

import "github.com/sluice-sql/sluice/planner/dag"

// Vector is one column of a batch. Which slice holds the values follows
// Type.Kind.Storage(); the others are empty. Reset keeps capacity, so a
// vector reused across batches stops allocating once it has grown.
type Vector struct {
	Type dag.Type
	// Nulls[i] is true where row i is NULL. nil means no row is NULL.
	Nulls []bool
	I64   []int64   // signed integers, Bool (0/1), Date (days), DateTime/DateTime64 (ns), Decimal (unscaled)
	U64   []uint64  // unsigned integers
	F64   []float64 // floats
	// Strings: row i is Data[Offs[i]:Offs[i+1]]; len(Offs) is rows+1.
	Data []byte
	Offs []uint32
}

// Batch is a set of rows stored by column. All vectors have Len rows.
type Batch struct {
	Vecs []Vector
	Len  int
}
