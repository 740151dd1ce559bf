package dag

import "time"

// NodeKind says what an operator node does.
type NodeKind string

// The node kinds.
const (
	// KindSource reads and decodes one source. No inputs. Its Schema is the
	// source columns the pipeline uses (pruned), each with its JSON Path, and
	// the pseudo-columns it uses.
	KindSource NodeKind = "source"
	// KindDedup keeps the first row of each key per window (Dedup).
	KindDedup NodeKind = "dedup"
	// KindFilter keeps the rows for which Predicate is true.
	KindFilter NodeKind = "filter"
	// KindProject computes Exprs; Schema names the results.
	KindProject NodeKind = "project"
	// KindJoin is an interval join of Inputs[0] (left) and Inputs[1]
	// (right). Its Schema is the left schema followed by the right one.
	KindJoin NodeKind = "join"
	// KindWindow groups rows into TUMBLE or HOP windows and aggregates.
	// Its Schema is the group keys, window_start, window_end, then the
	// aggregates in order.
	KindWindow NodeKind = "window"
	// KindLimit stops after Limit rows (previews only).
	KindLimit NodeKind = "limit"
	// KindSink writes its one input to a sink.
	KindSink NodeKind = "sink"
)

// Graph is one pipeline or preview: nodes in topological order (every
// input of a node precedes it). The last node is the sink of a pipeline, or
// the node whose rows a preview shows.
type Graph struct {
	Name  string // the pipeline's name; empty for a preview
	Nodes []*Node
	// Parallelism is the number of tasks the graph runs as (0 or 1: one).
	// Task i of N reads, of every source, the Kafka partitions p with
	// p % N == i, and keeps the keyed state of those partitions only.
	Parallelism int `json:",omitempty"`
	// Stages are the repartition stages that feed this graph: each runs
	// as Parallelism tasks of its own and writes an internal Kafka topic
	// that a source of this graph reads.
	Stages []*Stage `json:",omitempty"`
}

// Stage is a repartition stage: it reads a source, keys its rows by what a
// keyed operator of the main graph groups by, and writes them to an
// internal Kafka topic with that key, so that equal keys land in one
// partition and so in one task of the main graph.
type Stage struct {
	// Graph reads the original source, runs the stateless nodes up to the
	// cut, adds the key column(s) and ends in a Kafka sink (delivery
	// exactly_once, key = the key column(s), partitions = Parallelism) into
	// Topic. Graph.Name is "<pipeline>.<source name>.repartition" in lower
	// case; its Parallelism is the main graph's.
	Graph *Graph
	// Topic is the internal topic, "<group_id>.<pipeline>.<source>.repartition"
	// (group_id is the source's group_id option, else "sluice").
	Topic string
	// Source names the SOURCE object the stage reads.
	Source string
	// Keys are the key expressions as written, for EXPLAIN.
	Keys []string
}

// Tasks is the number of tasks the graph runs as: Parallelism, at least 1.
func (g *Graph) Tasks() int {
	if g.Parallelism < 1 {
		return 1
	}
	return g.Parallelism
}

// Node is one operator.
type Node struct {
	ID     int
	Kind   NodeKind
	Inputs []int  // IDs of input nodes; the port is the position in this slice
	Schema Schema // output schema
	// TimeCol is the index in Schema of the row time attribute (the source's
	// WATERMARK column or _timestamp), or -1 when rows carry none (after a
	// windowed aggregate the window_end column is the time).
	TimeCol int
	// StateTTL is how long past the watermark a row's state is kept: the
	// dedup or join interval, the window size. Zero for stateless nodes.
	StateTTL time.Duration `json:",omitempty"`

	Source    *SourceSpec `json:",omitempty"`
	Sink      *SinkSpec   `json:",omitempty"`
	Predicate *Expr       `json:",omitempty"` // KindFilter
	Exprs     []*Expr     `json:",omitempty"` // KindProject
	Dedup     *DedupSpec  `json:",omitempty"`
	Join      *JoinSpec   `json:",omitempty"`
	Window    *WindowSpec `json:",omitempty"`
	Limit     int64       `json:",omitempty"` // KindLimit
}

// SourceSpec is what the runtime needs to open and decode a source.
type SourceSpec struct {
	Name      string            // the SOURCE object's name
	Connector string            // kafka, datagen
	Options   map[string]string // the WITH options, env: references unresolved
	// Declared is every declared column in order (with NOT NULL as
	// Nullable=false), including those the pipeline does not use, because a
	// record missing a NOT NULL column is dead-lettered whatever is used.
	Declared Schema
	// Watermark is the declared time column, "" for _timestamp.
	Watermark      string
	WatermarkDelay time.Duration
	IdleTimeout    time.Duration // from the idle_timeout option, default 5 s
	// ColumnOptions are the per-column options of a connector that
	// declares a PerColumnPrefix (datagen's fields.<column>.<setting>),
	// by declared column name, each a map of setting to value. (Its JSON
	// name is the one checkpoints' node fingerprints were made with.)
	ColumnOptions map[string]map[string]string `json:"Generators,omitempty"`
}

// SinkSpec is what the runtime needs to open a sink.
type SinkSpec struct {
	Name      string // the SINK object's name
	Connector string // clickhouse, postgres, kafka, file
	Options   map[string]string
	// Declared is the sink's declared columns, empty when it declared none
	// (the pipeline's output schema then defines the table).
	Declared Schema `json:",omitempty"`
}

// DedupSpec configures KindDedup.
type DedupSpec struct {
	Keys   []*Expr       // over the input schema
	Within time.Duration // the window d
}

// JoinType is INNER or LEFT.
type JoinType string

// The join types.
const (
	Inner JoinType = "INNER"
	Left  JoinType = "LEFT"
)

// JoinSpec configures KindJoin.
type JoinSpec struct {
	Type      JoinType
	LeftKeys  []*Expr // over the left input schema
	RightKeys []*Expr // over the right input schema, pairwise equal to LeftKeys
	// Residual is the rest of the ON condition, over the join's output
	// schema (left columns then right); nil when ON is only equalities.
	Residual  *Expr         `json:",omitempty"`
	Within    time.Duration // |left time − right time| ≤ Within
	LeftTime  int           // time attribute index in the left schema
	RightTime int           // time attribute index in the right schema
}

// WindowKind is TUMBLE or HOP.
type WindowKind string

// The window kinds.
const (
	Tumble WindowKind = "TUMBLE"
	Hop    WindowKind = "HOP"
)

// AggFunc is an aggregate function.
type AggFunc string

// The aggregate functions.
const (
	AggCount         AggFunc = "COUNT" // Arg nil for COUNT(*)
	AggCountDistinct AggFunc = "COUNT_DISTINCT"
	AggSum           AggFunc = "SUM"
	AggAvg           AggFunc = "AVG"
	AggMin           AggFunc = "MIN"
	AggMax           AggFunc = "MAX"
)

// Agg is one aggregate of a window.
type Agg struct {
	Func AggFunc
	Arg  *Expr `json:",omitempty"` // over the input schema
	Type Type  // result type
	Text string
}

// WindowSpec configures KindWindow.
type WindowSpec struct {
	Kind    WindowKind
	TimeCol int           // time attribute index in the input schema
	Size    time.Duration // window length
	Slide   time.Duration // HOP slide; equals Size for TUMBLE
	Keys    []*Expr       // GROUP BY expressions other than the window
	Aggs    []Agg
	// Having filters the emitted groups; it is over this node's output
	// schema. nil when there is no HAVING.
	Having *Expr `json:",omitempty"`
}
