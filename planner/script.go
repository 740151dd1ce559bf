package planner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// ChangeOp is what a change does to the catalog.
type ChangeOp string

// The change operations.
const (
	OpCreate  ChangeOp = "create"
	OpReplace ChangeOp = "replace"
	OpDrop    ChangeOp = "drop"
	OpStart   ChangeOp = "start"
	OpStop    ChangeOp = "stop"
)

// Change is one change to the catalog. For a pipeline, create, replace,
// start and stop also tell the server which pipelines to (re)start or stop.
type Change struct {
	Op     ChangeOp
	Kind   sql.ObjectKind
	Name   string
	Object *Object // the new definition for create and replace; the object for start and stop
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s %s", c.Op, strings.ToLower(string(c.Kind)), c.Name)
}

// Step is the outcome of one statement of a checked script.
type Step struct {
	Stmt sql.Stmt
	// Changes to apply, in order. Replacing a source or sink also replans
	// the pipelines that use it, which adds a replace for each.
	Changes []Change
	// Result is the table that SHOW, DESCRIBE and EXPLAIN produce.
	Result *Result
	// Preview is the plan of a SELECT: its last node is the rows to show.
	Preview *dag.Graph
	// Notice says why a statement changed nothing (IF NOT EXISTS on an
	// existing object, DROP IF EXISTS of a missing one).
	Notice string
}

// Changes collects the changes of all steps, in order.
func Changes(steps []Step) []Change {
	var out []Change
	for _, s := range steps {
		out = append(out, s.Changes...)
	}
	return out
}

// checker checks a script statement by statement against an overlay of
// the catalog.
type checker struct {
	ov    *overlay
	errs  sql.ErrorList
	steps []Step
	// failed holds the names whose CREATE had errors, so that later
	// statements using them do not repeat the error as "unknown".
	failed map[string]bool
	stop   *budget
}

// Check checks and plans every statement of a script in order, each
// against the catalog as the earlier statements left it, and returns what
// applying it does. It reports every error it finds; with any error it
// returns no steps, so a bad script changes nothing.
func Check(script *sql.Script, cat Catalog) ([]Step, sql.ErrorList) {
	return CheckContext(context.Background(), script, cat)
}

// CheckContext is Check that stops once ctx has ended: checking is
// abandoned within the statement being checked, its errors are dropped
// (they may be artefacts of stopping) and an error at it gives ctx's cause.
func CheckContext(ctx context.Context, script *sql.Script, cat Catalog) ([]Step, sql.ErrorList) {
	c := &checker{ov: newOverlay(cat), failed: map[string]bool{}, stop: &budget{ctx: ctx}}
	for _, id := range script.Unparsed {
		c.failed[key(id.Name)] = true
	}
	for _, st := range script.Stmts {
		if len(c.errs) >= sql.MaxErrors {
			c.errs.TooMany(st.Pos())
			break
		}
		n := len(c.errs)
		c.stmt(st)
		if c.stop.ended() {
			c.errs = c.errs[:n]
			c.errs.Stopped(ctx, st.Pos())
			break
		}
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		c.errs.SetEnds(script.Src)
		return nil, c.errs
	}
	return c.steps, nil
}

