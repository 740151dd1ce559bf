package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/confine"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

// ApplyOptions say how a script is applied.
type ApplyOptions struct {
	// DryRun checks and plans the script and reports what it would do,
	// changing nothing.
	DryRun bool
	// Declarative applies the script as a desired state, like kubectl
	// apply: a CREATE of an object that exists replaces it, and one whose
	// canonical form is identical to the existing object is "unchanged".
	// Without it, CREATE of an existing object is an error, as in SQL.
	Declarative bool
	// PlanTimeout bounds the time spent parsing and checking the script
	// (waiting for another script's turn included); when it runs out the
	// script fails with an error at the statement being checked and
	// nothing is applied. 0: no bound.
	PlanTimeout time.Duration
}

// PlanLimit returns ctx bounded by d for planning, its cause saying so,
// and the function that releases it; d 0 returns ctx.
func PlanLimit(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("planning took longer than the server allows one request (%v)", d))
}

// Actions reported per statement.
const (
	ActionCreated   = "created"
	ActionReplaced  = "replaced"
	ActionUnchanged = "unchanged"
	ActionDropped   = "dropped"
	ActionStarted   = "started"
	ActionStopped   = "stopped"
	ActionSkipped   = "skipped" // IF NOT EXISTS / IF EXISTS had nothing to do
	ActionResult    = "result"  // SHOW, DESCRIBE, EXPLAIN
	ActionPreview   = "preview" // a SELECT: planned, run only by a preview
)

// StatementResult is the outcome of one statement of a script.
type StatementResult struct {
	Index  int    `json:"index"` // 0-based, in the submitted script
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Action string `json:"action"`
	Kind   string `json:"kind,omitempty"` // source, sink, pipeline
	Name   string `json:"name,omitempty"`
	Notice string `json:"notice,omitempty"`
	// Also lists the other objects the statement changed: the pipelines
	// planned again because a source or sink they use was replaced.
	Also   []string        `json:"also,omitempty"`
	Result *planner.Result `json:"result,omitempty"`
	// Restarted is set when a running pipeline was stopped and started
	// again with its new definition; StateKept says whether its dedup,
	// join and window state carried over (it cannot when the stateful
	// part of the plan changed: then it starts empty, from the committed
	// offsets). In a dry run they say what applying would do.
	Restarted bool  `json:"restarted,omitempty"`
	StateKept *bool `json:"state_kept,omitempty"`
}

// Plan is the operator graph of a pipeline or SELECT of a script.
type Plan struct {
	Statement int        `json:"statement"`
	Name      string     `json:"name,omitempty"` // the pipeline; "" for a SELECT
	Explain   string     `json:"explain"`
	Graph     *dag.Graph `json:"graph"`
}

// ScriptResult is the outcome of a script.
type ScriptResult struct {
	Applied    bool              `json:"applied"`
	Statements []StatementResult `json:"statements"`
	Plans      []Plan            `json:"plans,omitempty"`
	// Previews are the script's SELECTs as planned, in order, secrets
	// sealed rather than masked, for a caller that runs them (`sluice run`).
	Previews []*dag.Graph `json:"-"`
}

// Changed reports whether the script changed the catalog.
func (r *ScriptResult) Changed() bool {
	for _, st := range r.Statements {
		switch st.Action {
		case ActionCreated, ActionReplaced, ActionDropped, ActionStarted, ActionStopped:
			return true
		}
	}
	return false
}

