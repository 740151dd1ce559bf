package planner

// Splitting a pipeline into tasks (pipeline option parallelism). Task i of
// N reads the Kafka partitions p with p % N == i of every source and keeps
// the keyed state of what it reads, so a keyed operator (dedup, join,
// window) gives the right answer only when all rows of one key are in one
// task: when its key is what Kafka partitioned the records by, the record
// key _key. The planner traces every operator's keys back to the source
// columns they are; an operator not on the record key either makes the
// plan an error (repartition = 'refuse') or gets a repartition stage
// (repartition = 'auto'): a pipeline of its own that reads the source,
// runs the stateless steps up to the operator, and writes the rows to an
// internal topic keyed by the operator's key, which the main graph then
// reads instead of the source (the Kafka Streams model).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// The names the stage gives the columns it adds or renames in the internal
// topic's records.
const (
	keyColumn       = "_sluice_key"        // the repartition key (…_key_<i> for several)
	timeColumn      = "_sluice_time"       // the time attribute when it is _timestamp
	timestampColumn = "_sluice_timestamp"  // _timestamp when it is not the time attribute
	recordKeyColumn = "_sluice_record_key" // the source's _key
)

// splitOptions are the options that shape a pipeline's plan:
// parallelism (1 when not given or not valid: a bad value is already
// reported by checkPipelineOption) and repartition.
type splitOptions struct {
	parallelism int
	refuse      bool       // repartition = 'refuse'
	at          sql.Option // the parallelism option, where refusals of the whole plan point
}

// pipelineSplitOptions reads them. The plan depends on them, so they
// cannot be read from the environment at run time.
func pipelineSplitOptions(s *sql.CreatePipeline, errs *sql.ErrorList) splitOptions {
	o := splitOptions{parallelism: 1}
	for _, opt := range s.Options {
		switch strings.ToLower(opt.Key.Name) {
		case "parallelism":
			if strings.HasPrefix(opt.Value, connector.EnvPrefix) {
				errs.Add(opt.ValuePos, "write the number itself", "option %s cannot be read from the environment: the pipeline's plan depends on it", opt.Key.Name)
				continue
			}
			if n, err := strconv.Atoi(strings.TrimSpace(opt.Value)); err == nil && n >= 1 && n <= 256 {
				o.parallelism, o.at = n, opt
			}
		case "repartition":
			if strings.HasPrefix(opt.Value, connector.EnvPrefix) {
				errs.Add(opt.ValuePos, "write 'auto' or 'refuse'", "option %s cannot be read from the environment: the pipeline's plan depends on it", opt.Key.Name)
				continue
			}
			o.refuse = strings.EqualFold(strings.TrimSpace(opt.Value), "refuse")
		}
	}
	return o
}

// origin is where a column's values come from: column col of node node of
// the lowered graph, traced back through filters, projections and joins
// to a source column, a computed expression or a window's key. col -1 is
// the record key of source node node (its _key, whether read or not).
type origin struct{ node, col int }

// flow is what the planner knows of the rows on one edge.
type flow struct {
	// part lists the classes the rows are partitioned by: rows whose
	// values agree on one origin of every class are in one task. Empty
	// when nothing is known (never so for a Kafka source).
	part [][]origin
	// keyed is the first keyed operator on the way from the sources (nil
	// when the way is stateless), which a repartition stage cannot hold.
	keyed *dag.Node
	// sources are the source nodes the rows come from.
	sources []int
	// forJoin is the join whose keys (of this side) a stage already
	// partitions the rows by, nil when none.
	forJoin *dag.Node
}

// cut is an edge of the lowered graph where a repartition stage goes in:
// the output of node from, input port of node to.
type cut struct {
	from, to, port int
	keys           []*dag.Expr // over from's schema
	texts          []string
	at             sql.Node // the clause, for errors
	what           string   // the clause as errors name it
	name, topic    string   // the stage's graph name and topic
}

type splitter struct {
	q    *query
	g    *dag.Graph
	sel  *sql.Select
	opts splitOptions
	errs *sql.ErrorList
	byID []*dag.Node
	cuts []cut
	bad  bool
}