func (c *checker) stmt(st sql.Stmt) {
	step := Step{Stmt: st}
	switch s := st.(type) {
	case *sql.CreateSource:
		step.Changes, step.Notice = c.createSource(s)
	case *sql.CreateSink:
		step.Changes, step.Notice = c.createSink(s)
	case *sql.CreatePipeline:
		step.Changes, step.Notice = c.createPipeline(s)
	case *sql.Drop:
		step.Changes, step.Notice = c.drop(s)
	case *sql.StartPipeline:
		step.Changes = c.startStop(s.Name, OpStart)
	case *sql.StopPipeline:
		step.Changes = c.startStop(s.Name, OpStop)
	case *sql.Show:
		step.Result = show(c.ov, s.Kind)
	case *sql.Describe:
		obj, ok := c.ov.Lookup(s.Name.Name)
		if !ok {
			objectFix(c.errs.Add(s.Name.P, objectHint(s.Name.Name, c.ov, sql.ObjSource, sql.ObjSink, sql.ObjPipeline), "unknown object %q", s.Name.Name), s.Name.Name, c.ov, sql.ObjSource, sql.ObjSink, sql.ObjPipeline)
			break
		}
		step.Result = describe(obj)
	case *sql.Explain:
		var g *dag.Graph
		switch t := s.Target.(type) {
		case *sql.CreatePipeline:
			g, _ = c.planPipeline(t)
		case *sql.SelectStmt:
			g = c.planPreview(t)
		default:
			c.errs.Add(s.Pos(), "write EXPLAIN CREATE PIPELINE … or EXPLAIN SELECT …", "EXPLAIN applies to CREATE PIPELINE and SELECT")
		}
		if g != nil {
			step.Result = explainResult(g)
		}
	case *sql.SelectStmt:
		step.Preview = c.planPreview(s)
	default:
		c.errs.Add(st.Pos(), "", "unsupported statement")
	}
	c.steps = append(c.steps, step)
}

// checkCreate decides what CREATE does with an existing name. proceed is
// false when nothing is to be done (IF NOT EXISTS hit); the body is still
// checked after an error, to report its errors too.
func (c *checker) checkCreate(name sql.Ident, kind sql.ObjectKind, orReplace, ifNotExists bool, at sql.Pos) (op ChangeOp, notice string, proceed bool) {
	lk := strings.ToLower(string(kind))
	if orReplace && ifNotExists {
		c.errs.Add(at, "use one of them", "OR REPLACE and IF NOT EXISTS cannot be combined")
	}
	existing, ok := c.ov.Lookup(name.Name)
	if !ok {
		return OpCreate, "", true
	}
	ek := strings.ToLower(string(existing.Kind))
	switch {
	case ifNotExists && !orReplace:
		return "", fmt.Sprintf("%s %q already exists; skipped", ek, existing.Name), false
	case existing.Kind != kind:
		c.errs.Add(name.P, fmt.Sprintf("sources, sinks and pipelines share one namespace; choose another name or DROP %s %s first", existing.Kind, existing.Name), "%q is already a %s", existing.Name, ek)
	case !orReplace:
		c.errs.Add(name.P, fmt.Sprintf("use CREATE OR REPLACE %s to change it, or IF NOT EXISTS to keep it", kind), "%s %q already exists", lk, existing.Name)
	}
	return OpReplace, "", true
}

func (c *checker) createSource(s *sql.CreateSource) ([]Change, string) {
	return c.createObject(s, s.Name, sql.ObjSource, s.OrReplace, s.IfNotExists, func() *Object {
		return &Object{Kind: sql.ObjSource, Name: s.Name.Name, SQL: s.Text(), Canonical: canonical(s), Source: sourceSpec(s, &c.errs)}
	})
}

func (c *checker) createSink(s *sql.CreateSink) ([]Change, string) {
	return c.createObject(s, s.Name, sql.ObjSink, s.OrReplace, s.IfNotExists, func() *Object {
		return &Object{Kind: sql.ObjSink, Name: s.Name.Name, SQL: s.Text(), Canonical: canonical(s), Sink: sinkSpec(s, &c.errs)}
	})
}

// createObject is CREATE SOURCE and CREATE SINK: check the name, build the
// object (build reports its errors into c.errs), and plan again the
// pipelines that use an object it replaces.
func (c *checker) createObject(st sql.Stmt, name sql.Ident, kind sql.ObjectKind, orReplace, ifNotExists bool, build func() *Object) ([]Change, string) {
	op, notice, proceed := c.checkCreate(name, kind, orReplace, ifNotExists, st.Pos())
	if !proceed {
		return nil, notice
	}
	n := len(c.errs)
	obj := build()
	if len(c.errs) > n {
		if op == OpCreate {
			c.failed[key(name.Name)] = true
		}
		return nil, ""
	}
	c.ov.put(obj)
	changes := []Change{{Op: op, Kind: kind, Name: obj.Name, Object: obj}}
	if op == OpReplace {
		changes = append(changes, c.replan(obj.Name, name.P)...)
	}
	return changes, ""
}

