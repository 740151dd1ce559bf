package server

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

// TextPos is a place in a pipeline's SQL: line and column from 1 (columns
// in characters), and the byte offset.
type TextPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Offset int `json:"offset"`
}

// TextSpan is the SQL a plan node comes from, From up to To (exclusive).
type TextSpan struct {
	From TextPos `json:"from"`
	To   TextPos `json:"to"`
}

// GraphNode is one operator of a pipeline's plan.
type GraphNode struct {
	ID      int       `json:"id"`
	Kind    string    `json:"kind"`
	Title   string    `json:"title"`             // as EXPLAIN names it: "source orders", "join INNER"
	Details []string  `json:"details,omitempty"` // what it does, as EXPLAIN says
	Inputs  []int     `json:"inputs"`
	Span    *TextSpan `json:"span,omitempty"`
	// Stage names the repartition stage whose tasks run the node, "" for
	// the pipeline's own graph. The live socket carries no counters for a
	// stage's nodes: they are counted by the stage's tasks.
	Stage string `json:"stage,omitempty"`
	// Repartition describes a node of kind "repartition": a stage's
	// projection of the key and its write to the internal topic, drawn as
	// one node feeding the source that reads the topic.
	Repartition *GraphRepartition `json:"repartition,omitempty"`
}

// GraphRepartition is what a repartition node does: it keys the rows of
// Source by Keys and writes them to Topic, of Partitions partitions, in
// Tasks tasks.
type GraphRepartition struct {
	Source     string   `json:"source"`
	Keys       []string `json:"keys"`
	Topic      string   `json:"topic"`
	Partitions int      `json:"partitions"`
	Tasks      int      `json:"tasks"`
}

// GraphEdge carries rows from one node to an input port of another.
type GraphEdge struct {
	From int `json:"from"`
	To   int `json:"to"`
	Port int `json:"port"`
}

// PipelineGraph is a pipeline's operator graph with, for each node, the
// part of the pipeline's SQL it comes from.
type PipelineGraph struct {
	Pipeline string      `json:"pipeline"`
	SQL      string      `json:"sql"`
	Nodes    []GraphNode `json:"nodes"`
	Edges    []GraphEdge `json:"edges"`
	// SpanError says why nodes carry no span (the SQL is hidden because it
	// holds a secret, or it no longer plans as the graph runs).
	SpanError string `json:"span_error,omitempty"`
}

func textPos(p sql.Pos) TextPos { return TextPos{Line: p.Line, Column: p.Col, Offset: p.Offset} }

// Graph returns a pipeline's operator graph.
func (s *Server) Graph(name string) (PipelineGraph, error) {
	o, ok := s.cat.Lookup(name)
	if !ok || o.Pipeline == nil {
		return PipelineGraph{}, fmt.Errorf("pipeline %q: %w", name, ErrUnknownPipeline)
	}
	g := maskGraph(o.Pipeline.Graph)
	out := PipelineGraph{Pipeline: o.Name, SQL: o.SQL, Nodes: []GraphNode{}, Edges: []GraphEdge{}}
	var spans map[int]planner.Span
	if hasSecret(o) {
		out.SQL = hiddenSQL
		out.SpanError = "the SQL is not shown: it holds a secret"
	} else if sp, err := planner.NodeSpans(o.SQL, o.Pipeline.Graph, s.cat); err != nil {
		out.SpanError = err.Error()
	} else {
		spans = sp
	}
	for _, n := range g.Nodes {
		title, details := planner.NodeText(g, n)
		gn := GraphNode{ID: n.ID, Kind: string(n.Kind), Title: title, Details: details, Inputs: append([]int{}, n.Inputs...)}
		if sp, ok := spans[n.ID]; ok {
			gn.Span = &TextSpan{From: textPos(sp.From), To: textPos(sp.To)}
		}
		out.Nodes = append(out.Nodes, gn)
		for port, in := range n.Inputs {
			out.Edges = append(out.Edges, GraphEdge{From: in, To: n.ID, Port: port})
		}
	}
	addStages(&out, g, spans)
	return out, nil
}