// split checks a lowered pipeline graph (ending in its sink) for
// parallelism > 1 and inserts the repartition stages it needs. It reports
// its refusals into errs and leaves g alone when there is any.
func (q *query) split(g *dag.Graph, sel *sql.Select, opts splitOptions, errs *sql.ErrorList) {
	g.Parallelism = opts.parallelism
	if opts.parallelism <= 1 {
		g.Parallelism = 0
		return
	}
	sp := &splitter{q: q, g: g, sel: sel, opts: opts, errs: errs, byID: g.Nodes}
	flows := make([]flow, len(g.Nodes))
	for _, n := range g.Nodes {
		flows[n.ID] = sp.flowOf(n, flows)
	}
	if sp.bad || len(sp.cuts) == 0 || !sp.nameStages() {
		return
	}
	sp.rewrite()
}

// trace returns the origin of column col of node id.
func (sp *splitter) trace(id, col int) origin {
	for {
		n := sp.byID[id]
		switch n.Kind {
		case dag.KindSource:
			if col < len(n.Schema) && n.Schema[col].Pseudo && n.Schema[col].Name == "_key" {
				return origin{id, -1}
			}
			return origin{id, col}
		case dag.KindFilter, dag.KindDedup, dag.KindLimit, dag.KindSink:
			id = n.Inputs[0]
		case dag.KindProject:
			e := n.Exprs[col]
			if e.Op != dag.OpColumn {
				return origin{id, col}
			}
			id, col = n.Inputs[0], e.Col
		case dag.KindJoin:
			left := sp.byID[n.Inputs[0]]
			if col < len(left.Schema) {
				id = left.ID
			} else {
				id, col = n.Inputs[1], col-len(left.Schema)
			}
		case dag.KindWindow:
			if col >= len(n.Window.Keys) || n.Window.Keys[col].Op != dag.OpColumn {
				return origin{id, col}
			}
			id, col = n.Inputs[0], n.Window.Keys[col].Col
		default:
			return origin{id, col}
		}
	}
}

// traceKeys returns the origins of the keys that are plain columns of
// node in's output.
func (sp *splitter) traceKeys(in int, keys []*dag.Expr) []origin {
	var out []origin
	for _, k := range keys {
		if k.Op == dag.OpColumn {
			out = append(out, sp.trace(in, k.Col))
		}
	}
	return out
}

// covers tells whether rows partitioned by part have all rows of one key
// in one task: every class has an origin among the keys.
func covers(part [][]origin, keys []origin) bool {
	if len(part) == 0 {
		return false
	}
	for _, class := range part {
		if !slices.ContainsFunc(class, func(o origin) bool { return slices.Contains(keys, o) }) {
			return false
		}
	}
	return true
}

// onRecordKey tells whether f is the partitioning of one Kafka source
// as read (by its record key).
func onRecordKey(f flow) (int, bool) {
	if len(f.part) != 1 || len(f.part[0]) != 1 || f.part[0][0].col != -1 {
		return 0, false
	}
	return f.part[0][0].node, true
}

// repartitioned is the partitioning of rows after a stage keyed them by
// keys (over node in's output): a key that is not a plain column is a
// class of its own that no later key matches.
func (sp *splitter) repartitioned(in int, keys []*dag.Expr, at int) [][]origin {
	var part [][]origin
	for i, k := range keys {
		o := origin{at, -2 - i}
		if k.Op == dag.OpColumn {
			o = sp.trace(in, k.Col)
		}
		part = append(part, []origin{o})
	}
	return part
}

