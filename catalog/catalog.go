// Package catalog persists the Sluice catalog — sources, sinks and
// pipelines, their SQL, canonical form, dependencies and pipeline state —
// in PostgreSQL or, without one, in an embedded store in a local data
// directory. Both keep the same records and behave the same; the planner
// binds against an in-memory copy that every change is written through.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/sql"
)

// State is what a pipeline was last seen doing.
type State string

// Pipeline states. Sources and sinks have no state ("").
const (
	Running State = "running"
	Stopped State = "stopped"
	Failed  State = "failed"
)

// Entry is the persisted record of one catalog object. The planner's
// definitions are rebuilt from SQL at load, so the record holds text, not
// Go types, and survives changes to the planner's data structures.
type Entry struct {
	Kind      sql.ObjectKind `json:"kind"`
	Name      string         `json:"name"`
	SQL       string         `json:"sql"`
	Canonical string         `json:"canonical"`
	// Uses names, for a pipeline, its sources (in FROM/JOIN order) and
	// then its sink.
	Sources []string `json:"sources,omitempty"`
	Sink    string   `json:"sink,omitempty"`
	// Running is the state a pipeline should be in (START and STOP set
	// it); State and Error are what the server last saw it do.
	Running bool      `json:"running,omitempty"`
	State   State     `json:"state,omitempty"`
	Error   string    `json:"error,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// backend is where entries are kept. write applies puts and deletes
// atomically: after a crash either all of them are visible or none.
type backend interface {
	load(ctx context.Context) ([]Entry, error)
	write(ctx context.Context, puts []Entry, dels []string) error
	setState(ctx context.Context, name string, st State, msg string, at time.Time) error
	close() error
}

// Store is a planner.Store whose changes are persisted. Reads are served
// from memory; Apply writes the backend first and changes memory only when
// that succeeded, so memory never runs ahead of what a restart will see.
type Store struct {
	mem *planner.Mem
	b   backend
	// now is truncated to microseconds, what PostgreSQL keeps, so both
	// stores report the same times before and after a reload.
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]*Entry // by lower-case name

	// LoadErrors are the stored objects that no longer plan; they are kept
	// in the backend untouched and reported, not silently dropped.
	LoadErrors []error
}

var _ planner.Store = (*Store)(nil)

func key(name string) string { return strings.ToLower(name) }

// open loads b into a Store.
func open(ctx context.Context, b backend) (*Store, error) {
	s := &Store{mem: planner.NewMem(), b: b, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, entries: map[string]*Entry{}}
	ents, err := b.load(ctx)
	if err != nil {
		return nil, err
	}
	// Pipelines bind against sources and sinks, so those come first.
	rank := map[sql.ObjectKind]int{sql.ObjSource: 0, sql.ObjSink: 1, sql.ObjPipeline: 2}
	slices.SortStableFunc(ents, func(a, b Entry) int { return rank[a.Kind] - rank[b.Kind] })
	for i := range ents {
		e := ents[i]
		if err := s.rebuild(&e); err != nil {
			s.LoadErrors = append(s.LoadErrors, fmt.Errorf("%s %s: %w", strings.ToLower(string(e.Kind)), e.Name, err))
			continue
		}
		s.entries[key(e.Name)] = &e
	}
	return s, nil
}

// rebuild plans a stored object again against what is loaded so far.
func (s *Store) rebuild(e *Entry) error {
	script, errs := sql.Parse(e.SQL)
	if len(errs) > 0 {
		return errs
	}
	steps, errs := planner.Check(script, s.mem)
	if len(errs) > 0 {
		return errs
	}
	changes := planner.Changes(steps)
	if len(changes) != 1 || !strings.EqualFold(changes[0].Name, e.Name) {
		return fmt.Errorf("stored SQL is not one CREATE of %s", e.Name)
	}
	obj := changes[0].Object
	if obj.Pipeline != nil {
		cp := *obj.Pipeline
		cp.Running = e.Running
		nobj := *obj
		nobj.Pipeline = &cp
		obj = &nobj
	}
	// The stored canonical form stays authoritative for comparisons, so
	// that a change to the formatter does not make every object "changed".
	if e.Canonical != "" {
		obj.Canonical = e.Canonical
	}
	return s.mem.Apply([]planner.Change{{Op: planner.OpCreate, Kind: obj.Kind, Name: obj.Name, Object: obj}})
}

// Lookup implements planner.Catalog.
func (s *Store) Lookup(name string) (*planner.Object, bool) { return s.mem.Lookup(name) }

// List implements planner.Catalog.
func (s *Store) List(kind sql.ObjectKind) []*planner.Object { return s.mem.List(kind) }

// UsedBy implements planner.Catalog.
func (s *Store) UsedBy(name string) []string { return s.mem.UsedBy(name) }

// Apply implements planner.Store: the changes of one script are written in
// one transaction, or not at all.
func (s *Store) Apply(changes []planner.Change) error {
	return s.ApplyContext(context.Background(), changes)
}

// ApplyContext is Apply with a context for the backend write.
func (s *Store) ApplyContext(ctx context.Context, changes []planner.Change) error {
	if len(changes) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// Fold the script's changes per object: only the final state of each
	// is written, which is what one transaction would leave anyway.
	pending := map[string]*Entry{}
	deleted := map[string]bool{}
	var order []string
	current := func(name string) *Entry {
		k := key(name)
		if e, ok := pending[k]; ok {
			return e
		}
		if deleted[k] {
			return nil
		}
		return s.entries[k]
	}
	touch := func(k string) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	for _, c := range changes {
		k := key(c.Name)
		switch c.Op {
		case planner.OpCreate, planner.OpReplace:
			e := entryOf(c.Object, now)
			if old := current(c.Name); old != nil {
				e.Created = old.Created
				if e.Kind == sql.ObjPipeline && old.Kind == sql.ObjPipeline {
					e.State, e.Error = old.State, old.Error
				}
			}
			pending[k] = e
			delete(deleted, k)
			touch(k)
		case planner.OpDrop:
			delete(pending, k)
			deleted[k] = true
			touch(k)
		case planner.OpStart, planner.OpStop:
			old := current(c.Name)
			if old == nil {
				return fmt.Errorf("%s pipeline %s: not in the catalog", c.Op, c.Name)
			}
			e := *old
			e.Running = c.Op == planner.OpStart
			e.Updated = now
			pending[k] = &e
			touch(k)
		}
	}
	var puts []Entry
	var dels []string
	for _, k := range order {
		if e, ok := pending[k]; ok {
			puts = append(puts, *e)
		} else if deleted[k] {
			dels = append(dels, k)
		}
	}
	if err := s.b.write(ctx, puts, dels); err != nil {
		return fmt.Errorf("write catalog: %w", err)
	}
	if err := s.mem.Apply(changes); err != nil {
		return err
	}
	for _, k := range dels {
		delete(s.entries, k)
	}
	for i := range puts {
		e := puts[i]
		s.entries[key(e.Name)] = &e
	}
	return nil
}

func entryOf(o *planner.Object, now time.Time) *Entry {
	e := &Entry{Kind: o.Kind, Name: o.Name, SQL: o.SQL, Canonical: o.Canonical, Created: now, Updated: now}
	if p := o.Pipeline; p != nil {
		e.Sources = slices.Clone(p.Sources)
		e.Sink = p.Sink
		e.Running = p.Running
		e.State = Stopped
	}
	return e
}

// Entry returns the stored record of the object named name.
func (s *Store) Entry(name string) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[key(name)]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Entries returns the records of one kind, sorted by name.
func (s *Store) Entries(kind sql.ObjectKind) []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Entry
	for _, e := range s.entries {
		if e.Kind == kind {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(key(a.Name), key(b.Name)) })
	return out
}

// ErrNotFound is returned for a name that is not in the catalog.
var ErrNotFound = errors.New("not in the catalog")

// SetState records what a pipeline is doing. It does not change whether
// the pipeline should run: a failed pipeline stays wanted, so a restart of
// the server tries it again.
func (s *Store) SetState(ctx context.Context, name string, st State, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key(name)]
	if !ok || e.Kind != sql.ObjPipeline {
		return fmt.Errorf("set state of pipeline %s: %w", name, ErrNotFound)
	}
	if e.State == st && e.Error == msg {
		return nil
	}
	now := s.now()
	if err := s.b.setState(ctx, e.Name, st, msg, now); err != nil {
		return fmt.Errorf("set state of pipeline %s: %w", name, err)
	}
	cp := *e
	cp.State, cp.Error, cp.Updated = st, msg, now
	s.entries[key(name)] = &cp
	return nil
}

// Close releases the backend.
func (s *Store) Close() error { return s.b.close() }