// addStages adds to a split pipeline's graph the nodes of its repartition
// stages, after the pipeline's own (whose IDs, those of the live socket's
// counters, stay as they are): each stage's source and the stateless
// nodes it runs before the cut, then a "repartition" node standing for
// its key projection and its write to the internal topic, with an edge
// to the source node that reads that topic. The stage's source carries
// the span of that reading source (the same FROM reference), the
// repartition node the span of the node the reading source feeds (the
// GROUP BY, DEDUPLICATE BY or JOIN whose key it partitions by).
func addStages(out *PipelineGraph, g *dag.Graph, spans map[int]planner.Span) {
	next := 0
	for _, n := range g.Nodes {
		next = max(next, n.ID+1)
	}
	for _, st := range g.Stages {
		reader, feeds := -1, -1
		for _, n := range g.Nodes {
			if n.Kind == dag.KindSource && n.Source != nil && n.Source.Connector == "kafka" && n.Source.Options["topic"] == st.Topic {
				reader = n.ID
			}
		}
		for _, n := range g.Nodes {
			if reader >= 0 && slices.Contains(n.Inputs, reader) && feeds < 0 {
				feeds = n.ID
			}
		}
		sg := maskGraph(st.Graph)
		// The stage's graph ends in its key projection and the Kafka
		// sink into the topic: the repartition node.
		chain := sg.Nodes
		if len(chain) >= 2 {
			chain = chain[:len(chain)-2]
		}
		ids := map[int]int{}
		prev := -1
		for _, n := range chain {
			title, details := planner.NodeText(sg, n)
			gn := GraphNode{ID: next, Kind: string(n.Kind), Title: title, Inputs: []int{}, Stage: sg.Name,
				Details: append(details, fmt.Sprintf("runs in stage %s (%d tasks); counters: on the stage's tasks", sg.Name, sg.Tasks()))}
			ids[n.ID] = next
			for port, in := range n.Inputs {
				gn.Inputs = append(gn.Inputs, ids[in])
				out.Edges = append(out.Edges, GraphEdge{From: ids[in], To: next, Port: port})
			}
			if sp, ok := spans[reader]; ok && n.Kind == dag.KindSource && out.SpanError == "" {
				gn.Span = &TextSpan{From: textPos(sp.From), To: textPos(sp.To)}
			}
			out.Nodes = append(out.Nodes, gn)
			prev = next
			next++
		}
		rp := &GraphRepartition{Source: st.Source, Keys: append([]string{}, st.Keys...), Topic: st.Topic, Partitions: sg.Tasks(), Tasks: sg.Tasks()}
		rn := GraphNode{ID: next, Kind: "repartition", Stage: sg.Name, Inputs: []int{}, Repartition: rp,
			Title: fmt.Sprintf("Repartition %s BY (%s)", st.Source, strings.Join(st.Keys, ", ")),
			Details: []string{
				fmt.Sprintf("topic %s, %d partitions", st.Topic, rp.Partitions),
				fmt.Sprintf("stage %s: %d tasks", sg.Name, rp.Tasks),
				"counters: on the stage's tasks",
			}}
		if prev >= 0 {
			rn.Inputs = []int{prev}
			out.Edges = append(out.Edges, GraphEdge{From: prev, To: next, Port: 0})
		}
		if sp, ok := spans[feeds]; ok && out.SpanError == "" {
			rn.Span = &TextSpan{From: textPos(sp.From), To: textPos(sp.To)}
		}
		out.Nodes = append(out.Nodes, rn)
		if reader >= 0 {
			out.Edges = append(out.Edges, GraphEdge{From: next, To: reader, Port: 0})
		}
		next++
	}
}