func (sp *splitter) flowOf(n *dag.Node, flows []flow) flow {
	in := func(i int) flow { return flows[n.Inputs[i]] }
	switch n.Kind {
	case dag.KindSource:
		if c, ok := connector.Lookup(n.Source.Connector); !ok || !slices.Contains(c.Pseudo, "_partition") {
			sp.errs.Add(sp.opts.at.ValuePos, "remove the parallelism option, or read a Kafka topic: its partitions are what tasks split",
				"parallelism %d needs every source to be Kafka: source %q (%s) has no partitions to split among tasks",
				sp.opts.parallelism, n.Source.Name, n.Source.Connector)
			sp.bad = true
		}
		return flow{part: [][]origin{{{n.ID, -1}}}, sources: []int{n.ID}}
	case dag.KindDedup:
		f := in(0)
		sp.keyed(n, f, 0, n.Dedup.Keys, sp.dedupClause(n), func() string {
			return "DEDUPLICATE BY " + exprTexts(n.Dedup.Keys)
		}, &f)
		return f
	case dag.KindWindow:
		f := in(0)
		if len(n.Window.Keys) == 0 {
			sp.errs.AddNode(sp.groupByClause(), "group by a key as well, such as GROUP BY TUMBLE(…), _key, or remove the parallelism option",
				"a window without GROUP BY keys cannot be split into %d tasks: all rows of a window meet in one group, which one task must hold", sp.opts.parallelism)
			sp.bad = true
			return f
		}
		sp.keyed(n, f, 0, n.Window.Keys, sp.groupByClause(), func() string {
			return "GROUP BY " + exprTexts(n.Window.Keys)
		}, &f)
		return f
	case dag.KindJoin:
		return sp.join(n, in(0), in(1))
	case dag.KindSink:
		if n.Sink.Connector == "file" {
			sp.errs.Add(sp.opts.at.ValuePos, "write to Kafka, ClickHouse, PostgreSQL or Delta, or remove the parallelism option",
				"parallelism %d cannot write the file sink %q: its tasks would each write their own file", sp.opts.parallelism, n.Sink.Name)
			sp.bad = true
		}
		return in(0)
	default:
		if len(n.Inputs) > 0 {
			return in(0)
		}
		return flow{}
	}
}

// keyed checks a one-input keyed operator n (a dedup or a window) whose
// keys are over input port port, and updates *f to its output flow.
func (sp *splitter) keyed(n *dag.Node, in flow, port int, keys []*dag.Expr, at sql.Node, what func() string, f *flow) {
	src := n.Inputs[port]
	if covers(in.part, sp.traceKeys(src, keys)) {
		if f.keyed == nil {
			f.keyed = n
		}
		return
	}
	if sp.refuseNotOnKey(n, in, keys, at, what()) {
		return
	}
	if sp.refuseAfterKeyed(in, at, what()) {
		return
	}
	keys, join := sp.sharedKeys(n, src, keys)
	sp.addCut(cut{from: src, to: n.ID, port: port, keys: keys, texts: keyTexts(keys), at: at, what: what()})
	*f = flow{part: sp.repartitioned(src, keys, n.ID), keyed: n, sources: in.sources, forJoin: join}
}

// sharedKeys narrows the keys a stage partitions by to those that the
// keyed operators after n on its way to the sink also group by, when there
// are such keys: DEDUPLICATE BY user_id, event_id followed by GROUP BY …,
// user_id then needs one stage, by user_id, not a second one that could
// not follow the dedup. When the way reaches a join whose keys of this
// side are all among the shared keys, the stage partitions by exactly
// those, in the join's order, and the join is returned: the join's other
// side is then repartitioned by its own keys to match.
func (sp *splitter) sharedKeys(n *dag.Node, in int, keys []*dag.Expr) ([]*dag.Expr, *dag.Node) {
	next := map[int]*dag.Node{}
	for _, m := range sp.g.Nodes {
		for _, id := range m.Inputs {
			next[id] = m
		}
	}
	orAll := func(shared []*dag.Expr) []*dag.Expr {
		if len(shared) == 0 {
			return keys
		}
		return shared
	}
	shared := slices.Clone(keys)
	prev := n
	for m := next[n.ID]; m != nil && m.Kind != dag.KindSink; prev, m = m, next[m.ID] {
		var later []*dag.Expr
		switch m.Kind {
		case dag.KindDedup:
			later = m.Dedup.Keys
		case dag.KindWindow:
			later = m.Window.Keys
		case dag.KindJoin:
			if js := sp.joinSideKeys(m, prev.ID, in, shared); js != nil {
				return js, m
			}
			return orAll(shared), nil
		default:
			continue
		}
		origins := sp.traceKeys(m.Inputs[0], later)
		shared = slices.DeleteFunc(shared, func(k *dag.Expr) bool {
			return k.Op != dag.OpColumn || !slices.Contains(origins, sp.trace(in, k.Col))
		})
	}
	return orAll(shared), nil
}

