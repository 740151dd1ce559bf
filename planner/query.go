package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// query is one SELECT being planned: its sources, the bound parts of each
// clause, and then the graph lowered from them.
//
// The logical plan is the set of bound parts, already placed where the
// rules put them: each DEDUPLICATE BY on its source, each WHERE or ON
// conjunct on the side it may be pushed to, the rest above the join, the
// window and its HAVING, then the output. Lowering walks it bottom-up.
type query struct {
	cat    Catalog
	errs   *sql.ErrorList
	failed map[string]bool // objects whose CREATE failed earlier in the script

	cols   []colInfo
	sides  []*side
	join   *joinPlan
	above  []*dag.Expr // WHERE conjuncts that stay above the join
	window *windowState
	out    []outCol
	limit  int64 // -1 without LIMIT
	// windowless is set when GROUP BY has no window, which is reported
	// once; aggregates in SELECT then add no error of their own.
	windowless bool
	texts      map[sql.Expr]string    // see text
	bound      map[boundKey]*dag.Expr // see bindLeftSpine
	scratch    *textBuilder           // reused by render
	sizes      map[sql.Expr]int       // see astSize
	stop       *budget                // nil: planning is not bounded
	// nodeAt holds, by node ID of the lowered graph, the clause a dedup
	// node comes from (for errors about the plan as a whole).
	nodeAt map[int]sql.Node
}

// side is one source of the query, FROM (0) or JOIN (1).
type side struct {
	qual    string // how columns are qualified: the alias, else the name
	obj     *Object
	spec    *dag.SourceSpec
	ids     []int // declared columns, then pseudo-columns
	timeID  int
	dedups  []dedupPlan
	filters []*dag.Expr // conjuncts pushed below the join
}

type dedupPlan struct {
	keys   []*dag.Expr
	within time.Duration
	at     *sql.Dedup // the clause, for the node's source range
}

type joinPlan struct {
	typ          dag.JoinType
	within       time.Duration
	lkeys, rkeys []*dag.Expr
	residual     []*dag.Expr
}

type windowState struct {
	kind           dag.WindowKind
	timeID         int
	size, slide    time.Duration
	keys           []*dag.Expr
	keyIDs         []int
	maxKeySize     int // nodes of the largest bound key
	startID, endID int
	aggs           []windowAgg
	having         *dag.Expr
}

type windowAgg struct {
	id  int
	agg dag.Agg
}

func (w *windowState) keyList() string {
	if len(w.keys) == 0 {
		return "(only the window)"
	}
	ts := make([]string, len(w.keys))
	for i, k := range w.keys {
		ts[i] = k.Text
	}
	return strings.Join(ts, ", ")
}

type outCol struct {
	name string
	e    *dag.Expr
	at   sql.Node // the alias, else the expression: where the name comes from
	expr sql.Node // the expression (or the *), where the value comes from
}

func newQuery(cat Catalog, errs *sql.ErrorList, failed map[string]bool, stop *budget) *query {
	return &query{cat: cat, errs: errs, failed: failed, limit: -1, stop: stop}
}

func (q *query) addCol(c colInfo) int {
	q.cols = append(q.cols, c)
	return len(q.cols) - 1
}

func (q *query) leftJoin() bool { return q.join != nil && q.join.typ == dag.Left }

// timeName names the FROM source's time attribute, for hints.
func (q *query) timeName() string {
	if len(q.sides) == 0 {
		return "ts"
	}
	return exprQual(q.sides[0], q.cols[q.sides[0].timeID].name, len(q.sides) > 1)
}

func exprQual(s *side, name string, qualify bool) string {
	if qualify {
		return s.qual + "." + name
	}
	return name
}

// pseudoFor returns the pseudo-columns a connector declares for its
// sources (Kafka has all of them; a generator stamps each row with the time
// it made it), in the order of dag.PseudoColumns.
// PseudoColumns returns the pseudo-columns a source of the connector
// provides, beside its declared columns.
func PseudoColumns(connector string) dag.Schema { return pseudoFor(connector) }

