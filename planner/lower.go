package planner

import (
	"slices"
	"strings"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// stage is the top of the graph being built: a node and the column IDs of
// its schema, in order.
type stage struct {
	node *dag.Node
	ids  []int
}

type lowering struct {
	q    *query
	g    *dag.Graph
	used []bool
	pos  []int // scratch: column ID → position in the current input
}

func (l *lowering) add(n *dag.Node, inputs ...*dag.Node) *dag.Node {
	n.ID = len(l.g.Nodes)
	for _, in := range inputs {
		n.Inputs = append(n.Inputs, in.ID)
	}
	l.g.Nodes = append(l.g.Nodes, n)
	return n
}

// positions fills l.pos for a stage's schema and returns it.
func (l *lowering) positions(ids []int) []int {
	for i := range l.pos {
		l.pos[i] = -1
	}
	for i, id := range ids {
		l.pos[id] = i
	}
	return l.pos
}

// remap copies a bound expression with column IDs turned into positions.
func remap(e *dag.Expr, pos []int) *dag.Expr {
	if e == nil {
		return nil
	}
	cp := *e
	if e.Op == dag.OpColumn {
		cp.Col = pos[e.Col]
	}
	if len(e.Args) > 0 {
		cp.Args = make([]*dag.Expr, len(e.Args))
		for i, a := range e.Args {
			cp.Args[i] = remap(a, pos)
		}
	}
	return &cp
}

func (l *lowering) mark(es ...*dag.Expr) {
	for _, e := range es {
		if e == nil {
			continue
		}
		if e.Op == dag.OpColumn && e.Col < len(l.used) {
			l.used[e.Col] = true
		}
		l.mark(e.Args...)
	}
}

// conj joins conjuncts into one predicate.
func conj(es []*dag.Expr) *dag.Expr {
	if len(es) == 1 {
		return es[0]
	}
	var args []*dag.Expr
	texts := make([]string, len(es))
	null := false
	for i, e := range es {
		if e.Op == dag.OpAnd {
			args = append(args, e.Args...)
		} else {
			args = append(args, e)
		}
		texts[i] = e.Text
		null = null || e.Type.Nullable
	}
	return &dag.Expr{Op: dag.OpAnd, Type: dag.T(dag.Bool).WithNull(null), Args: args, Text: strings.Join(texts, " AND ")}
}

// lower builds the graph of a bound query: per source the source node,
// its dedups and pushed-down filters; then the join and the filters above
// it; then the window; then the projection of the output.
func (q *query) lower(name string) *dag.Graph {
	l := &lowering{q: q, g: &dag.Graph{Name: name}, used: make([]bool, len(q.cols)), pos: make([]int, len(q.cols))}
	q.nodeAt = map[int]sql.Node{}
	for _, s := range q.sides {
		l.used[s.timeID] = true
		for _, d := range s.dedups {
			l.mark(d.keys...)
		}
		l.mark(s.filters...)
	}
	l.markAboveSides()

	var tops []stage
	for _, s := range q.sides {
		tops = append(tops, l.side(s))
	}
	top := tops[0]
	if q.join != nil {
		// A join keeps rows in its state, so columns that only the
		// dedups and pushed-down filters needed are dropped before it.
		above := l.usedAboveJoin()
		for i, s := range q.sides {
			tops[i] = l.narrow(tops[i], s, above)
		}
		top = l.joinStage(tops[0], tops[1])
	}
	if len(q.above) > 0 {
		top = l.filter(top, q.above)
	}
	if q.window != nil {
		top = l.windowStage(top)
	}
	top = l.project(top)
	if q.limit >= 0 {
		n := l.add(&dag.Node{Kind: dag.KindLimit, Schema: slices.Clone(top.node.Schema), TimeCol: top.node.TimeCol, Limit: q.limit}, top.node)
		top = stage{n, top.ids}
	}
	return l.g
}

// markAboveSides marks the columns read above the sources' own stages:
// by the join, the filters above it, the window and the output.
func (l *lowering) markAboveSides() {
	q := l.q
	if q.join != nil {
		l.mark(q.join.lkeys...)
		l.mark(q.join.rkeys...)
		l.mark(q.join.residual...)
	}
	l.mark(q.above...)
	if w := q.window; w != nil {
		l.mark(w.keys...)
		for _, a := range w.aggs {
			l.mark(a.agg.Arg)
		}
	}
	for _, o := range q.out {
		l.mark(o.e)
	}
}

// usedAboveJoin marks the columns the join and everything above it read.
func (l *lowering) usedAboveJoin() []bool {
	q := l.q
	saved := l.used
	l.used = make([]bool, len(q.cols))
	for _, s := range q.sides {
		l.used[s.timeID] = true
	}
	l.markAboveSides()
	above := l.used
	l.used = saved
	return above
}

// narrow projects a join input onto the columns needed above it, when
// some are not.
func (l *lowering) narrow(in stage, s *side, needed []bool) stage {
	var ids []int
	for _, id := range in.ids {
		if needed[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) == len(in.ids) {
		return in
	}
	pos := l.positions(in.ids)
	n := &dag.Node{Kind: dag.KindProject}
	for _, id := range ids {
		c := in.node.Schema[pos[id]]
		n.Exprs = append(n.Exprs, dag.ColRef(pos[id], c.Type, exprQual(s, c.Name, true)))
		n.Schema = append(n.Schema, dag.Column{Name: c.Name, Type: c.Type})
	}
	n.TimeCol = slices.Index(ids, s.timeID)
	l.add(n, in.node)
	return stage{n, ids}
}

func (l *lowering) side(s *side) stage {
	q := l.q
	var ids []int
	var schema dag.Schema
	for _, id := range s.ids {
		if l.used[id] {
			ids = append(ids, id)
			schema = append(schema, q.cols[id].col)
		}
	}
	timeCol := slices.Index(ids, s.timeID)
	n := l.add(&dag.Node{Kind: dag.KindSource, Schema: schema, TimeCol: timeCol, Source: s.spec})
	top := stage{n, ids}
	for _, d := range s.dedups {
		pos := l.positions(ids)
		keys := make([]*dag.Expr, len(d.keys))
		for i, k := range d.keys {
			keys[i] = remap(k, pos)
		}
		n := l.add(&dag.Node{Kind: dag.KindDedup, Schema: slices.Clone(schema), TimeCol: timeCol, StateTTL: d.within,
			Dedup: &dag.DedupSpec{Keys: keys, Within: d.within}}, top.node)
		if d.at != nil {
			q.nodeAt[n.ID] = d.at
		}
		top = stage{n, ids}
	}
	if len(s.filters) > 0 {
		top = l.filter(top, s.filters)
	}
	return top
}

func (l *lowering) filter(in stage, conjs []*dag.Expr) stage {
	pos := l.positions(in.ids)
	n := l.add(&dag.Node{Kind: dag.KindFilter, Schema: slices.Clone(in.node.Schema), TimeCol: in.node.TimeCol,
		Predicate: remap(conj(conjs), pos)}, in.node)
	return stage{n, in.ids}
}

func (l *lowering) joinStage(left, right stage) stage {
	j := l.q.join
	spec := &dag.JoinSpec{Type: j.typ, Within: j.within, LeftTime: left.node.TimeCol, RightTime: right.node.TimeCol}
	pos := l.positions(left.ids)
	for _, k := range j.lkeys {
		spec.LeftKeys = append(spec.LeftKeys, remap(k, pos))
	}
	pos = l.positions(right.ids)
	for _, k := range j.rkeys {
		spec.RightKeys = append(spec.RightKeys, remap(k, pos))
	}
	ids := append(slices.Clone(left.ids), right.ids...)
	schema := slices.Clone(left.node.Schema)
	for _, c := range right.node.Schema {
		if j.typ == dag.Left {
			c.Type.Nullable = true
		}
		schema = append(schema, c)
	}
	if len(j.residual) > 0 {
		spec.Residual = remap(conj(j.residual), l.positions(ids))
	}
	// A joined row carries the left row's time: the left side is the
	// stream being enriched, and a LEFT join emits unmatched left rows at
	// their own time.
	n := l.add(&dag.Node{Kind: dag.KindJoin, Schema: schema, TimeCol: left.node.TimeCol, StateTTL: j.within, Join: spec}, left.node, right.node)
	return stage{n, ids}
}

func (l *lowering) windowStage(in stage) stage {
	q, w := l.q, l.q.window
	pos := l.positions(in.ids)
	spec := &dag.WindowSpec{Kind: w.kind, TimeCol: pos[w.timeID], Size: w.size, Slide: w.slide}
	var ids []int
	var schema dag.Schema
	for i, k := range w.keys {
		spec.Keys = append(spec.Keys, remap(k, pos))
		ids = append(ids, w.keyIDs[i])
		schema = append(schema, dag.Column{Name: q.cols[w.keyIDs[i]].name, Type: k.Type})
	}
	ids = append(ids, w.startID, w.endID)
	schema = append(schema,
		dag.Column{Name: "window_start", Type: q.cols[w.startID].typ},
		dag.Column{Name: "window_end", Type: q.cols[w.endID].typ})
	for _, a := range w.aggs {
		agg := a.agg
		agg.Arg = remap(agg.Arg, pos)
		spec.Aggs = append(spec.Aggs, agg)
		ids = append(ids, a.id)
		schema = append(schema, dag.Column{Name: agg.Text, Type: agg.Type})
	}
	if w.having != nil {
		spec.Having = remap(w.having, l.positions(ids))
	}
	n := l.add(&dag.Node{Kind: dag.KindWindow, Schema: schema, TimeCol: slices.Index(ids, w.endID), StateTTL: w.size, Window: spec}, in.node)
	return stage{n, ids}
}

func (l *lowering) project(in stage) stage {
	pos := l.positions(in.ids)
	n := &dag.Node{Kind: dag.KindProject, TimeCol: -1}
	for i, o := range l.q.out {
		e := remap(o.e, pos)
		if n.TimeCol < 0 && e.Op == dag.OpColumn && e.Col == in.node.TimeCol && in.node.TimeCol >= 0 {
			n.TimeCol = i
		}
		n.Exprs = append(n.Exprs, e)
		n.Schema = append(n.Schema, dag.Column{Name: o.name, Type: o.e.Type})
	}
	l.add(n, in.node)
	return stage{n, nil}
}