// joinSideKeys returns the join m's keys of the side fed by node from, as
// expressions among cands (over node in's output), in the join's order; nil
// unless every one of them is there.
func (sp *splitter) joinSideKeys(m *dag.Node, from, in int, cands []*dag.Expr) []*dag.Expr {
	side, port := m.Join.LeftKeys, 0
	if m.Inputs[1] == from {
		side, port = m.Join.RightKeys, 1
	}
	var out []*dag.Expr
	for _, k := range side {
		if k.Op != dag.OpColumn {
			return nil
		}
		o := sp.trace(m.Inputs[port], k.Col)
		i := slices.IndexFunc(cands, func(c *dag.Expr) bool { return c.Op == dag.OpColumn && sp.trace(in, c.Col) == o })
		if i < 0 {
			return nil
		}
		out = append(out, cands[i])
	}
	return out
}

func (sp *splitter) join(n *dag.Node, l, r flow) flow {
	j := n.Join
	out := flow{keyed: n, sources: append(slices.Clone(l.sources), r.sources...)}
	ls, lok := onRecordKey(l)
	rs, rok := onRecordKey(r)
	if lok && rok {
		for i := range j.LeftKeys {
			if j.LeftKeys[i].Op != dag.OpColumn || j.RightKeys[i].Op != dag.OpColumn {
				continue
			}
			lo, ro := sp.trace(n.Inputs[0], j.LeftKeys[i].Col), sp.trace(n.Inputs[1], j.RightKeys[i].Col)
			if lo == (origin{ls, -1}) && ro == (origin{rs, -1}) {
				out.part = [][]origin{{lo, ro}}
				return out
			}
		}
	}
	at := sp.joinClause()
	if l.forJoin == n || r.forJoin == n {
		// A side already went through a stage keyed by its join keys
		// (before a dedup on them): the other goes through one keyed by
		// its own, unless it did too.
		for port, f := range []flow{l, r} {
			if f.forJoin == n {
				continue
			}
			what := sp.keyedText(n)
			if sp.refuseAfterKeyed(f, at, what) {
				return out
			}
			keys := j.LeftKeys
			if port == 1 {
				keys = j.RightKeys
			}
			sp.addCut(cut{from: n.Inputs[port], to: n.ID, port: port, keys: keys, texts: keyTexts(keys), at: at, what: what})
		}
		out.part = sp.joinPart(n)
		return out
	}
	var pairs []string
	for i := range j.LeftKeys {
		pairs = append(pairs, j.LeftKeys[i].Text+" = "+j.RightKeys[i].Text)
	}
	what := "JOIN ON " + strings.Join(pairs, " AND ")
	if sp.opts.refuse {
		l, r := sp.q.sides[0], sp.q.sides[1]
		sp.errs.AddNode(at, fmt.Sprintf("join on %s._key = %s._key as well, or set repartition = 'auto'", l.qual, r.qual),
			"%s is not on the record keys of %s: tasks split each input by Kafka partition, so rows with equal keys may be in different tasks",
			what, sp.sourceNames([]string{l.obj.Name, r.obj.Name}))
		sp.bad = true
		return out
	}
	for _, f := range []flow{l, r} {
		if sp.refuseAfterKeyed(f, at, what) {
			return out
		}
	}
	// Both sides go through a stage keyed by their own join keys, in the
	// same order and with the same types (the planner casts both sides of
	// an equality to one type), so equal keys land in equal partitions of
	// the two internal topics.
	sp.addCut(cut{from: n.Inputs[0], to: n.ID, port: 0, keys: j.LeftKeys, texts: keyTexts(j.LeftKeys), at: at, what: what})
	sp.addCut(cut{from: n.Inputs[1], to: n.ID, port: 1, keys: j.RightKeys, texts: keyTexts(j.RightKeys), at: at, what: what})
	out.part = sp.joinPart(n)
	return out
}

// joinPart is the partitioning of a join's output when both sides are
// partitioned by their join keys: each pair of keys is one class.
func (sp *splitter) joinPart(n *dag.Node) [][]origin {
	j := n.Join
	lp, rp := sp.repartitioned(n.Inputs[0], j.LeftKeys, n.ID), sp.repartitioned(n.Inputs[1], j.RightKeys, n.ID)
	var part [][]origin
	for i := range lp {
		// Two computed keys are one class of their own: the pair's
		// equality still puts the rows of one key in one task, but no
		// later key names it.
		part = append(part, []origin{lp[i][0], rp[i][0]})
	}
	return part
}