func (c *checker) createPipeline(s *sql.CreatePipeline) ([]Change, string) {
	op, notice, proceed := c.checkCreate(s.Name, sql.ObjPipeline, s.OrReplace, s.IfNotExists, s.Pos())
	if !proceed {
		return nil, notice
	}
	n := len(c.errs)
	g, p := c.planPipeline(s)
	if len(c.errs) > n || g == nil {
		return nil, ""
	}
	p.Running = true
	if old, ok := c.ov.Lookup(s.Name.Name); ok && old.Pipeline != nil {
		// Replacing keeps a stopped pipeline stopped.
		p.Running = old.Pipeline.Running
		at := s.Name.P
		for _, o := range s.Options {
			if strings.EqualFold(o.Key.Name, "parallelism") {
				at = o.ValuePos
			}
		}
		if !c.stagesKept(old, g, at) {
			return nil, ""
		}
	}
	obj := &Object{Kind: sql.ObjPipeline, Name: s.Name.Name, SQL: s.Text(), Canonical: canonical(s), Pipeline: p}
	c.ov.put(obj)
	return []Change{{Op: op, Kind: sql.ObjPipeline, Name: obj.Name, Object: obj}}, ""
}

// planPipeline plans a CREATE PIPELINE without changing the overlay.
func (c *checker) planPipeline(s *sql.CreatePipeline) (*dag.Graph, *Pipeline) {
	return planPipeline(s, c.ov, &c.errs, c.failed, c.stop)
}

func planPipeline(s *sql.CreatePipeline, cat Catalog, errs *sql.ErrorList, failed map[string]bool, stop *budget) (*dag.Graph, *Pipeline) {
	n := len(*errs)
	p := &Pipeline{Options: map[string]string{}}
	for _, o := range s.Options {
		k := strings.ToLower(o.Key.Name)
		switch {
		case !knownPipelineOption(k):
			names := connector.PipelineOptionNames()
			hint := "options of a pipeline: " + strings.Join(names, ", ")
			sg := sql.Suggest(k, names)
			if len(sg) > 0 {
				hint = fmt.Sprintf("did you mean %q? %s", sg[0], hint)
			}
			err := errs.AddNode(o.Key, hint, "unknown pipeline option %s", o.Key.Name)
			if len(sg) > 0 {
				replaceWith(err, optionKey(sg[0]), sg[0])
			}
		case p.Options[k] != "":
			errs.AddNode(o.Key, "", "option %s is given twice", o.Key.Name)
		default:
			p.Options[k] = o.Value
			checkPipelineOption(o, errs)
		}
	}
	ins := s.Insert
	if ins == nil || ins.Query == nil {
		errs.Add(s.Pos(), "write CREATE PIPELINE name AS INSERT INTO sink SELECT …", "pipeline %q has no INSERT … SELECT", s.Name.Name)
		return nil, nil
	}
	sink, ok := cat.Lookup(ins.Sink.Name)
	switch {
	case !ok:
		if !failed[key(ins.Sink.Name)] {
			objectFix(errs.Add(ins.Sink.P, objectHint(ins.Sink.Name, cat, sql.ObjSink), "unknown sink %q", ins.Sink.Name), ins.Sink.Name, cat, sql.ObjSink)
		}
		sink = nil
	case sink.Kind != sql.ObjSink:
		errs.Add(ins.Sink.P, objectHint(ins.Sink.Name, cat, sql.ObjSink), "%q is a %s, not a sink", sink.Name, strings.ToLower(string(sink.Kind)))
		sink = nil
	}
	q := newQuery(cat, errs, failed, stop)
	if !q.bindSelect(ins.Query, false) || sink == nil || stop.ended() {
		return nil, nil
	}
	q.sinkColumns(ins, sink)
	if spec, ok := connector.Lookup(sink.Sink.Connector); ok && len(sink.Sink.Declared) == 0 {
		for _, o := range q.out {
			if r, bad := spec.RefusedInColumnName(o.name); bad {
				at := o.at
				if at == nil {
					at = o.expr
				}
				errs.AddNode(at, "rename the column with AS; "+spec.ColumnNameWhy,
					"column %q cannot be written to a %s sink: it contains %q", o.name, spec.Name, r)
			}
		}
	}
	if len(*errs) > n {
		return nil, nil
	}
	g := q.pipelineGraph(s.Name.Name, sink.Sink)
	q.split(g, ins.Query, pipelineSplitOptions(s, errs), errs)
	if len(*errs) > n {
		return nil, nil
	}
	p.Graph = g
	p.Sink = sink.Name
	for _, sd := range q.sides {
		if !slices.ContainsFunc(p.Sources, func(n string) bool { return strings.EqualFold(n, sd.obj.Name) }) {
			p.Sources = append(p.Sources, sd.obj.Name)
		}
	}
	return g, p
}