// LiveNode is one operator's counters in a Live message. Counters count
// from the start of the current run; rates and Busy are over the time
// since the previous message.
type LiveNode struct {
	ID            int     `json:"id"`
	Kind          string  `json:"kind"`
	RowsIn        int64   `json:"rows_in"`
	RowsOut       int64   `json:"rows_out"`
	InPerSecond   float64 `json:"in_per_s"`
	OutPerSecond  float64 `json:"out_per_s"`
	DedupDrops    int64   `json:"dedup_drops,omitempty"`
	LateRows      int64   `json:"late_rows,omitempty"`
	JoinMatches   int64   `json:"join_matches,omitempty"`
	JoinExpired   int64   `json:"join_expired,omitempty"`
	JoinWaiting   int64   `json:"join_waiting,omitempty"`
	StateEntries  int64   `json:"state_entries,omitempty"`
	StateBytes    int64   `json:"state_bytes,omitempty"`
	BusyMS        float64 `json:"busy_ms"` // time spent in the node since the run started
	Busy          float64 `json:"busy"`    // share of the last interval spent in it (1 = one core)
	QueueFill     float64 `json:"queue_fill"`
	Lag           *int64  `json:"lag,omitempty"`                // sources: records behind the end, when known
	Watermark     *string `json:"watermark,omitempty"`          // sources: the watermark, once there is one
	WatermarkLag  *int64  `json:"watermark_delay_ms,omitempty"` // sources: how far the watermark trails the wall clock
	BatchRows     int64   `json:"batch_rows,omitempty"`         // sink: rows of the last write
	LatencyMS     float64 `json:"latency_ms,omitempty"`         // sink: duration of the last write
	MeanLatencyMS float64 `json:"mean_latency_ms,omitempty"`    // sink: mean duration of a write
}

// Live is what the live socket sends about once a second.
type Live struct {
	Type     string           `json:"type"` // "stats"
	Pipeline string           `json:"pipeline"`
	Time     time.Time        `json:"time"`
	State    string           `json:"state"`
	Error    string           `json:"error,omitempty"`
	Since    *time.Time       `json:"since,omitempty"`
	Metrics  *PipelineMetrics `json:"metrics,omitempty"`
	Nodes    []LiveNode       `json:"nodes"`
	// Bottleneck is the node that limits the pipeline: the sink when its
	// input queue has stayed full for 3 messages, else the node where the
	// most time went since the previous message; -1 when there is none to
	// name (not running, or nothing happened). Why says why it was chosen.
	Bottleneck int    `json:"bottleneck"`
	Why        string `json:"bottleneck_reason,omitempty"`
	// Saturated is set when the bottleneck is busy all the time or its
	// input queue stays full: the pipeline cannot go faster than it.
	Saturated bool `json:"saturated"`
}

// LiveTracker remembers what the previous Live saw, to compute rates.
type LiveTracker struct {
	runs []*run // the runs whose counters prev merges
	prev runtime.Stats
	at   time.Time
	// full counts the messages in a row each queue was at least 3/4 full.
	sinkFull, opFull int
}