// refuseNotOnKey reports an operator not on the record key when
// repartition = 'refuse'.
func (sp *splitter) refuseNotOnKey(n *dag.Node, in flow, keys []*dag.Expr, at sql.Node, what string) bool {
	if !sp.opts.refuse {
		return false
	}
	var names []string
	for _, id := range in.sources {
		names = append(names, sp.byID[id].Source.Name)
	}
	k := exprTexts(keys)
	do := "deduplicate by _key"
	switch n.Kind {
	case dag.KindWindow:
		do = "group by _key as well"
	}
	sp.errs.AddNode(at, do+", or set repartition = 'auto'",
		"%s is not on the record key of %s: tasks split the input by Kafka partition, so equal %s values may be in different tasks",
		what, sp.sourceNames(names), k)
	sp.bad = true
	return true
}

// refuseAfterKeyed refuses to repartition rows that a keyed operator
// produced: a stage holds only stateless steps.
func (sp *splitter) refuseAfterKeyed(in flow, at sql.Node, what string) bool {
	if in.keyed == nil {
		return false
	}
	var names []string
	for _, id := range in.sources {
		names = append(names, sp.byID[id].Source.Name)
	}
	sp.errs.AddNode(at, "key the records of the input topics by what "+what+" uses and use _key there, or remove the parallelism option",
		"%s is not on the record key of %s and cannot be repartitioned: its input comes from the %s, and only stateless steps can move into a repartition stage",
		what, sp.sourceNames(names), sp.keyedText(in.keyed))
	sp.bad = true
	return true
}

// keyedText names a keyed operator in errors.
func (sp *splitter) keyedText(n *dag.Node) string {
	switch n.Kind {
	case dag.KindDedup:
		return "DEDUPLICATE BY " + exprTexts(n.Dedup.Keys)
	case dag.KindJoin:
		var pairs []string
		for i := range n.Join.LeftKeys {
			pairs = append(pairs, n.Join.LeftKeys[i].Text+" = "+n.Join.RightKeys[i].Text)
		}
		return "JOIN ON " + strings.Join(pairs, " AND ")
	case dag.KindWindow:
		return "GROUP BY " + exprTexts(n.Window.Keys)
	}
	return string(n.Kind)
}

func (sp *splitter) sourceNames(names []string) string {
	var qs []string
	for _, n := range names {
		q := strconv.Quote(n)
		if !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	if len(qs) > 1 {
		return strings.Join(qs[:len(qs)-1], ", ") + " and " + qs[len(qs)-1]
	}
	return strings.Join(qs, "")
}

func keyTexts(keys []*dag.Expr) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Text
	}
	return out
}

// addCut records a stage, refusing the source's pseudo-columns that would
// describe the internal topic after it.
func (sp *splitter) addCut(c cut) {
	for _, col := range sp.byID[c.from].Schema {
		if col.Pseudo && (col.Name == "_topic" || col.Name == "_partition" || col.Name == "_offset") {
			src := sp.byID[sp.chainSource(c.from)].Source.Name
			sp.errs.AddNode(c.at, "remove "+col.Name+" from the query, or key the records of "+strconv.Quote(src)+" by what "+c.what+" uses and use _key there, so that no stage is needed",
				"%s is not on the record key of %q, so the pipeline reads %q through an internal topic keyed by it (repartition = 'auto'), where %s would describe the internal topic, not %q",
				c.what, src, src, col.Name, src)
			sp.bad = true
			return
		}
	}
	sp.cuts = append(sp.cuts, c)
}

// chainSource returns the source node at the start of the stateless chain
// ending in node id.
func (sp *splitter) chainSource(id int) int {
	for sp.byID[id].Kind != dag.KindSource {
		id = sp.byID[id].Inputs[0]
	}
	return id
}

// The clauses errors point at.