// Apply checks src as a whole and, when it has no error, applies every
// statement in one catalog transaction and then brings the pipelines in
// line: new and started pipelines run, stopped and dropped ones stop,
// replaced running ones restart. With any error nothing is applied and
// every error is returned. err is for failures of the server itself.
func (s *Server) Apply(ctx context.Context, src string, o ApplyOptions) (res *ScriptResult, errs sql.ErrorList, err error) {
	planCtx, release := PlanLimit(ctx, o.PlanTimeout)
	defer release()
	script, parseErrs := sql.ParseContext(planCtx, src)
	if len(parseErrs) > 0 && (len(parseErrs) >= sql.MaxErrors || len(script.Stmts) == 0 || planCtx.Err() != nil) {
		return nil, parseErrs, nil
	}
	// With parse errors nothing is applied, but the statements that
	// parsed are still checked, so that every error of the script is
	// reported at once.
	if len(parseErrs) == 0 {
		if err := sealSecrets(script); err != nil {
			return nil, nil, err
		}
	}
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	// Checked against the catalog as other servers left it.
	s.syncCatalog(ctx)

	// Statements that would change nothing are taken out before checking,
	// so an identical re-apply neither fails nor restarts anything.
	unchanged := map[int]bool{}
	mentioned := map[string]bool{}
	var kept []sql.Stmt
	for i, st := range script.Stmts {
		if h, ok := createHead(st); ok {
			k := strings.ToLower(h.name)
			existing, exists := s.cat.Lookup(h.name)
			if exists && !mentioned[k] && existing.Kind == h.kind {
				if (*h.orReplace || o.Declarative) && sameDefinition(st, existing) {
					unchanged[i] = true
					mentioned[k] = true
					continue
				}
				if o.Declarative && !*h.ifNotExists {
					*h.orReplace = true
				}
			}
			mentioned[k] = true
		}
		if n := stmtName(st); n != "" {
			mentioned[strings.ToLower(n)] = true
		}
		kept = append(kept, st)
	}
	steps, errs := planner.CheckContext(planCtx, &sql.Script{Src: script.Src, Stmts: kept, Unparsed: script.Unparsed}, s.cat)
	errs = append(errs, ConfineFiles(kept)...)
	errs = append(errs, parseErrs...)
	if len(errs) > 0 {
		errs.Sort()
		errs.SetEnds(script.Src)
		return nil, errs, nil
	}

	res = &ScriptResult{}
	next := 0
	for i, st := range script.Stmts {
		p := st.Pos()
		r := StatementResult{Index: i, Line: p.Line, Column: p.Col}
		if unchanged[i] {
			h, _ := createHead(st)
			r.Action, r.Kind, r.Name = ActionUnchanged, strings.ToLower(string(h.kind)), h.name
			if existing, ok := s.cat.Lookup(h.name); ok {
				r.Name = existing.Name
			}
			res.Statements = append(res.Statements, r)
			continue
		}
		step := steps[next]
		next++
		describeStep(&r, step)
		res.Statements = append(res.Statements, r)
		res.Plans = append(res.Plans, plansOf(i, step)...)
		if step.Preview != nil {
			res.Previews = append(res.Previews, step.Preview)
		}
	}
	res.Plans = finalPlans(res.Plans)
	if o.DryRun {
		s.foresee(res, steps)
		return res, nil, nil
	}

	changes := planner.Changes(steps)
	// The definitions being replaced or dropped, to tell whether a
	// pipeline's checkpointed state still fits its new plan.
	oldGraphs := map[string]*dag.Graph{}
	// gone holds the plans of the pipelines the script drops, whose
	// sources forget where they read to.
	gone := map[string]*dag.Graph{}
	var touched []string
	for _, c := range changes {
		if c.Kind != sql.ObjPipeline {
			continue
		}
		k := strings.ToLower(c.Name)
		if c.Op == planner.OpDrop {
			// DROP then CREATE in one script is a new pipeline: its old
			// state must not come back even if the plan is the same.
			oldGraphs[k] = dropped
			if old, ok := s.cat.Lookup(c.Name); ok && old.Pipeline != nil && gone[k] == nil {
				gone[k] = old.Pipeline.Graph
			}
		}
		if !slices.Contains(touched, k) {
			touched = append(touched, k)
			if old, ok := s.cat.Lookup(c.Name); ok && oldGraphs[k] == nil {
				oldGraphs[k] = old.Pipeline.Graph
			}
		}
	}
	if err := s.cat.ApplyContext(ctx, changes); err != nil {
		return nil, nil, fmt.Errorf("apply script: %w", err)
	}
	res.Applied = true
	s.log.Info("script applied", "statements", len(script.Stmts), "changes", len(changes))

	outcome := map[string]reconciled{}
	for _, k := range touched {
		outcome[k] = s.reconcile(k, oldGraphs[k], gone[k])
	}
	for i := range res.Statements {
		r := &res.Statements[i]
		if r.Kind != "pipeline" || (r.Action != ActionReplaced && r.Action != ActionCreated) {
			continue
		}
		if oc, ok := outcome[strings.ToLower(r.Name)]; ok && oc.restarted {
			r.Restarted = true
			kept := oc.stateKept
			r.StateKept = &kept
		}
	}
	return res, nil, nil
}

// dropped stands for the old plan of a pipeline dropped by the script.
var dropped = &dag.Graph{}

type reconciled struct {
	restarted bool
	stateKept bool
}