func pseudoFor(name string) dag.Schema {
	c, ok := connector.Lookup(name)
	if !ok {
		return dag.PseudoColumns[4:] // every record has a time
	}
	var out dag.Schema
	for _, p := range dag.PseudoColumns {
		if slices.Contains(c.Pseudo, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// addSide resolves a FROM or JOIN source.
func (q *query) addSide(ref sql.TableRef) *side {
	obj, ok := q.cat.Lookup(ref.Name.Name)
	if !ok {
		if !q.failed[key(ref.Name.Name)] {
			objectFix(q.errs.Add(ref.Name.P, objectHint(ref.Name.Name, q.cat, sql.ObjSource), "unknown source %q", ref.Name.Name), ref.Name.Name, q.cat, sql.ObjSource)
		}
		return nil
	}
	if obj.Kind != sql.ObjSource {
		q.errs.AddNode(ref.Name, objectHint(ref.Name.Name, q.cat, sql.ObjSource), "%q is a %s, not a source", obj.Name, strings.ToLower(string(obj.Kind)))
		return nil
	}
	s := &side{qual: obj.Name, obj: obj, spec: obj.Source, timeID: -1}
	if ref.Alias != nil {
		s.qual = ref.Alias.Name
	}
	n := len(q.sides)
	for _, c := range s.spec.Declared {
		s.ids = append(s.ids, q.addCol(colInfo{name: c.Name, typ: c.Type, side: n, col: c}))
	}
	for _, c := range pseudoFor(s.spec.Connector) {
		s.ids = append(s.ids, q.addCol(colInfo{name: c.Name, typ: c.Type, side: n, col: c}))
	}
	tname := s.spec.Watermark
	if tname == "" {
		tname = "_timestamp"
	}
	s.timeID = q.lookupCol(s, tname)
	if s.timeID < 0 {
		// Only a definition that bypassed CREATE SOURCE's checks (a
		// damaged store) gets here.
		q.errs.Add(ref.Name.P, "replace the source with CREATE OR REPLACE SOURCE", "source %q has no time attribute %q", obj.Name, tname)
		return nil
	}
	q.sides = append(q.sides, s)
	return s
}

// objectHint suggests close names among the objects of the given kinds and
// lists them.
func objectHint(name string, cat Catalog, kinds ...sql.ObjectKind) string {
	all := names(cat, kinds...)
	plural := "objects"
	if len(kinds) == 1 {
		plural = strings.ToLower(string(kinds[0])) + "s"
	}
	if len(all) == 0 {
		if len(kinds) == 1 {
			return fmt.Sprintf("there are no %s yet: CREATE %s first", plural, kinds[0])
		}
		return "the catalog is empty"
	}
	hint := plural + ": " + strings.Join(all, ", ")
	if s := sql.Suggest(name, all); len(s) > 0 {
		hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
	}
	return hint
}

// splitAnd splits a condition into its top-level conjuncts.
func splitAnd(e sql.Expr) []sql.Expr {
	switch x := e.(type) {
	case *sql.Binary:
		if strings.EqualFold(x.Op, "AND") {
			return append(splitAnd(x.L), splitAnd(x.R)...)
		}
	case *sql.Paren:
		if b, ok := x.X.(*sql.Binary); ok && strings.EqualFold(b.Op, "AND") {
			return splitAnd(b)
		}
	}
	return []sql.Expr{e}
}

// sidesOf returns which sides a bound expression reads: bit 0 for FROM,
// bit 1 for JOIN.
func (q *query) sidesOf(e *dag.Expr) int {
	m := 0
	if e.Op == dag.OpColumn && e.Col < len(q.cols) && q.cols[e.Col].side >= 0 {
		m |= 1 << q.cols[e.Col].side
	}
	for _, a := range e.Args {
		m |= q.sidesOf(a)
	}
	return m
}

func (q *query) needBool(e *dag.Expr, at sql.Node, clause string) bool {
	if isBad(e) {
		return false
	}
	if e.Type.Kind != dag.Bool && e.Type.Kind != dag.Null {
		q.errs.AddNode(at, "write a condition, e.g. x > 0", "%s needs a Bool condition, got %s", clause, e.Type)
		return false
	}
	return true
}

// bindSelect binds every clause of sel. It returns false when there were
// errors.
func (q *query) bindSelect(sel *sql.Select, preview bool) bool {
	n := len(*q.errs)
	l := q.addSide(sel.From)
	var r *side
	if sel.Join != nil {
		r = q.addSide(sel.Join.Right)
	}
	if l == nil || (sel.Join != nil && r == nil) {
		return false
	}
	if r != nil && strings.EqualFold(l.qual, r.qual) {
		q.errs.Add(sel.Join.Right.Name.P, fmt.Sprintf("give each an alias: FROM %s AS a JOIN %s AS b", l.obj.Name, r.obj.Name), "%q appears on both sides of the join", r.qual)
		return false
	}
	if sel.Join != nil {
		q.bindJoin(sel.Join)
	}
	for i := range sel.Dedups {
		q.bindDedup(&sel.Dedups[i])
	}
	if sel.Where != nil {
		q.bindWhere(sel.Where)
	}
	q.bindGroupBy(sel)
	q.bindItems(sel)
	if sel.Having != nil && q.window != nil {
		c := &bctx{clause: "HAVING", nullRight: q.leftJoin(), post: q.window}
		h := q.bind(sel.Having, c)
		if q.needBool(h, sel.Having, "HAVING") {
			q.window.having = h
		}
	}
	if sel.Limit != nil {
		switch {
		case !preview:
			q.errs.AddNode(sel.Limit, "a pipeline runs until it is stopped; remove LIMIT, or preview with a plain SELECT", "LIMIT is only allowed in a preview SELECT")
		case sel.Limit.N < 0:
			q.errs.AddNode(sel.Limit, "", "LIMIT must not be negative")
		default:
			q.limit = sel.Limit.N
		}
	}
	return len(*q.errs) == n
}

func (q *query) bindJoin(j *sql.Join) {
	jp := &joinPlan{typ: dag.Inner}
	if j.Kind == sql.JoinLeft {
		jp.typ = dag.Left
	}
	q.join = jp
	if j.Within == nil {
		q.errs.AddNode(j, "add WITHIN INTERVAL 1 HOUR (how far apart the two rows' times may be) after the ON condition", "JOIN needs WITHIN INTERVAL: an interval join keeps each row only that long")
	} else if d, ok := q.interval(j.Within, "the JOIN interval", false); ok {
		jp.within = d
	}
	if j.On == nil {
		q.errs.AddNode(j, "write ON a.k = b.k", "JOIN needs an ON condition")
		return
	}
	c := &bctx{clause: "ON"}
	bd := false
	for _, conj := range splitAnd(j.On) {
		e := q.bind(conj, c)
		if !q.needBool(e, conj, "ON") {
			bd = true
			continue
		}
		if e.Op == dag.OpEq {
			a, b := q.sidesOf(e.Args[0]), q.sidesOf(e.Args[1])
			switch {
			case a == 1 && b == 2:
				jp.lkeys, jp.rkeys = append(jp.lkeys, e.Args[0]), append(jp.rkeys, e.Args[1])
				continue
			case a == 2 && b == 1:
				jp.lkeys, jp.rkeys = append(jp.lkeys, e.Args[1]), append(jp.rkeys, e.Args[0])
				continue
			}
		}
		// A condition on one side only decides which of that side's rows
		// can match, so it filters them before the join, except on the
		// preserved (left) side of a LEFT join, whose rows are all emitted.
		switch m := q.sidesOf(e); {
		case m == 2:
			q.sides[1].filters = append(q.sides[1].filters, e)
		case m == 1 && jp.typ == dag.Inner:
			q.sides[0].filters = append(q.sides[0].filters, e)
		default:
			jp.residual = append(jp.residual, e)
		}
	}
	if len(jp.lkeys) == 0 && !bd {
		l, r := q.sides[0], q.sides[1]
		q.errs.AddNode(j.On, fmt.Sprintf("an interval join matches on keys: add an equality such as %s.%s = %s.%s", l.qual, q.cols[l.ids[0]].name, r.qual, q.cols[r.ids[0]].name), "JOIN ON needs an equality between columns of %q and %q", l.qual, r.qual)
	}
}

func (q *query) bindDedup(d *sql.Dedup) {
	dp := dedupPlan{at: d}
	if d.Within == nil {
		q.errs.AddNode(d, "add WITHIN INTERVAL 10 MINUTE: how long a key is remembered", "DEDUPLICATE BY needs WITHIN INTERVAL")
	} else if w, ok := q.interval(d.Within, "the DEDUPLICATE interval", false); ok {
		dp.within = w
	}
	c := &bctx{clause: "DEDUPLICATE BY"}
	m, bd := 0, false
	for _, k := range d.Keys {
		e := q.bind(k, c)
		if isBad(e) {
			bd = true
			continue
		}
		m |= q.sidesOf(e)
		dp.keys = append(dp.keys, e)
	}
	switch {
	case bd:
		return
	case m == 3:
		q.errs.AddNode(d, "a dedup applies to one source before the join: write one DEDUPLICATE BY per source", "DEDUPLICATE BY mixes columns of %q and %q", q.sides[0].qual, q.sides[1].qual)
	case m == 0:
		q.errs.AddNode(d, "deduplicate by columns of the source, e.g. DEDUPLICATE BY id WITHIN INTERVAL 10 MINUTE", "DEDUPLICATE BY keys must refer to columns of a source")
	default:
		s := q.sides[m>>1]
		s.dedups = append(s.dedups, dp)
	}
}

func (q *query) bindWhere(w sql.Expr) {
	c := &bctx{clause: "WHERE", nullRight: q.leftJoin()}
	for _, conj := range splitAnd(w) {
		e := q.bind(conj, c)
		if !q.needBool(e, conj, "WHERE") {
			continue
		}
		m := q.sidesOf(e)
		switch {
		case q.join == nil:
			q.sides[0].filters = append(q.sides[0].filters, e)
		case m == 1:
			q.sides[0].filters = append(q.sides[0].filters, e)
		case m == 2 && q.join.typ == dag.Inner:
			q.sides[1].filters = append(q.sides[1].filters, e)
		default:
			// Above a LEFT join a right-side condition sees the NULLs of
			// unmatched rows, so it cannot move below.
			q.above = append(q.above, e)
		}
	}
}

func (q *query) bindGroupBy(sel *sql.Select) {
	if len(sel.GroupBy) == 0 {
		if sel.Having != nil {
			q.errs.AddNode(havingWord(sel), fmt.Sprintf("HAVING filters the groups of a windowed aggregate: add GROUP BY TUMBLE(%s, INTERVAL 1 MINUTE), or filter rows with WHERE", q.timeName()), "HAVING without GROUP BY")
		}
		return
	}
	var win *sql.Call
	var keys []sql.Expr
	for _, g := range sel.GroupBy {
		if c, ok := g.(*sql.Call); ok && (strings.EqualFold(c.Name, "TUMBLE") || strings.EqualFold(c.Name, "HOP")) {
			if win != nil {
				q.errs.AddNode(c, "", "GROUP BY has more than one window")
				continue
			}
			win = c
			continue
		}
		keys = append(keys, g)
	}
	if win == nil {
		q.windowless = true
		q.errs.AddNode(sel.GroupBy[0], fmt.Sprintf("streaming aggregates are computed per window: GROUP BY TUMBLE(%s, INTERVAL 1 MINUTE), …", q.timeName()), "GROUP BY needs a TUMBLE or HOP window")
		return
	}
	w := &windowState{timeID: -1}
	q.window = w
	c := &bctx{clause: "GROUP BY", nullRight: q.leftJoin()}
	name := strings.ToUpper(win.Name)
	timeType := dag.Timestamp
	want := 2
	w.kind = dag.Tumble
	if name == "HOP" {
		want, w.kind = 3, dag.Hop
	}
	if len(win.Args) != want {
		form := "TUMBLE(time_col, INTERVAL size unit)"
		if name == "HOP" {
			form = "HOP(time_col, INTERVAL slide unit, INTERVAL size unit)"
		}
		q.errs.AddNode(win, "write "+form, "%s takes %d arguments, got %d", name, want, len(win.Args))
	} else {
		t := q.bind(win.Args[0], c)
		switch {
		case isBad(t):
		case t.Op != dag.OpColumn || !t.Type.Kind.IsTime():
			q.errs.AddNode(win.Args[0], "windows are measured on the time attribute: "+q.timeAttrs(), "%s needs the time attribute of a source, got %s", name, t.Type)
		case !q.isTimeAttr(t.Col):
			q.errs.AddNode(win.Args[0], "declare WATERMARK FOR "+q.cols[t.Col].name+" in the source to window on it; time attributes here: "+q.timeAttrs(), "%s must use the time attribute of a source, and %s is not one", name, t.Text)
		default:
			w.timeID = t.Col
			timeType = t.Type.WithNull(false)
		}
		ivs := make([]time.Duration, 0, 2)
		for i, a := range win.Args[1:] {
			iv, ok := a.(*sql.IntervalLit)
			if !ok {
				q.errs.AddNode(a, "write INTERVAL n unit", "%s needs an INTERVAL", name)
				continue
			}
			what := "the window size"
			if w.kind == dag.Hop && i == 0 {
				what = "the HOP slide"
			}
			if d, ok := q.interval(&iv.Interval, what, false); ok {
				ivs = append(ivs, d)
			}
		}
		if len(ivs) == want-1 {
			w.size, w.slide = ivs[len(ivs)-1], ivs[0]
			if w.slide > w.size {
				q.errs.AddNode(win.Args[1], "the slide is how often a window starts; it must not exceed the size", "HOP slide %s is longer than its size %s", durText(w.slide), durText(w.size))
			}
		}
	}
	for _, k := range keys {
		e := q.bind(k, c)
		if isBad(e) {
			continue
		}
		name := e.Text
		if e.Op == dag.OpColumn {
			name = q.cols[e.Col].name
		}
		w.maxKeySize = max(w.maxKeySize, dagSize(e))
		w.keys = append(w.keys, e)
		w.keyIDs = append(w.keyIDs, q.addCol(colInfo{name: name, typ: e.Type, side: -1}))
	}
	w.startID = q.addCol(colInfo{name: "window_start", typ: timeType, side: -1})
	w.endID = q.addCol(colInfo{name: "window_end", typ: timeType, side: -1})
}

func (q *query) isTimeAttr(id int) bool {
	for _, s := range q.sides {
		if s.timeID == id {
			return true
		}
	}
	return false
}

func (q *query) timeAttrs() string {
	var out []string
	for _, s := range q.sides {
		out = append(out, exprQual(s, q.cols[s.timeID].name, len(q.sides) > 1))
	}
	return strings.Join(out, ", ")
}

func (q *query) bindItems(sel *sql.Select) {
	c := &bctx{clause: "SELECT", nullRight: q.leftJoin(), post: q.window}
	seen := map[string]sql.Pos{}
	add := func(name string, e *dag.Expr, at, expr sql.Node) {
		if isBad(e) {
			return
		}
		if first, dup := seen[strings.ToLower(name)]; dup {
			q.errs.AddNode(at, fmt.Sprintf("the first is at %d:%d; give one of them another name with AS", first.Line, first.Col), "duplicate output column %q", name)
			return
		}
		seen[strings.ToLower(name)] = at.Pos()
		q.out = append(q.out, outCol{name: name, e: e, at: at, expr: expr})
	}
	for _, it := range sel.Items {
		if it.Star {
			star := sql.Keywords{P: it.StarPos, Last: "*"}
			if q.window != nil {
				q.errs.AddNode(star, "select the GROUP BY keys, window_start, window_end and aggregates by name", "* cannot be used with GROUP BY")
				continue
			}
			var sides []*side
			if it.StarQualifier != "" {
				s := q.sideByQual(it.StarQualifier)
				if s == nil {
					q.errs.Add(it.StarPos, "sources in this query: "+strings.Join(q.qualifiers(), ", "), "unknown source or alias %q", it.StarQualifier)
					continue
				}
				sides = []*side{s}
			} else {
				sides = q.sides
			}
			for _, s := range sides {
				for i, dc := range s.spec.Declared {
					id := s.ids[i]
					t := q.cols[id].typ
					if q.leftJoin() && q.cols[id].side == 1 {
						t.Nullable = true
					}
					add(dc.Name, &dag.Expr{Op: dag.OpColumn, Col: id, Type: t, Text: exprQual(s, dc.Name, len(q.sides) > 1)}, star, star)
				}
			}
			continue
		}
		e := q.bind(it.Expr, c)
		var at sql.Node = it.Expr
		var name string
		switch x := it.Expr.(type) {
		case *sql.ColumnRef:
			name = x.Name
		default:
			name = q.text(it.Expr)
		}
		if it.Alias != nil {
			name, at = it.Alias.Name, *it.Alias
		}
		add(name, e, at, it.Expr)
	}
}

// sinkColumns maps the output onto the sink: by name with an INSERT column
// list, by position onto the declared columns without one, or, when the
// sink declared none, the output defines it. Values are cast to the
// declared types where that widens.
func (q *query) sinkColumns(ins *sql.Insert, sink *Object) {
	declared := sink.Sink.Declared
	var listed []int // index into declared (or into out) for each out column
	if len(ins.Columns) > 0 {
		seen := map[string]bool{}
		for _, c := range ins.Columns {
			if seen[strings.ToLower(c.Name)] {
				q.errs.AddNode(c, "", "column %q is listed twice", c.Name)
				return
			}
			seen[strings.ToLower(c.Name)] = true
			if len(declared) > 0 {
				i := declared.Index(c.Name)
				if i < 0 {
					hint := fmt.Sprintf("columns of sink %q: %s", sink.Name, strings.Join(declared.Names(), ", "))
					s := sql.Suggest(c.Name, declared.Names())
					if len(s) > 0 {
						hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
					}
					err := q.errs.AddNode(c, hint, "unknown column %q in sink %q", c.Name, sink.Name)
					if len(s) > 0 {
						replaceWith(err, sql.QuoteIdent(s[0]), s[0])
					}
					return
				}
				listed = append(listed, i)
			}
		}
		if len(ins.Columns) != len(q.out) {
			q.errs.AddNode(ins, "list one sink column per output column, in the same order", "INSERT lists %d columns but the SELECT produces %d", len(ins.Columns), len(q.out))
			return
		}
	}
	if len(declared) == 0 {
		for i := range q.out {
			if len(ins.Columns) > 0 {
				q.out[i].name = ins.Columns[i].Name
			}
			q.out[i].e = outputValue(q.out[i].e)
		}
		return
	}
	if listed == nil {
		if len(q.out) != len(declared) {
			q.errs.AddNode(ins, fmt.Sprintf("columns of sink %q: %s; or name the columns: INSERT INTO %s (col, …)", sink.Name, declared, sink.Name), "the SELECT produces %d columns but sink %q has %d", len(q.out), sink.Name, len(declared))
			return
		}
		for i := range q.out {
			listed = append(listed, i)
		}
	}
	final := make([]outCol, len(declared))
	for i, di := range listed {
		o := q.out[i]
		dc := declared[di]
		t := o.e.Type
		switch {
		case !assignable(t, dc.Type):
			q.errs.AddNode(o.expr, fmt.Sprintf("write CAST(%s AS %s)", o.e.Text, dc.Type.Base()), "column %q is %s, which does not fit sink column %q %s", o.name, t, dc.Name, dc.Type)
			continue
		case t.Nullable && !dc.Type.Nullable:
			q.errs.AddNode(o.expr, fmt.Sprintf("give a default: COALESCE(%s, …)", o.e.Text), "column %q may be NULL but sink column %q is NOT NULL", o.name, dc.Name)
			continue
		}
		final[di] = outCol{name: dc.Name, e: castTo(o.e, dc.Type), at: o.at, expr: o.expr}
	}
	for i, dc := range declared {
		if final[i].e != nil {
			continue
		}
		if !dc.Type.Nullable && len(listed) < len(declared) && !slices.Contains(listed, i) {
			q.errs.Add(ins.Sink.P, fmt.Sprintf("add %s to the INSERT column list", dc.Name), "sink column %q is NOT NULL and gets no value", dc.Name)
			continue
		}
		final[i] = outCol{name: dc.Name, e: &dag.Expr{Op: dag.OpConst, Type: dc.Type.WithNull(true), Value: dag.Value{Null: true}, Text: "NULL"}}
	}
	q.out = final
}

// outputValue gives a bare NULL a type a table can store.
func outputValue(e *dag.Expr) *dag.Expr {
	if e.Type.Kind == dag.Null {
		return castTo(e, dag.T(dag.String).WithNull(true))
	}
	return e
}