// dedupClause is the first key of the DEDUPLICATE BY a dedup node comes
// from.
func (sp *splitter) dedupClause(n *dag.Node) sql.Node {
	if d, ok := sp.q.nodeAt[n.ID].(*sql.Dedup); ok && d != nil {
		if len(d.Keys) > 0 {
			return d.Keys[0]
		}
		return d
	}
	return sp.sel.From.Name
}

// joinClause is the join's ON condition.
func (sp *splitter) joinClause() sql.Node {
	if j := sp.sel.Join; j != nil {
		if j.On != nil {
			return j.On
		}
		return j
	}
	return sp.sel.From.Name
}

// groupByClause is the first GROUP BY key that is not the window, else
// the window.
func (sp *splitter) groupByClause() sql.Node {
	for _, e := range sp.sel.GroupBy {
		if !isWindowCall(e) {
			return e
		}
	}
	if len(sp.sel.GroupBy) > 0 {
		return sp.sel.GroupBy[0]
	}
	return sp.sel.From.Name
}

func isWindowCall(e sql.Expr) bool {
	c, ok := e.(*sql.Call)
	return ok && (strings.EqualFold(c.Name, "TUMBLE") || strings.EqualFold(c.Name, "HOP"))
}

// nameStages names each cut's stage and topic,
// "<group_id>.<pipeline>.<source>.repartition", refusing names Kafka
// cannot take.
func (sp *splitter) nameStages() bool {
	seen := map[string]int{}
	ok := true
	for i := range sp.cuts {
		c := &sp.cuts[i]
		spec := sp.byID[sp.chainSource(c.from)].Source
		name := strings.ToLower(spec.Name)
		// A source read twice (a self-join) gets a stage per reading.
		if seen[name]++; seen[name] > 1 {
			name += "." + strconv.Itoa(seen[name])
		}
		group := spec.Options["group_id"]
		if group == "" {
			group = "sluice"
		}
		c.name = strings.ToLower(sp.g.Name) + "." + name + ".repartition"
		c.topic = group + "." + c.name
		switch {
		case strings.HasPrefix(group, connector.EnvPrefix):
			sp.errs.AddNode(c.at, "write the group_id of "+strconv.Quote(spec.Name)+" itself, or key its records by what "+c.what+" uses and use _key",
				"%s needs a repartition topic named after the group_id of %q, which is read from the environment", c.what, spec.Name)
			ok = false
		case !validTopic(c.topic):
			sp.errs.AddNode(c.at, "give the pipeline and the source names of letters, digits, '.', '_' and '-', or key the records by what "+c.what+" uses and use _key",
				"%s needs the repartition topic %q, which is not a valid Kafka topic name", c.what, c.topic)
			ok = false
		}
	}
	return ok
}

// validTopic tells whether Kafka accepts name as a topic name.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// The rewrite.

// sourceOptions are the options of a Kafka source that say how to reach
// its brokers; a stage's sink and the source reading its topic copy them.
var sourceOptions = []string{"brokers", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "tls_ca"}

// rewrite builds a stage for every cut and the main graph that reads their
// topics. Node IDs stay those of the lowered graph where the nodes before
// them stay (a dedup right after its source keeps its ID, and so its
// checkpointed state's place).
func (sp *splitter) rewrite() {
	g := sp.g
	removed := map[int]bool{}
	newSource := map[[2]int]*dag.Node{} // {to, port} → the source reading the stage's topic
	for _, c := range sp.cuts {
		st, src := sp.stage(c)
		g.Stages = append(g.Stages, st)
		for id := c.from; ; id = sp.byID[id].Inputs[0] {
			removed[id] = true
			if sp.byID[id].Kind == dag.KindSource {
				break
			}
		}
		newSource[[2]int{c.to, c.port}] = src
	}
	var nodes []*dag.Node
	ids := map[int]int{}
	for _, n := range g.Nodes {
		if removed[n.ID] {
			continue
		}
		cp := *n
		cp.Inputs = slices.Clone(n.Inputs)
		for port := range cp.Inputs {
			if src, ok := newSource[[2]int{n.ID, port}]; ok {
				src.ID = len(nodes)
				nodes = append(nodes, src)
				cp.Inputs[port] = src.ID
			} else {
				cp.Inputs[port] = ids[cp.Inputs[port]]
			}
		}
		ids[n.ID] = len(nodes)
		cp.ID = len(nodes)
		nodes = append(nodes, &cp)
	}
	g.Nodes = nodes
}