// Live returns the counters of a pipeline for the live socket. A pipeline
// split into tasks shows its graph once, with the counters of its tasks
// running on this server merged (runtime.MergeStats).
func (s *Server) Live(name string, tr *LiveTracker) (Live, error) {
	obj, err := s.Object(sql.ObjPipeline, name)
	if err != nil {
		return Live{}, err
	}
	now := time.Now()
	l := Live{Type: "stats", Pipeline: obj.Name, Time: now.UTC(), State: obj.State, Error: obj.Error, Since: obj.Since, Metrics: obj.Metrics, Nodes: []LiveNode{}, Bottleneck: -1}
	o, _ := s.cat.Lookup(name)
	runs := mainRuns(s.runsOf(name))
	if len(runs) == 0 || o == nil || o.Pipeline == nil {
		tr.runs = nil
		return l, nil
	}
	st := mergedStats(runs)
	prev, dt := tr.prev, now.Sub(tr.at).Seconds()
	if !slices.Equal(tr.runs, runs) {
		// Other runs than last time: their counters started at zero when
		// the earliest of them started.
		started := runs[0].started
		for _, r := range runs {
			if r.started.Before(started) {
				started = r.started
			}
		}
		prev, dt = runtime.Stats{}, now.Sub(started).Seconds()
	}
	tr.runs, tr.prev, tr.at = runs, st, now
	prevOp := map[int]runtime.OperatorSnapshot{}
	for _, op := range prev.Operators {
		prevOp[op.ID] = op
	}
	rate := func(cur, old int64) float64 {
		if dt <= 0 {
			return 0
		}
		return math.Round(float64(cur-old)/dt*10) / 10
	}
	share := func(cur, old time.Duration) float64 {
		if dt <= 0 {
			return 0
		}
		return math.Round(max(0, (cur-old).Seconds()/dt)*1e5) / 1e5
	}
	fill := func(n, c int) float64 {
		if c == 0 {
			return 0
		}
		return math.Round(float64(n)/float64(c)*100) / 100
	}
	g := runs[0].graph
	kinds := map[int]dag.NodeKind{}
	srcIdx := map[int]int{}
	fedBySource := map[int]bool{}
	for _, n := range g.Nodes {
		kinds[n.ID] = n.Kind
		if n.Kind == dag.KindSource {
			srcIdx[n.ID] = len(srcIdx)
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if kinds[in] == dag.KindSource {
				fedBySource[n.ID] = true
			}
		}
	}
	opQueue := fill(st.OperatorQueue, st.OperatorQueueCap)
	sinkQueue := fill(st.SinkQueue, st.SinkQueueCap)
	if sinkQueue >= 0.75 {
		tr.sinkFull++
	} else {
		tr.sinkFull = 0
	}
	if opQueue >= 0.75 {
		tr.opFull++
	} else {
		tr.opFull = 0
	}
	busiest, busiestShare := -1, 0.0
	for _, op := range st.Operators {
		p := prevOp[op.ID]
		n := LiveNode{
			ID: op.ID, Kind: string(op.Kind), RowsIn: op.RowsIn, RowsOut: op.RowsOut,
			InPerSecond: rate(op.RowsIn, p.RowsIn), OutPerSecond: rate(op.RowsOut, p.RowsOut),
			DedupDrops: op.DedupDrops, LateRows: op.LateRows, JoinMatches: op.JoinMatches,
			JoinExpired: op.JoinExpired, JoinWaiting: op.JoinWaiting,
			StateEntries: op.StateEntries, StateBytes: op.StateBytes,
			BusyMS: float64(op.Busy.Microseconds()) / 1000, Busy: share(op.Busy, p.Busy),
		}
		if fedBySource[op.ID] {
			n.QueueFill = opQueue
		}
		switch op.Kind {
		case dag.KindSource:
			if i, ok := srcIdx[op.ID]; ok && i < len(st.Sources) {
				src := st.Sources[i]
				if src.Lag >= 0 {
					lag := src.Lag
					n.Lag = &lag
				}
				if src.Watermark != math.MinInt64 {
					wm := time.Unix(0, src.Watermark).UTC()
					w := wm.Format(time.RFC3339Nano)
					delay := now.Sub(wm).Milliseconds()
					n.Watermark, n.WatermarkLag = &w, &delay
				}
			}
		case dag.KindSink:
			n.BusyMS = float64(st.SinkTime.Microseconds()) / 1000
			n.Busy = share(st.SinkTime, prev.SinkTime)
			n.QueueFill = sinkQueue
			n.BatchRows = st.LastBatchRows
			n.LatencyMS = float64(st.LastSinkLatency.Microseconds()) / 1000
			n.MeanLatencyMS = float64(st.SinkLatency.Microseconds()) / 1000
			// Rows reach the sink node as they are produced; they are
			// out once written.
			n.RowsOut = st.RowsWritten
			n.OutPerSecond = rate(st.RowsWritten, prev.RowsWritten)
		}
		if op.Kind != dag.KindSource {
			// One goroutine per task runs the operators, one the sink: a
			// share above that is time counted when a long call ended.
			n.Busy = min(n.Busy, float64(len(runs)))
		}
		if n.Busy > busiestShare {
			busiest, busiestShare = op.ID, n.Busy
		}
		l.Nodes = append(l.Nodes, n)
	}
	switch {
	case tr.sinkFull >= 3 && len(g.Nodes) > 0 && kinds[g.Nodes[len(g.Nodes)-1].ID] == dag.KindSink:
		l.Bottleneck = g.Nodes[len(g.Nodes)-1].ID
		l.Why = "its input queue stays full: the sink writes slower than rows arrive"
		l.Saturated = true
	case busiest >= 0:
		l.Bottleneck = busiest
		l.Why = fmt.Sprintf("most time is spent here: %s of a core", percent(busiestShare))
		l.Saturated = busiestShare >= 0.9*float64(len(runs)) || (tr.opFull >= 3 && kinds[busiest] != dag.KindSource && kinds[busiest] != dag.KindSink)
		if tr.opFull >= 3 {
			l.Why += "; decoded records wait for the operators"
		}
	}
	return l, nil
}