// pipelineGraph lowers a bound pipeline query and adds its sink.
func (q *query) pipelineGraph(name string, sink *dag.SinkSpec) *dag.Graph {
	g := q.lower(name)
	top := g.Nodes[len(g.Nodes)-1]
	schema := top.Schema
	if len(sink.Declared) > 0 {
		schema = slices.Clone(sink.Declared)
	}
	g.Nodes = append(g.Nodes, &dag.Node{ID: len(g.Nodes), Kind: dag.KindSink, Inputs: []int{top.ID}, Schema: schema, TimeCol: top.TimeCol, Sink: sink})
	return g
}

func (c *checker) planPreview(s *sql.SelectStmt) *dag.Graph {
	return planPreview(s.Select, c.ov, &c.errs, c.failed, c.stop)
}

func planPreview(sel *sql.Select, cat Catalog, errs *sql.ErrorList, failed map[string]bool, stop *budget) *dag.Graph {
	if sel == nil {
		return nil
	}
	q := newQuery(cat, errs, failed, stop)
	if !q.bindSelect(sel, true) || stop.ended() {
		return nil
	}
	for i := range q.out {
		q.out[i].e = outputValue(q.out[i].e)
	}
	return q.lower("")
}

// PlanPreview plans a preview SELECT against a catalog. The last node of
// the graph is the rows to show (a KindLimit with LIMIT).
func PlanPreview(s *sql.SelectStmt, cat Catalog) (*dag.Graph, sql.ErrorList) {
	return planPreviewContext(context.Background(), s, cat)
}

