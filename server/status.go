package server

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

// ErrUnknownPipeline and ErrUnknownObject name what a request asked for
// that is not in the catalog.
var (
	ErrUnknownPipeline = errors.New("no such pipeline")
	ErrUnknownObject   = errors.New("no such object")
)

// Object is what the API shows of a catalog object. Options are masked:
// secrets (passwords, env: references resolved at run time) never leave
// the server in clear.
type Object struct {
	Kind      string            `json:"kind"`
	Name      string            `json:"name"`
	SQL       string            `json:"sql"`
	Canonical string            `json:"canonical"`
	Connector string            `json:"connector,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
	Columns   []Column          `json:"columns,omitempty"`
	UsedBy    []string          `json:"used_by,omitempty"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`

	// Pipelines only.
	Sources []string   `json:"sources,omitempty"`
	Sink    string     `json:"sink,omitempty"`
	Running *bool      `json:"running,omitempty"` // what the catalog wants
	State   string     `json:"state,omitempty"`   // running, stopped, failed
	Error   string     `json:"error,omitempty"`
	Since   *time.Time `json:"since,omitempty"` // when the current run started
	// A failed pipeline that will be started again: its failures in a row
	// and when.
	Attempts  int              `json:"attempts,omitempty"`
	NextRetry *time.Time       `json:"next_retry,omitempty"`
	Explain   string           `json:"explain,omitempty"`
	Metrics   *PipelineMetrics `json:"metrics,omitempty"`
	// Warnings are what the running pipeline wants known, such as a sink
	// that cannot drop a batch replayed after a crash.
	Warnings []string `json:"warnings,omitempty"`
	// Where the pipeline runs, with servers sharing a PostgreSQL catalog:
	// the node id holding its lease, the lease's fencing epoch and when it
	// runs out unless renewed. LeaseLive is false for a lease given up or
	// run out (no server runs the pipeline, or one is about to take it).
	// For a pipeline split into tasks, each task has its lease (Tasks):
	// Owner is their owner when it is the same for all, else "" and
	// Owners lists the distinct ones; LeaseLive is true when every task's
	// lease is live, LeaseEpoch the highest epoch and LeaseExpires the
	// first to run out.
	Owner        string     `json:"owner,omitempty"`
	Owners       []string   `json:"owners,omitempty"`
	LeaseEpoch   int64      `json:"lease_epoch,omitempty"`
	LeaseExpires *time.Time `json:"lease_expires,omitempty"`
	LeaseLive    *bool      `json:"lease_live,omitempty"`
	// Tasks are the pipeline's tasks: one for a pipeline of parallelism 1
	// without repartition stages, else the tasks of each stage, then those
	// of the pipeline's own graph.
	Tasks []TaskView `json:"tasks,omitempty"`
	// History is a pipeline's throughput over the last 15 minutes.
	History *History `json:"history,omitempty"`
}

// TaskView is one task of a pipeline: its name (runtime.TaskName, the
// name of its checkpoints and lease), index, the repartition stage it runs
// ("" for the pipeline's own graph), who holds its lease and whether it
// runs on the server answering.
type TaskView struct {
	Task        string `json:"task"`
	Index       int    `json:"index"`
	Stage       string `json:"stage"`
	Owner       string `json:"owner"`
	LeaseEpoch  int64  `json:"lease_epoch"`
	LeaseLive   bool   `json:"lease_live"`
	RunningHere bool   `json:"running_here"`
}

// Column is one column: declared, of a preview's rows, or a source's
// pseudo-column (_key, _timestamp, …), which a query may select but the
// source does not declare.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
	Pseudo   bool   `json:"pseudo,omitempty"`
}

// ColumnOf describes a column of a schema.
func ColumnOf(c dag.Column) Column {
	return Column{Name: c.Name, Type: c.Type.String(), Nullable: c.Type.Nullable}
}

// PipelineMetrics are a running pipeline's counters since it started.
type PipelineMetrics struct {
	RecordsIn          int64             `json:"records_in"`
	RowsWritten        int64             `json:"rows_written"`
	DeadLettered       int64             `json:"dead_lettered"`
	FutureRecords      int64             `json:"future_records"`
	DedupDropped       int64             `json:"dedup_dropped"`
	JoinMatches        int64             `json:"join_matches"`
	JoinExpired        int64             `json:"join_expired"`
	JoinWaiting        int64             `json:"join_waiting"` // join rows that may still meet a partner
	LateRows           int64             `json:"late_rows"`
	LastDeadLetter     string            `json:"last_dead_letter,omitempty"` // why the last dead letter was rejected
	Lag                int64             `json:"lag"`                        // -1: unknown
	Checkpoints        int64             `json:"checkpoints"`
	PossibleDuplicates int64             `json:"possible_duplicates"`
	SinkLatencyMS      float64           `json:"sink_latency_ms"`
	Operators          []OperatorMetrics `json:"operators"`
	// LastCheckpoint is when the last checkpoint was stored, and
	// CheckpointAgeS how long ago (omitted before the first).
	LastCheckpoint *time.Time `json:"last_checkpoint,omitempty"`
	CheckpointAgeS *float64   `json:"checkpoint_age_s,omitempty"`
	// SinkBatchRows is the rows of the last write.
	SinkBatchRows int64 `json:"sink_batch_rows"`
	// Sources are each source's progress: lag, watermark and how far it
	// trails the wall clock.
	Sources []SourceMetrics `json:"sources"`
	// OperatorQueue and SinkQueue are how full the queues in front of the
	// operators and of the sink are, from 0 to 1.
	OperatorQueue float64 `json:"operator_queue"`
	SinkQueue     float64 `json:"sink_queue"`
}

// SourceMetrics are one source's progress.
type SourceMetrics struct {
	Name string `json:"name"`
	Lag  int64  `json:"lag"` // -1: unknown
	// Watermark and WatermarkDelayMS are omitted before the first.
	Watermark        *time.Time `json:"watermark,omitempty"`
	WatermarkDelayMS *int64     `json:"watermark_delay_ms,omitempty"`
}

// OperatorMetrics are one operator's counters.
type OperatorMetrics struct {
	ID          int    `json:"id"`
	Kind        string `json:"kind"`
	RowsIn      int64  `json:"rows_in"`
	RowsOut     int64  `json:"rows_out"`
	DedupDrops  int64  `json:"dedup_drops,omitempty"`
	JoinMatches int64  `json:"join_matches,omitempty"`
	JoinExpired int64  `json:"join_expired,omitempty"`
	JoinWaiting int64  `json:"join_waiting,omitempty"`
	LateRows    int64  `json:"late_rows,omitempty"`
	State       int64  `json:"state_entries,omitempty"`
	StateBytes  int64  `json:"state_bytes,omitempty"` // estimated from the last full checkpoint
	BusyMS      int64  `json:"busy_ms"`               // time spent in the operator itself
}

func metricsOf(s runtime.Stats) *PipelineMetrics {
	m := &PipelineMetrics{
		RecordsIn: s.RecordsIn, RowsWritten: s.RowsWritten, DeadLettered: s.DeadLettered,
		FutureRecords: s.FutureRecords, LastDeadLetter: s.LastDeadLetter,
		Checkpoints: s.Checkpoints, PossibleDuplicates: s.PossibleDuplicates,
		SinkLatencyMS: float64(s.SinkLatency) / float64(time.Millisecond),
		Operators:     []OperatorMetrics{},
		SinkBatchRows: s.LastBatchRows,
		Sources:       []SourceMetrics{},
	}
	now := time.Now()
	if !s.LastCheckpoint.IsZero() {
		t := s.LastCheckpoint.UTC()
		age := math.Round(now.Sub(t).Seconds()*10) / 10
		m.LastCheckpoint, m.CheckpointAgeS = &t, &age
	}
	if s.OperatorQueueCap > 0 {
		m.OperatorQueue = float64(s.OperatorQueue) / float64(s.OperatorQueueCap)
	}
	if s.SinkQueueCap > 0 {
		m.SinkQueue = float64(s.SinkQueue) / float64(s.SinkQueueCap)
	}
	for _, src := range s.Sources {
		sm := SourceMetrics{Name: src.Name, Lag: src.Lag}
		if src.Watermark != math.MinInt64 {
			wm := time.Unix(0, src.Watermark).UTC()
			d := now.Sub(wm).Milliseconds()
			sm.Watermark, sm.WatermarkDelayMS = &wm, &d
		}
		m.Sources = append(m.Sources, sm)
	}
	for _, op := range s.Operators {
		if op.Kind == dag.KindSink {
			// The time spent writing, and the rows written.
			op.Busy, op.RowsOut = s.SinkTime, s.RowsWritten
		}
		m.DedupDropped += op.DedupDrops
		m.JoinMatches += op.JoinMatches
		m.JoinExpired += op.JoinExpired
		m.LateRows += op.LateRows
		m.JoinWaiting += op.JoinWaiting
		m.Operators = append(m.Operators, OperatorMetrics{
			ID: op.ID, Kind: string(op.Kind), RowsIn: op.RowsIn, RowsOut: op.RowsOut,
			DedupDrops: op.DedupDrops, JoinMatches: op.JoinMatches, JoinExpired: op.JoinExpired,
			JoinWaiting: op.JoinWaiting, LateRows: op.LateRows, State: op.StateEntries,
			StateBytes: op.StateBytes, BusyMS: op.Busy.Milliseconds(),
		})
	}
	for _, src := range s.Sources {
		if src.Lag < 0 {
			m.Lag = -1
			break
		}
		m.Lag += src.Lag
	}
	return m
}

// Objects lists the objects of one kind.
func (s *Server) Objects(kind sql.ObjectKind) []Object {
	out := []Object{}
	for _, o := range s.cat.List(kind) {
		out = append(out, s.object(o))
	}
	return out
}

// Object returns the object named name, of the given kind ("" for any).
func (s *Server) Object(kind sql.ObjectKind, name string) (Object, error) {
	o, ok := s.cat.Lookup(name)
	if !ok || (kind != "" && o.Kind != kind) {
		if kind == sql.ObjPipeline {
			return Object{}, fmt.Errorf("pipeline %q: %w", name, ErrUnknownPipeline)
		}
		return Object{}, fmt.Errorf("%q: %w", name, ErrUnknownObject)
	}
	obj := s.object(o)
	if o.Pipeline != nil {
		obj.Explain = planner.Explain(o.Pipeline.Graph)
	}
	return obj, nil
}

func (s *Server) object(o *planner.Object) Object {
	e, _ := s.cat.Entry(o.Name)
	obj := Object{
		Kind: strings.ToLower(string(o.Kind)), Name: o.Name, SQL: o.SQL, Canonical: o.Canonical,
		UsedBy: s.cat.UsedBy(o.Name), Created: e.Created, Updated: e.Updated,
	}
	if hasSecret(o) {
		obj.SQL = hiddenSQL
		obj.Canonical = hiddenSQL
	}
	switch {
	case o.Source != nil:
		obj.Connector, obj.Options = o.Source.Connector, MaskOptions(o.Source.Options)
		for _, c := range o.Source.Declared {
			obj.Columns = append(obj.Columns, ColumnOf(c))
		}
		for _, c := range planner.PseudoColumns(o.Source.Connector) {
			pc := ColumnOf(c)
			pc.Pseudo = true
			obj.Columns = append(obj.Columns, pc)
		}
	case o.Sink != nil:
		obj.Connector, obj.Options = o.Sink.Connector, MaskOptions(o.Sink.Options)
		for _, c := range o.Sink.Declared {
			obj.Columns = append(obj.Columns, ColumnOf(c))
		}
	case o.Pipeline != nil:
		p := o.Pipeline
		running := p.Running
		obj.Running = &running
		obj.Sources, obj.Sink, obj.Options = p.Sources, p.Sink, p.Options
		obj.State, obj.Error = string(e.State), e.Error
		if obj.State == "" {
			obj.State = string(catalog.Stopped)
		}
		if n, next, ok := s.retryOf(o.Name); ok && e.State == catalog.Failed {
			next = next.UTC()
			obj.Attempts, obj.NextRetry = n, &next
		}
		s.describeUnits(&obj, o)
		h := s.History(o.Name)
		obj.History = &h
		if runs := mainRuns(s.runsOf(o.Name)); len(runs) > 0 {
			since := runs[0].started
			for _, r := range runs {
				if r.started.Before(since) {
					since = r.started
				}
				if w := r.p.Stats().SinkWarning; w != "" && !slices.Contains(obj.Warnings, w) {
					obj.Warnings = append(obj.Warnings, w)
				}
			}
			since = since.UTC()
			obj.Since = &since
			obj.Metrics = metricsOf(mergedStats(runs))
		}
	}
	return obj
}

// describeUnits fills the tasks of a pipeline and where they run.
func (s *Server) describeUnits(obj *Object, o *planner.Object) {
	units := unitsOf(o)
	s.mu.Lock()
	here := map[string]bool{}
	for _, u := range units {
		if r := s.runs[u.key]; r != nil && r.def == o.Pipeline.Graph {
			here[u.key] = true
		}
	}
	s.mu.Unlock()
	var owners []string
	leased, live := 0, true
	var exp time.Time
	for _, u := range units {
		tv := TaskView{Task: u.name, Index: u.task.Index, Stage: u.stage, RunningHere: here[u.key]}
		l, ok := s.leaseOf(u.key)
		if ok {
			tv.Owner, tv.LeaseEpoch, tv.LeaseLive = l.Owner, l.Fence, l.Live
			if !slices.Contains(owners, l.Owner) {
				owners = append(owners, l.Owner)
			}
			leased++
			live = live && l.Live
			obj.LeaseEpoch = max(obj.LeaseEpoch, l.Fence)
			if exp.IsZero() || l.Expires.Before(exp) {
				exp = l.Expires
			}
		}
		obj.Tasks = append(obj.Tasks, tv)
	}
	if leased == 0 {
		obj.LeaseEpoch = 0
		return
	}
	live = live && leased == len(units)
	obj.LeaseExpires, obj.LeaseLive = &exp, &live
	slices.Sort(owners)
	if len(owners) == 1 && leased == len(units) {
		obj.Owner = owners[0]
	}
	if len(units) > 1 {
		obj.Owners = owners
	}
}

// hiddenSQL replaces the SQL of an object that has a secret in clear text
// (only a catalog written before secrets were sealed can hold one).
const hiddenSQL = "-- SQL not shown: it contains a secret option; give secrets as 'env:NAME'"

func hasSecret(o *planner.Object) bool {
	var opts map[string]string
	switch {
	case o.Source != nil:
		opts = o.Source.Options
	case o.Sink != nil:
		opts = o.Sink.Options
	}
	for k, v := range opts {
		// A sealed value is not clear text: the SQL may be shown.
		if secret.InClear(k, v) {
			return true
		}
	}
	return false
}

// maskGraph returns g with the options of its sources and sinks masked,
// for showing a plan; g itself is shared and not changed.
func maskGraph(g *dag.Graph) *dag.Graph {
	cp := *g
	cp.Nodes = make([]*dag.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		nn := *n
		if n.Source != nil {
			spec := *n.Source
			spec.Options = MaskOptions(spec.Options)
			nn.Source = &spec
		}
		if n.Sink != nil {
			spec := *n.Sink
			spec.Options = MaskOptions(spec.Options)
			nn.Sink = &spec
		}
		cutNode(&nn)
		cp.Nodes[i] = &nn
	}
	return &cp
}

// maxShownDepth bounds how deeply the expressions of a shown graph nest:
// a deeper part is shown as its text alone (Text, no Args). JSON nested
// 100 000 levels (1 + 1 + …) is costly to indent and most decoders refuse
// it (Go's stops at 10 000 levels).
const maxShownDepth = 64

// cutNode replaces n's expressions by copies cut at maxShownDepth, when
// they nest deeper; n is a copy, and the graph it came from is unchanged.
func cutNode(n *dag.Node) {
	n.Predicate = cutExpr(n.Predicate, 0)
	n.Exprs = cutExprs(n.Exprs)
	if n.Dedup != nil {
		d := *n.Dedup
		d.Keys = cutExprs(d.Keys)
		n.Dedup = &d
	}
	if n.Join != nil {
		j := *n.Join
		j.LeftKeys, j.RightKeys = cutExprs(j.LeftKeys), cutExprs(j.RightKeys)
		j.Residual = cutExpr(j.Residual, 0)
		n.Join = &j
	}
	if n.Window != nil {
		w := *n.Window
		w.Keys = cutExprs(w.Keys)
		w.Having = cutExpr(w.Having, 0)
		w.Aggs = append([]dag.Agg(nil), w.Aggs...)
		for i := range w.Aggs {
			w.Aggs[i].Arg = cutExpr(w.Aggs[i].Arg, 0)
		}
		n.Window = &w
	}
}

func cutExprs(es []*dag.Expr) []*dag.Expr {
	if es == nil {
		return nil
	}
	out := make([]*dag.Expr, len(es))
	for i, e := range es {
		out[i] = cutExpr(e, 0)
	}
	return out
}

// cutExpr returns e, or a copy of e cut at maxShownDepth below depth.
func cutExpr(e *dag.Expr, depth int) *dag.Expr {
	if e == nil || len(e.Args) == 0 {
		return e
	}
	if depth >= maxShownDepth {
		c := *e
		c.Args = nil
		return &c
	}
	var out []*dag.Expr
	for i, a := range e.Args {
		c := cutExpr(a, depth+1)
		if c != a && out == nil {
			out = append(make([]*dag.Expr, 0, len(e.Args)), e.Args[:i]...)
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return e
	}
	c := *e
	c.Args = out
	return &c
}

// MaskOptions returns opts with secret values hidden by Sluice's one
// masking rule (secret.MaskValue).
func MaskOptions(opts map[string]string) map[string]string { return secret.MaskOptions(opts) }