// DeadLetterView is one dead letter as the API shows it.
type DeadLetterView struct {
	Reason    string    `json:"reason"`
	Topic     string    `json:"topic,omitempty"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
	Key       string    `json:"key,omitempty"`
	Value     string    `json:"value"`
	Truncated bool      `json:"truncated,omitempty"`
}

// SourceDeadLetters are the last dead letters of one source.
type SourceDeadLetters struct {
	Source    string `json:"source"`
	Connector string `json:"connector"`
	// Supported is false when the connector keeps no dead letters it can
	// read back (datagen: its records always decode).
	Supported bool             `json:"supported"`
	Error     string           `json:"error,omitempty"`
	Letters   []DeadLetterView `json:"letters"`
}

// MaxDeadLetters bounds the dead letters asked for per source.
const MaxDeadLetters = 200

// DeadLetters reads the last n (at most MaxDeadLetters) dead letters of
// every source of a pipeline, or of the source named, newest first. A
// source whose dead letters cannot be read carries the error; the others
// are still listed.
func (s *Server) DeadLetters(ctx context.Context, name string, n int) ([]SourceDeadLetters, error) {
	o, ok := s.cat.Lookup(name)
	if !ok || (o.Pipeline == nil && o.Source == nil) {
		return nil, fmt.Errorf("%q: %w", name, ErrUnknownObject)
	}
	n = min(max(n, 1), MaxDeadLetters)
	var specs []*dag.SourceSpec
	if o.Source != nil {
		specs = append(specs, o.Source)
	} else {
		for _, sn := range o.Pipeline.Sources {
			if so, ok := s.cat.Lookup(sn); ok && so.Source != nil {
				specs = append(specs, so.Source)
			}
		}
	}
	out := []SourceDeadLetters{}
	for _, spec := range specs {
		sd := SourceDeadLetters{Source: spec.Name, Connector: spec.Connector, Letters: []DeadLetterView{}}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		letters, supported, err := runtime.ReadDeadLetters(rctx, spec, n)
		cancel()
		sd.Supported = supported
		if err != nil {
			sd.Error = secret.MaskText(err.Error())
		}
		for _, d := range letters {
			sd.Letters = append(sd.Letters, DeadLetterView{
				Reason: d.Reason, Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Time: d.Time.UTC(),
				Key: strings.ToValidUTF8(string(d.Key), "\uFFFD"), Value: strings.ToValidUTF8(string(d.Value), "\uFFFD"), Truncated: d.Truncated,
			})
		}
		out = append(out, sd)
	}
	return out, nil
}

// percent writes a share as a percentage with the digits a small one needs.
func percent(v float64) string {
	p := v * 100
	switch {
	case p >= 10:
		return fmt.Sprintf("%.0f%%", p)
	case p >= 0.1:
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.2g%%", p)
}
