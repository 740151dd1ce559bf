package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// Reloaded is a pipeline that another process changed in the catalog.
type Reloaded struct {
	Name string
	// Old is its plan before (nil when it is new); Gone is set when it
	// was dropped (it may have been created again since).
	Old  *dag.Graph
	Gone bool
}

// Reload reads the catalog again from its backend and brings the store in
// line with what other processes wrote to it (several servers on one
// PostgreSQL catalog). It returns the pipelines whose plan or wanted state
// changed; objects that did not change keep their planned objects, so a
// caller comparing plans sees them unchanged. Pipeline states (running,
// failed, …) set by other processes are taken in too.
func (s *Store) Reload(ctx context.Context) ([]Reloaded, error) {
	ents, err := s.b.load(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := map[string]*Entry{}
	same := len(ents) == len(s.entries)
	for i := range ents {
		e := &ents[i]
		fresh[key(e.Name)] = e
		if old := s.entries[key(e.Name)]; old == nil || !sameEntry(old, e) {
			same = false
		}
	}
	if same {
		// Only states changed, if anything: no planning needed.
		for k, e := range fresh {
			cp := *s.entries[k]
			newerState(&cp, e)
			s.entries[k] = &cp
		}
		return nil, nil
	}
	// Plan everything again in a scratch store, as at open, then carry over
	// what changed.
	scratch := &Store{mem: planner.NewMem(), b: s.b, now: s.now, entries: map[string]*Entry{}}
	rank := map[sql.ObjectKind]int{sql.ObjSource: 0, sql.ObjSink: 1, sql.ObjPipeline: 2}
	slices.SortStableFunc(ents, func(a, b Entry) int { return rank[a.Kind] - rank[b.Kind] })
	var loadErrs []error
	for i := range ents {
		e := ents[i]
		if err := scratch.rebuild(&e); err != nil {
			loadErrs = append(loadErrs, fmt.Errorf("%s %s: %w", strings.ToLower(string(e.Kind)), e.Name, err))
			continue
		}
		scratch.entries[key(e.Name)] = &e
	}
	var changes []planner.Change
	var out []Reloaded
	for k, old := range s.entries {
		if _, ok := scratch.entries[k]; ok {
			continue
		}
		changes = append(changes, planner.Change{Op: planner.OpDrop, Kind: old.Kind, Name: old.Name})
		if o, ok := s.mem.Lookup(k); ok && o.Pipeline != nil {
			out = append(out, Reloaded{Name: o.Name, Old: o.Pipeline.Graph, Gone: true})
		}
	}
	for k, e := range scratch.entries {
		nobj, _ := scratch.mem.Lookup(k)
		oobj, had := s.mem.Lookup(k)
		switch {
		case !had || oobj.Kind != nobj.Kind:
			changes = append(changes, planner.Change{Op: planner.OpCreate, Kind: nobj.Kind, Name: nobj.Name, Object: nobj})
			if nobj.Pipeline != nil {
				r := Reloaded{Name: nobj.Name}
				if had && oobj.Pipeline != nil {
					r.Old, r.Gone = oobj.Pipeline.Graph, true
				}
				out = append(out, r)
			}
		case nobj.Pipeline != nil:
			if oobj.SQL == nobj.SQL && samePlan(oobj.Pipeline.Graph, nobj.Pipeline.Graph) {
				if oobj.Pipeline.Running != nobj.Pipeline.Running {
					op := planner.OpStop
					if nobj.Pipeline.Running {
						op = planner.OpStart
					}
					changes = append(changes, planner.Change{Op: op, Kind: sql.ObjPipeline, Name: nobj.Name})
					out = append(out, Reloaded{Name: nobj.Name, Old: oobj.Pipeline.Graph})
				}
				continue
			}
			changes = append(changes, planner.Change{Op: planner.OpReplace, Kind: nobj.Kind, Name: nobj.Name, Object: nobj})
			out = append(out, Reloaded{Name: nobj.Name, Old: oobj.Pipeline.Graph})
		default:
			if old := s.entries[k]; old == nil || !sameEntry(old, e) {
				changes = append(changes, planner.Change{Op: planner.OpReplace, Kind: nobj.Kind, Name: nobj.Name, Object: nobj})
			}
		}
	}
	if err := s.mem.Apply(changes); err != nil {
		return nil, err
	}
	for k, e := range scratch.entries {
		if old := s.entries[k]; old != nil && old.Updated.After(e.Updated) {
			// This process changed it after the read.
			e.State, e.Error, e.Updated = old.State, old.Error, old.Updated
		}
	}
	s.entries = scratch.entries
	s.LoadErrors = loadErrs
	slices.SortFunc(out, func(a, b Reloaded) int { return strings.Compare(key(a.Name), key(b.Name)) })
	return out, nil
}

// newerState takes e's state into cur when it was recorded later: the
// read may predate a state this process has set since.
func newerState(cur, e *Entry) {
	if e.Updated.After(cur.Updated) {
		cur.State, cur.Error, cur.Updated = e.State, e.Error, e.Updated
	}
}

// sameEntry reports whether two records define the same object the same
// way (states aside).
func sameEntry(a, b *Entry) bool {
	return a.Kind == b.Kind && a.Name == b.Name && a.SQL == b.SQL && a.Canonical == b.Canonical && a.Running == b.Running &&
		slices.Equal(a.Sources, b.Sources) && a.Sink == b.Sink
}

// samePlan compares two plans by their JSON form: a pipeline planned
// again because its source was replaced may come out the same.
func samePlan(a, b *dag.Graph) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
