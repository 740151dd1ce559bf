package planner

import (
	"slices"
	"strings"
	"sync"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// Object is one catalog entry: a source, a sink or a pipeline. Sources,
// sinks and pipelines share one namespace, so DESCRIBE name is never
// ambiguous. Names compare case-insensitively and keep the spelling they
// were created with.
type Object struct {
	Kind sql.ObjectKind
	Name string
	// SQL is the CREATE statement as submitted; Canonical is its canonical
	// form. A store persists these and may rebuild every definition from
	// them, which keeps the catalog independent of Go types.
	SQL       string
	Canonical string

	Source   *dag.SourceSpec // Kind == ObjSource
	Sink     *dag.SinkSpec   // Kind == ObjSink
	Pipeline *Pipeline       // Kind == ObjPipeline
}

// Pipeline is what the catalog knows of a pipeline besides its SQL.
type Pipeline struct {
	Sink    string   // the SINK it writes
	Sources []string // the SOURCEs it reads, in FROM/JOIN order, once each
	Options map[string]string
	Graph   *dag.Graph
	// Running is the state the pipeline should be in: a new pipeline runs,
	// STOP PIPELINE clears it, START PIPELINE sets it. A server that
	// restarts resumes every pipeline with Running set.
	Running bool
}

// Uses reports whether the pipeline reads or writes the object name.
func (p *Pipeline) Uses(name string) bool {
	if strings.EqualFold(p.Sink, name) {
		return true
	}
	for _, s := range p.Sources {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

// Catalog is the read side of the catalog the planner binds against. It is
// storage-neutral: the in-memory Mem implements it, and so will the
// PostgreSQL store of the server.
type Catalog interface {
	// Lookup returns the object named name, of any kind.
	Lookup(name string) (*Object, bool)
	// List returns the objects of one kind, sorted by name.
	List(kind sql.ObjectKind) []*Object
	// UsedBy returns the names of the pipelines that read or write the
	// object name, sorted.
	UsedBy(name string) []string
}

// Store is a Catalog that changes can be applied to.
type Store interface {
	Catalog
	// Apply makes every change of a checked script, in order, or none.
	Apply(changes []Change) error
}

// Mem is an in-memory Store, used by tests, by `sluice explain` and as the
// cache in front of a persistent store. It is safe for concurrent use; a
// server still serializes scripts, so that each is checked against the
// state it is applied to.
type Mem struct {
	mu   sync.RWMutex
	objs map[string]*Object // by lower-case name
}

var _ Store = (*Mem)(nil)

// NewMem returns an empty in-memory catalog.
func NewMem() *Mem { return &Mem{objs: map[string]*Object{}} }

func key(name string) string { return strings.ToLower(name) }

// Lookup implements Catalog.
func (m *Mem) Lookup(name string) (*Object, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objs[key(name)]
	return o, ok
}

// List implements Catalog.
func (m *Mem) List(kind sql.ObjectKind) []*Object {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*Object
	for _, o := range m.objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	sortObjects(out)
	return out
}

// UsedBy implements Catalog.
func (m *Mem) UsedBy(name string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, o := range m.objs {
		if o.Kind == sql.ObjPipeline && o.Pipeline.Uses(name) {
			out = append(out, o.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Apply implements Store. Changes come from Check, which has validated
// them against this catalog's state, so applying them cannot fail halfway.
func (m *Mem) Apply(changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		switch c.Op {
		case OpCreate, OpReplace:
			m.objs[key(c.Name)] = c.Object
		case OpDrop:
			delete(m.objs, key(c.Name))
		case OpStart, OpStop:
			if o, ok := m.objs[key(c.Name)]; ok {
				// A new object: the one handed out may be read meanwhile.
				cp := *o
				cp.Pipeline = withRunning(o.Pipeline, c.Op == OpStart)
				m.objs[key(c.Name)] = &cp
			}
		}
	}
	return nil
}

// withRunning returns a copy so that objects handed out earlier (and
// shared with overlays) never change under their readers.
func withRunning(p *Pipeline, running bool) *Pipeline {
	cp := *p
	cp.Running = running
	return &cp
}

func sortObjects(objs []*Object) {
	slices.SortFunc(objs, func(a, b *Object) int { return strings.Compare(key(a.Name), key(b.Name)) })
}

// overlay is a scratch view of a catalog that a script's statements are
// checked against: each statement sees what the earlier ones created or
// dropped, and nothing reaches the base until the whole script is clean.
type overlay struct {
	base Catalog
	objs map[string]*Object // nil value: dropped in this script
}

func newOverlay(base Catalog) *overlay {
	return &overlay{base: base, objs: map[string]*Object{}}
}

func (o *overlay) Lookup(name string) (*Object, bool) {
	if obj, ok := o.objs[key(name)]; ok {
		return obj, obj != nil
	}
	return o.base.Lookup(name)
}

func (o *overlay) List(kind sql.ObjectKind) []*Object {
	var out []*Object
	for _, obj := range o.base.List(kind) {
		if _, shadowed := o.objs[key(obj.Name)]; !shadowed {
			out = append(out, obj)
		}
	}
	for _, obj := range o.objs {
		if obj != nil && obj.Kind == kind {
			out = append(out, obj)
		}
	}
	sortObjects(out)
	return out
}

func (o *overlay) UsedBy(name string) []string {
	var out []string
	for _, p := range o.base.UsedBy(name) {
		if _, shadowed := o.objs[key(p)]; !shadowed {
			out = append(out, p)
		}
	}
	for _, obj := range o.objs {
		if obj != nil && obj.Kind == sql.ObjPipeline && obj.Pipeline.Uses(name) {
			out = append(out, obj.Name)
		}
	}
	slices.Sort(out)
	return out
}

func (o *overlay) put(obj *Object)    { o.objs[key(obj.Name)] = obj }
func (o *overlay) remove(name string) { o.objs[key(name)] = nil }

// names returns the names of the objects of the given kinds, for "did you
// mean" hints.
func names(cat Catalog, kinds ...sql.ObjectKind) []string {
	var out []string
	for _, k := range kinds {
		for _, obj := range cat.List(k) {
			out = append(out, obj.Name)
		}
	}
	return out
}