func planPreviewContext(ctx context.Context, s *sql.SelectStmt, cat Catalog) (*dag.Graph, sql.ErrorList) {
	var errs sql.ErrorList
	stop := &budget{ctx: ctx}
	g := planPreview(s.Select, cat, &errs, nil, stop)
	if stop.ended() {
		errs = nil
		errs.Stopped(ctx, s.Pos())
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return g, nil
}

// PlanPreviewSQL parses src, which must be one SELECT, and plans it as a
// preview.
func PlanPreviewSQL(src string, cat Catalog) (*dag.Graph, sql.ErrorList) {
	return PlanPreviewSQLContext(context.Background(), src, cat)
}

// PlanPreviewSQLContext is PlanPreviewSQL that stops once ctx has ended,
// with an error that gives ctx's cause (see CheckContext).
func PlanPreviewSQLContext(ctx context.Context, src string, cat Catalog) (*dag.Graph, sql.ErrorList) {
	script, errs := sql.ParseContext(ctx, src)
	if len(errs) > 0 {
		return nil, errs
	}
	if len(script.Stmts) != 1 {
		var l sql.ErrorList
		l.Add(sql.PosAt(src, 0), "send one SELECT", "a preview is one SELECT statement, got %d statements", len(script.Stmts))
		l.SetEnds(src)
		return nil, l
	}
	s, ok := script.Stmts[0].(*sql.SelectStmt)
	if !ok {
		var l sql.ErrorList
		l.Add(script.Stmts[0].Pos(), "send a SELECT", "a preview is a SELECT statement")
		l.SetEnds(src)
		return nil, l
	}
	g, errs := planPreviewContext(ctx, s, cat)
	errs.SetEnds(src)
	return g, errs
}

// ApplyScript parses a script, checks it against st and, when it is clean,
// applies its changes to st. With any error st is unchanged.
func ApplyScript(src string, st Store) ([]Step, sql.ErrorList) {
	script, errs := sql.Parse(src)
	if len(errs) > 0 {
		return nil, errs
	}
	steps, errs := Check(script, st)
	if len(errs) > 0 {
		return nil, errs
	}
	if err := st.Apply(Changes(steps)); err != nil {
		var l sql.ErrorList
		l.Add(sql.PosAt(src, 0), "", "apply the script: %v", err)
		return nil, l
	}
	return steps, nil
}

// replan plans again, against the new definition of a source or sink,
// every pipeline that uses it; a pipeline that no longer plans makes the
// REPLACE an error.
func (c *checker) replan(name string, at sql.Pos) []Change {
	var out []Change
	for _, pn := range c.ov.UsedBy(name) {
		obj, ok := c.ov.Lookup(pn)
		if !ok {
			continue
		}
		script, perrs := sql.Parse(obj.SQL)
		var cp *sql.CreatePipeline
		if len(perrs) == 0 && len(script.Stmts) == 1 {
			cp, _ = script.Stmts[0].(*sql.CreatePipeline)
		}
		if cp == nil {
			c.errs.Add(at, "drop or replace the pipeline first", "replacing %q breaks pipeline %q: its SQL no longer parses", name, pn)
			continue
		}
		var inner sql.ErrorList
		g, p := planPipeline(cp, c.ov, &inner, nil, c.stop)
		if len(inner) > 0 || g == nil {
			msg := "it no longer plans"
			if len(inner) > 0 {
				msg = inner[0].Msg
			}
			c.errs.Add(at, fmt.Sprintf("replace or drop pipeline %s first", pn), "replacing %q breaks pipeline %q: %s", name, pn, msg)
			continue
		}
		p.Running = obj.Pipeline.Running
		if !c.stagesKept(obj, g, at) {
			continue
		}
		nobj := &Object{Kind: sql.ObjPipeline, Name: obj.Name, SQL: obj.SQL, Canonical: obj.Canonical, Pipeline: p}
		c.ov.put(nobj)
		out = append(out, Change{Op: OpReplace, Kind: sql.ObjPipeline, Name: nobj.Name, Object: nobj})
	}
	return out
}

// stagesKept reports whether a pipeline planned as g may replace old, and
// adds the error at at when not: their repartition stages must be alike
// (the same internal topics with as many partitions). Another set of
// stages cannot take over from the old one: records the old stages wrote
// and the pipeline had not read yet would be lost with their topic, a
// topic cannot change its number of partitions, and a new stage has no
// committed offsets, so it would read its source again from the start.
func (c *checker) stagesKept(old *Object, g *dag.Graph, at sql.Pos) bool {
	was, is := stageTopics(old.Pipeline.Graph), stageTopics(g)
	if maps.Equal(was, is) {
		return true
	}
	c.errs.Add(at, fmt.Sprintf("keep its parallelism and keys, or DROP PIPELINE %s and create it again (it then starts afresh, and its internal topics are deleted)", old.Name),
		"pipeline %s cannot be replaced by a plan with other repartition stages (%s before, %s now): the records in flight in its internal topics would be lost, and a new stage would read its source again from the start", old.Name, describeStages(was), describeStages(is))
	return false
}

// stageTopics maps the internal topics of g's repartition stages to their
// number of partitions.
func stageTopics(g *dag.Graph) map[string]int {
	m := map[string]int{}
	if g == nil {
		return m
	}
	for _, st := range g.Stages {
		m[st.Topic] = max(g.Parallelism, 1)
	}
	return m
}

func describeStages(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for _, t := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s with %d partitions", t, m[t]))
	}
	return strings.Join(out, ", ")
}