// stage builds the repartition stage of one cut and the source node of the
// main graph that reads its topic.
func (sp *splitter) stage(c cut) (*dag.Stage, *dag.Node) {
	g := sp.g
	edge := sp.byID[c.from]
	spec := sp.byID[sp.chainSource(c.from)].Source
	topic := c.topic
	sg := &dag.Graph{Name: c.name, Parallelism: g.Parallelism}

	// The stateless chain from the source to the cut, in order.
	var chain []*dag.Node
	for id := c.from; ; id = sp.byID[id].Inputs[0] {
		chain = append(chain, sp.byID[id])
		if sp.byID[id].Kind == dag.KindSource {
			break
		}
	}
	slices.Reverse(chain)
	for i, n := range chain {
		cp := *n
		cp.ID = i
		if i > 0 {
			cp.Inputs = []int{i - 1}
		}
		sg.Nodes = append(sg.Nodes, &cp)
	}

	// The projection writes the edge's columns, pseudo-columns renamed so
	// that the reading source decodes them from the record's value, then
	// the key columns.
	proj := &dag.Node{ID: len(sg.Nodes), Kind: dag.KindProject, Inputs: []int{len(sg.Nodes) - 1}, TimeCol: edge.TimeCol}
	var declared dag.Schema
	for i, col := range edge.Schema {
		out := col.Name
		if col.Pseudo {
			switch {
			case col.Name == "_timestamp" && i == edge.TimeCol:
				out = timeColumn
			case col.Name == "_timestamp":
				out = timestampColumn
			case col.Name == "_key":
				out = recordKeyColumn
			}
		}
		proj.Exprs = append(proj.Exprs, dag.ColRef(i, col.Type, col.Name))
		proj.Schema = append(proj.Schema, dag.Column{Name: out, Type: col.Type})
		declared = append(declared, dag.Column{Name: out, Type: col.Type})
	}
	var keyNames []string
	for i, k := range c.keys {
		kn := keyColumn
		if len(c.keys) > 1 {
			kn = keyColumn + "_" + strconv.Itoa(i)
		}
		keyNames = append(keyNames, kn)
		proj.Exprs = append(proj.Exprs, k)
		proj.Schema = append(proj.Schema, dag.Column{Name: kn, Type: k.Type})
	}
	sg.Nodes = append(sg.Nodes, proj)

	sinkOpts := map[string]string{
		"topic": topic, "format": "json", "delivery": "exactly_once",
		"key": strings.Join(keyNames, ", "), "partitions": strconv.Itoa(g.Parallelism),
	}
	srcOpts := map[string]string{"topic": topic, "format": "json", "start": "earliest", "partitions": strconv.Itoa(g.Parallelism)}
	for _, k := range sourceOptions {
		if v, ok := spec.Options[k]; ok {
			sinkOpts[k], srcOpts[k] = v, v
		}
	}
	for _, k := range []string{"group_id", "idle_timeout"} {
		if v, ok := spec.Options[k]; ok {
			srcOpts[k] = v
		}
	}
	sg.Nodes = append(sg.Nodes, &dag.Node{ID: len(sg.Nodes), Kind: dag.KindSink, Inputs: []int{proj.ID}, Schema: slices.Clone(proj.Schema), TimeCol: proj.TimeCol,
		Sink: &dag.SinkSpec{Name: topic, Connector: "kafka", Options: sinkOpts}})

	watermark := ""
	if edge.TimeCol >= 0 {
		watermark = declared[edge.TimeCol].Name
	}
	src := &dag.Node{Kind: dag.KindSource, Schema: slices.Clone(declared), TimeCol: edge.TimeCol, Source: &dag.SourceSpec{
		Name: spec.Name, Connector: "kafka", Options: srcOpts, Declared: declared,
		Watermark: watermark, WatermarkDelay: spec.WatermarkDelay, IdleTimeout: spec.IdleTimeout,
	}}
	return &dag.Stage{Graph: sg, Topic: topic, Source: spec.Name, Keys: c.texts}, src
}
