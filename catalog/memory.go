package catalog

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory keeps a catalog in memory only, for `sluice run`, whose catalog
// is the script it runs and lives as long as the process. Opening the same
// Memory again sees what the last store over it kept, as reopening an
// embedded catalog directory does.
type Memory struct {
	mu   sync.Mutex
	objs []Entry
}

// OpenMemory opens a store over m; a nil m starts an empty catalog.
func OpenMemory(ctx context.Context, m *Memory) (*Store, error) {
	if m == nil {
		m = &Memory{}
	}
	return open(ctx, m)
}

func (m *Memory) load(context.Context) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.objs), nil
}

func (m *Memory) write(_ context.Context, puts []Entry, dels []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs = slices.DeleteFunc(m.objs, func(e Entry) bool {
		k := key(e.Name)
		return slices.Contains(dels, k) || slices.ContainsFunc(puts, func(p Entry) bool { return key(p.Name) == k })
	})
	m.objs = append(m.objs, puts...)
	return nil
}

func (m *Memory) setState(_ context.Context, name string, st State, msg string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.objs {
		if strings.EqualFold(m.objs[i].Name, name) {
			m.objs[i].State, m.objs[i].Error, m.objs[i].Updated = st, msg, at
			return nil
		}
	}
	return ErrNotFound
}

func (m *Memory) close() error { return nil }