func (c *checker) drop(s *sql.Drop) ([]Change, string) {
	lk := strings.ToLower(string(s.Kind))
	obj, ok := c.ov.Lookup(s.Name.Name)
	if !ok {
		if s.IfExists {
			return nil, fmt.Sprintf("%s %q does not exist; skipped", lk, s.Name.Name)
		}
		if !c.failed[key(s.Name.Name)] {
			objectFix(c.errs.Add(s.Name.P, objectHint(s.Name.Name, c.ov, s.Kind), "unknown %s %q", lk, s.Name.Name), s.Name.Name, c.ov, s.Kind)
		}
		return nil, ""
	}
	if obj.Kind != s.Kind {
		c.errs.Add(s.Name.P, fmt.Sprintf("write DROP %s %s", obj.Kind, obj.Name), "%q is a %s, not a %s", obj.Name, strings.ToLower(string(obj.Kind)), lk)
		return nil, ""
	}
	if s.Kind != sql.ObjPipeline {
		if users := c.ov.UsedBy(obj.Name); len(users) > 0 {
			word := "pipeline"
			if len(users) > 1 {
				word = "pipelines"
			}
			c.errs.Add(s.Name.P, "drop the pipeline first: DROP PIPELINE "+users[0], "cannot drop %s %q: %s %s uses it", lk, obj.Name, word, strings.Join(users, ", "))
			return nil, ""
		}
	}
	c.ov.remove(obj.Name)
	return []Change{{Op: OpDrop, Kind: obj.Kind, Name: obj.Name, Object: obj}}, ""
}

func (c *checker) startStop(name sql.Ident, op ChangeOp) []Change {
	obj, ok := c.ov.Lookup(name.Name)
	if !ok {
		if !c.failed[key(name.Name)] {
			objectFix(c.errs.Add(name.P, objectHint(name.Name, c.ov, sql.ObjPipeline), "unknown pipeline %q", name.Name), name.Name, c.ov, sql.ObjPipeline)
		}
		return nil
	}
	if obj.Kind != sql.ObjPipeline {
		c.errs.Add(name.P, objectHint(name.Name, c.ov, sql.ObjPipeline), "%q is a %s, not a pipeline", obj.Name, strings.ToLower(string(obj.Kind)))
		return nil
	}
	nobj := *obj
	nobj.Pipeline = withRunning(obj.Pipeline, op == OpStart)
	c.ov.put(&nobj)
	return []Change{{Op: op, Kind: sql.ObjPipeline, Name: obj.Name, Object: &nobj}}
}

// columnDefs checks the columns of CREATE SOURCE or CREATE SINK.
func columnDefs(defs []sql.ColumnDef, source bool, pseudo dag.Schema, errs *sql.ErrorList) dag.Schema {
	var out dag.Schema
	for _, d := range defs {
		if out.Index(d.Name.Name) >= 0 {
			errs.AddNode(d.Name, "", "column %q is declared twice", d.Name.Name)
			continue
		}
		if pseudo.Index(d.Name.Name) >= 0 {
			errs.AddNode(d.Name, "pseudo-columns: "+strings.Join(pseudo.Names(), ", ")+"; declare the field with another name and PATH '$."+d.Name.Name+"'", "column %q collides with a pseudo-column", d.Name.Name)
			continue
		}
		t, ok := resolveType(d.Type, errs)
		if !ok {
			continue
		}
		t.Nullable = !d.NotNull
		col := dag.Column{Name: d.Name.Name, Type: t}
		if source {
			col.Path = []string{d.Name.Name}
			if d.Path != "" {
				p, err := parsePath(d.Path)
				if err != nil {
					errs.Add(d.PathPos, "write PATH '$.a.b'", "invalid PATH %q: %v", d.Path, err)
					continue
				}
				col.Path = p
			}
		} else if d.Path != "" {
			errs.Add(d.PathPos, "", "PATH applies to source columns only")
			continue
		}
		out = append(out, col)
	}
	return out
}

// parsePath parses a JSON path of object fields: $.a.b.
func parsePath(p string) ([]string, error) {
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok {
		return nil, fmt.Errorf("a path starts with $ and a dot, as in $.a.b")
	}
	parts := strings.Split(rest, ".")
	for _, s := range parts {
		if s == "" || strings.ContainsAny(s, "[]*") {
			return nil, fmt.Errorf("only object fields are supported")
		}
	}
	return parts, nil
}