// reconcile makes the pipeline's runs match the catalog. old is the plan
// it had before the script (nil if new); gone is its plan when the script
// dropped it (it may have created it again). Every unit of the pipeline is
// acted on: those running here are stopped here, and those running on
// other servers are taken over (takeOverAll) first.
func (s *Server) reconcile(name string, old, gone *dag.Graph) reconciled {
	obj, ok := s.cat.Lookup(name)
	if !ok {
		oldUnits := unitsOfGraph(name, gone)
		s.takeOverAll(oldUnits)
		s.stopRun(name)
		s.taps.closePipeline(name)
		if !s.cfg.KeepDropped {
			s.removeCheckpoints("dropped", oldUnits)
		}
		s.forgetSources(gone)
		s.releasePipeline(name)
		return reconciled{}
	}
	p := obj.Pipeline
	here := s.runsOf(name)
	if len(here) > 0 && p.Running && !slices.ContainsFunc(here, func(r *run) bool { return r.def != p.Graph }) {
		return reconciled{}
	}
	newUnits := unitsOf(obj)
	var oldUnits []unit
	if old != nil {
		oldUnits = unitsOfGraph(obj.Name, old)
	}
	if !p.Running || (old != nil && old != p.Graph) {
		// Units may run on other servers: fence those runs before their
		// state is kept, dropped or replaced here.
		s.takeOverAll(oldUnits, newUnits)
	}
	var out reconciled
	if len(here) > 0 {
		s.stopRun(name)
		out.restarted = p.Running
	}
	s.forgetSources(gone)
	if old != nil && old != p.Graph {
		out.stateKept = old != dropped && stateFits(old, p.Graph)
		if !out.stateKept {
			// The old state would not restore into the new operators: start
			// afresh from the consumer groups' committed offsets. The old
			// plan's tasks go too, or a later plan with their number of
			// tasks would find their state.
			s.removeCheckpoints("replaced", oldUnits, newUnits)
		}
	} else {
		out.stateKept = true
	}
	// Units of the old plan that the new one has not (fewer tasks, other
	// stages) were taken over only to fence them: their leases go.
	for _, u := range oldUnits {
		if !slices.ContainsFunc(newUnits, func(n unit) bool { return n.key == u.key }) {
			s.release(u.key, 0)
		}
	}
	if p.Running {
		s.startRun(obj)
	} else {
		s.setState(obj.Name, catalog.Stopped, "")
		s.releasePipeline(obj.Name)
	}
	return out
}

// removeCheckpoints removes the checkpoints of the units of the given
// plans of a pipeline (why: "dropped" or "replaced", for the log).
func (s *Server) removeCheckpoints(why string, lists ...[]unit) {
	if s.cfg.Checkpoints == nil {
		return
	}
	for _, n := range unitNames(lists...) {
		if err := s.cfg.Checkpoints.Remove(s.ctx, n); err != nil {
			s.log.Error("remove checkpoints of a "+why+" pipeline", "pipeline", n, "error", err)
		}
	}
}