func sourceSpec(s *sql.CreateSource, errs *sql.ErrorList) *dag.SourceSpec {
	opts, ok := checkOptions(s.Options, roleSource, s.Name.P, errs)
	pseudo := dag.PseudoColumns
	if ok {
		pseudo = pseudoFor(opts.connector)
	}
	spec := &dag.SourceSpec{Name: s.Name.Name, Connector: opts.connector, Options: opts.values, IdleTimeout: 5 * time.Second}
	spec.Declared = columnDefs(s.Columns, true, pseudo, errs)
	if w := s.Watermark; w != nil {
		i := spec.Declared.Index(w.Column.Name)
		switch {
		case strings.EqualFold(w.Column.Name, "_timestamp") && pseudo.Index("_timestamp") >= 0:
			// The record timestamp with a delay: Watermark stays "".
		case i < 0:
			hint := fmt.Sprintf("columns of %q: %s", s.Name.Name, strings.Join(spec.Declared.Names(), ", "))
			sg := sql.Suggest(w.Column.Name, spec.Declared.Names())
			if len(sg) > 0 {
				hint = fmt.Sprintf("did you mean %q? %s", sg[0], hint)
			}
			err := errs.Add(w.Column.P, hint, "unknown WATERMARK column %q", w.Column.Name)
			if len(sg) > 0 {
				replaceWith(err, sql.QuoteIdent(sg[0]), sg[0])
			}
		case !spec.Declared[i].Type.Kind.IsTime():
			errs.Add(w.Column.P, "the time attribute must be a DateTime, DateTime64 or Date column"+timeColumnsHint(spec.Declared), "WATERMARK column %q is %s, not a time", w.Column.Name, spec.Declared[i].Type.Base())
		default:
			// A row without a time cannot be placed in any window or
			// interval: the time attribute is NOT NULL, so such records
			// go to the dead-letter destination.
			spec.Watermark = spec.Declared[i].Name
			spec.Declared[i].Type.Nullable = false
		}
		if w.Delay != nil {
			if d, ok := checkInterval(w.Delay, "the WATERMARK delay", true, errs); ok {
				spec.WatermarkDelay = d
			}
		}
	}
	if d, ok := opts.duration("idle_timeout", roleSource); ok {
		spec.IdleTimeout = d
	}
	for col, settings := range opts.perColumn {
		if spec.Declared.Index(col) < 0 {
			errs.Add(opts.perPos[col], fmt.Sprintf("columns of %q: %s", s.Name.Name, strings.Join(spec.Declared.Names(), ", ")), "option fields.%s… names no column of %q", col, s.Name.Name)
			continue
		}
		if spec.ColumnOptions == nil {
			spec.ColumnOptions = map[string]map[string]string{}
		}
		spec.ColumnOptions[spec.Declared[spec.Declared.Index(col)].Name] = settings
	}
	return spec
}

func timeColumnsHint(s dag.Schema) string {
	var ts []string
	for _, c := range s {
		if c.Type.Kind.IsTime() {
			ts = append(ts, c.Name)
		}
	}
	if len(ts) == 0 {
		return "; without WATERMARK FOR the record's _timestamp is the time attribute"
	}
	return "; time columns here: " + strings.Join(ts, ", ")
}

func sinkSpec(s *sql.CreateSink, errs *sql.ErrorList) *dag.SinkSpec {
	opts, _ := checkOptions(s.Options, roleSink, s.Name.P, errs)
	if spec, ok := connector.Lookup(opts.connector); ok {
		for _, d := range s.Columns {
			if r, bad := spec.RefusedInColumnName(d.Name.Name); bad {
				errs.AddNode(d.Name, "rename the column; "+spec.ColumnNameWhy,
					"column %q cannot be written to a %s sink: it contains %q", d.Name.Name, spec.Name, r)
			}
		}
	}
	return &dag.SinkSpec{Name: s.Name.Name, Connector: opts.connector, Options: opts.values, Declared: columnDefs(s.Columns, false, nil, errs)}
}

// canonical is the canonical text of a statement kept in the catalog.
func canonical(st sql.Stmt) string {
	return sql.Format(st)
}