// forgetSources makes the sources of a dropped pipeline forget where it
// read to (a Kafka source deletes the committed offsets of its topic in
// the pipeline's consumer group, and of its repartition stages' groups)
// and deletes its repartition stages' internal topics,
// so that a pipeline created again under the same name starts afresh, as
// its checkpoints are gone too. The runs have stopped. A failure is
// logged: the drop stands.
func (s *Server) forgetSources(g *dag.Graph) {
	if g == nil || g == dropped || s.cfg.KeepDropped {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	graphs := []*dag.Graph{g}
	for _, st := range g.Stages {
		graphs = append(graphs, st.Graph)
	}
	for _, gg := range graphs {
		for _, n := range gg.Nodes {
			if n.Source == nil {
				continue
			}
			cfg := runtime.SourceConfig{Spec: n.Source, Pipeline: gg.Name, GroupID: s.cfg.GroupID}
			if err := runtime.ForgetSource(ctx, cfg); err != nil {
				s.log.Error("forget the read position of a dropped pipeline", "pipeline", g.Name, "source", n.Source.Name, "error", err)
			}
		}
	}
	// The internal topics go with their pipeline: one created again under
	// the same name reads its sources afresh, not the old one's records.
	for _, st := range g.Stages {
		for _, n := range st.Graph.Nodes {
			if n.Sink == nil {
				continue
			}
			cfg := runtime.SinkConfig{Spec: n.Sink, Schema: n.Schema, Pipeline: st.Graph.Name, GroupID: s.cfg.GroupID}
			if err := runtime.DiscardStage(ctx, cfg); err != nil {
				s.log.Error("delete the internal topic of a dropped pipeline", "pipeline", g.Name, "topic", st.Topic, "error", err)
			}
		}
	}
}

// stateFits reports whether a checkpoint of a pipeline planned as old can
// be restored into one planned as new: every stateful operator (dedup,
// join, window) and every source must be the same, at the same place, with
// the same rows flowing through it. Comparing whole nodes is conservative
// (a different column read means a fresh start), which is the safe side:
// restoring state into operators that read it differently would corrupt
// it, while starting afresh only forgets what was deduplicated or joined.
func stateFits(old, new *dag.Graph) bool {
	// Tasks keep the state of the partitions they read: another number of
	// tasks, or other stages, would restore it into the wrong ones.
	if max(old.Parallelism, 1) != max(new.Parallelism, 1) || len(old.Stages) != len(new.Stages) {
		return false
	}
	for i, st := range old.Stages {
		ns := new.Stages[i]
		if st.Topic != ns.Topic || st.Graph.Name != ns.Graph.Name || !graphFits(st.Graph, ns.Graph) {
			return false
		}
	}
	return graphFits(old, new)
}

// graphFits compares the stateful nodes and sources of two graphs, for
// stateFits.
func graphFits(old, new *dag.Graph) bool {
	sig := func(g *dag.Graph) map[int]string {
		m := map[int]string{}
		for _, n := range g.Nodes {
			switch n.Kind {
			case dag.KindDedup, dag.KindJoin, dag.KindWindow, dag.KindSource:
				b, _ := json.Marshal(n)
				m[n.ID] = string(b)
			}
		}
		return m
	}
	a, b := sig(old), sig(new)
	if len(a) != len(b) {
		return false
	}
	for id, v := range a {
		if b[id] != v {
			return false
		}
	}
	return true
}

func describeStep(r *StatementResult, step planner.Step) {
	switch {
	case step.Notice != "":
		r.Action, r.Notice = ActionSkipped, step.Notice
	case step.Result != nil:
		r.Action, r.Result = ActionResult, step.Result
	case step.Preview != nil:
		r.Action = ActionPreview
		r.Notice = "a SELECT is a preview: run it with the preview websocket or `sluice preview`"
	}
	for i, c := range step.Changes {
		if i == 0 {
			r.Kind, r.Name = strings.ToLower(string(c.Kind)), c.Name
			switch c.Op {
			case planner.OpCreate:
				r.Action = ActionCreated
			case planner.OpReplace:
				r.Action = ActionReplaced
			case planner.OpDrop:
				r.Action = ActionDropped
			case planner.OpStart:
				r.Action = ActionStarted
			case planner.OpStop:
				r.Action = ActionStopped
			}
			continue
		}
		r.Also = append(r.Also, c.String())
	}
	if h, ok := createHead(step.Stmt); ok && r.Name == "" {
		r.Name = h.name
		r.Kind = strings.ToLower(string(h.kind))
	}
	if r.Action == "" {
		r.Action = ActionSkipped
	}
}

func plansOf(i int, step planner.Step) []Plan {
	var out []Plan
	if step.Preview != nil {
		out = append(out, Plan{Statement: i, Explain: planner.Explain(step.Preview), Graph: maskGraph(step.Preview)})
	}
	for _, c := range step.Changes {
		if c.Kind == sql.ObjPipeline && (c.Op == planner.OpCreate || c.Op == planner.OpReplace) && c.Object != nil {
			g := c.Object.Pipeline.Graph
			out = append(out, Plan{Statement: i, Name: c.Name, Explain: planner.Explain(g), Graph: maskGraph(g)})
		}
	}
	return out
}

// finalPlans keeps, of the plans of one pipeline, the last: a script that
// replaces a pipeline's sources and sink replans it at each, and only the
// plan after the whole script is what will run.
func finalPlans(plans []Plan) []Plan {
	last := map[string]int{}
	for i, p := range plans {
		if p.Name != "" {
			last[strings.ToLower(p.Name)] = i
		}
	}
	out := plans[:0:0]
	for i, p := range plans {
		if p.Name == "" || last[strings.ToLower(p.Name)] == i {
			out = append(out, p)
		}
	}
	return out
}

// head gives access to a CREATE statement's name and flags.
type head struct {
	kind                   sql.ObjectKind
	name                   string
	orReplace, ifNotExists *bool
}

func createHead(st sql.Stmt) (head, bool) {
	switch s := st.(type) {
	case *sql.CreateSource:
		return head{sql.ObjSource, s.Name.Name, &s.OrReplace, &s.IfNotExists}, true
	case *sql.CreateSink:
		return head{sql.ObjSink, s.Name.Name, &s.OrReplace, &s.IfNotExists}, true
	case *sql.CreatePipeline:
		return head{sql.ObjPipeline, s.Name.Name, &s.OrReplace, &s.IfNotExists}, true
	}
	return head{}, false
}

func stmtName(st sql.Stmt) string {
	switch s := st.(type) {
	case *sql.Drop:
		return s.Name.Name
	case *sql.StartPipeline:
		return s.Name.Name
	case *sql.StopPipeline:
		return s.Name.Name
	}
	return ""
}

// sameDefinition compares a CREATE with the stored object by canonical
// form, ignoring OR REPLACE and IF NOT EXISTS, which say how to create,
// not what.
func sameDefinition(st sql.Stmt, existing *planner.Object) bool {
	script, errs := sql.Parse(existing.SQL)
	if len(errs) > 0 || len(script.Stmts) != 1 {
		return false
	}
	return bareCanonical(st) == bareCanonical(script.Stmts[0])
}

func bareCanonical(st sql.Stmt) string {
	h, ok := createHead(st)
	if !ok {
		return sql.Format(st)
	}
	or, ine := *h.orReplace, *h.ifNotExists
	*h.orReplace, *h.ifNotExists = false, false
	defer func() { *h.orReplace, *h.ifNotExists = or, ine }()
	return sql.Format(st)
}

// sealSecrets seals, in place, every secret written in clear text in the
// options of a CREATE SOURCE or SINK — a non-empty value of a password,
// secret or token option, or a URL with a password — both in the AST and
// in the statement's text, which is what the catalog stores. The planner
// then sees, and the catalog keeps, only `enc:v1:…` values, which the
// connectors open when a pipeline starts. env:NAME references and empty
// values are left as they are.
func sealSecrets(script *sql.Script) error {
	for _, st := range script.Stmts {
		var opts []sql.Option
		var base *sql.StmtBase
		switch c := st.(type) {
		case *sql.CreateSource:
			opts, base = c.Options, &c.StmtBase
		case *sql.CreateSink:
			opts, base = c.Options, &c.StmtBase
		default:
			continue
		}
		// Replace from the last value to the first, so that earlier
		// offsets stay valid.
		for i := len(opts) - 1; i >= 0; i-- {
			o := &opts[i]
			v := o.Value
			if !secret.InClear(o.Key.Name, v) {
				continue
			}
			sealed, err := secret.Seal(v)
			if err != nil {
				return fmt.Errorf("seal option %s: %w", o.Key.Name, err)
			}
			start := o.ValuePos.Offset - base.P.Offset
			end := literalEnd(base.SrcText, start)
			if start < 0 || end < 0 {
				return fmt.Errorf("seal option %s: its value is not where the parser put it", o.Key.Name)
			}
			base.SrcText = base.SrcText[:start] + "'" + sealed + "'" + base.SrcText[end:]
			o.Value = sealed
		}
	}
	return nil
}

// ConfineFiles checks that every file or delta sink of stmts writes under the
// files directory (package confine): a path outside it is an
// error at the path's value. A path given as env:NAME is checked when the
// sink opens.
func ConfineFiles(stmts []sql.Stmt) sql.ErrorList {
	var errs sql.ErrorList
	if confine.Root() == "" {
		return nil
	}
	for _, st := range stmts {
		c, ok := st.(*sql.CreateSink)
		if !ok {
			continue
		}
		isFile := false
		for _, o := range c.Options {
			if strings.EqualFold(o.Key.Name, "connector") && (strings.EqualFold(o.Value, "file") || strings.EqualFold(o.Value, "delta")) {
				isFile = true
			}
		}
		if !isFile {
			continue
		}
		for _, o := range c.Options {
			if !strings.EqualFold(o.Key.Name, "path") || strings.HasPrefix(o.Value, "env:") || o.Value == "" {
				continue
			}
			if _, _, err := confine.Rel(o.Value); err != nil {
				errs.Add(o.ValuePos, fmt.Sprintf("write a path inside %s, or relative to it, e.g. 'out.jsonl' (the server's --files-dir)", confine.Root()),
					"%s sink %s: %v", connectorOf(c), c.Name.Name, err)
			}
		}
	}
	return errs
}

func connectorOf(c *sql.CreateSink) string {
	for _, o := range c.Options {
		if strings.EqualFold(o.Key.Name, "connector") {
			return strings.ToLower(o.Value)
		}
	}
	return ""
}

// literalEnd returns the offset just past the single-quoted literal that
// starts at start in text (” inside it is a quote), or -1.
func literalEnd(text string, start int) int {
	if start < 0 || start >= len(text) || text[start] != '\'' {
		return -1
	}
	for i := start + 1; i < len(text); i++ {
		if text[i] != '\'' {
			continue
		}
		if i+1 < len(text) && text[i+1] == '\'' {
			i++
			continue
		}
		return i + 1
	}
	return -1
}
