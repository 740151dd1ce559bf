package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// fileVersion is the format of catalog.json. A newer file than this code
// understands is refused rather than rewritten without its new fields.
const fileVersion = 1

type fileDoc struct {
	Version int     `json:"version"`
	Objects []Entry `json:"objects"`
}

// fileBackend keeps the whole catalog in one JSON file, replaced
// atomically on every write. Catalogs are small (objects, not rows), so
// rewriting the file is cheaper than the complexity of a log.
type fileBackend struct {
	path string
	mu   sync.Mutex
	doc  fileDoc
	lock *os.File
}

// OpenDir opens (creating when needed) the embedded catalog in dir.
func OpenDir(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("catalog directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	b := &fileBackend{path: filepath.Join(dir, "catalog.json"), lock: lock}
	s, err := open(ctx, b)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func (b *fileBackend) load(context.Context) ([]Entry, error) {
	raw, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		b.doc = fileDoc{Version: fileVersion}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	if err := json.Unmarshal(raw, &b.doc); err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", b.path, err)
	}
	if b.doc.Version > fileVersion {
		return nil, fmt.Errorf("catalog %s has format version %d; this sluice reads up to %d", b.path, b.doc.Version, fileVersion)
	}
	b.doc.Version = fileVersion
	return slices.Clone(b.doc.Objects), nil
}

func (b *fileBackend) write(_ context.Context, puts []Entry, dels []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	objs := slices.Clone(b.doc.Objects)
	objs = slices.DeleteFunc(objs, func(e Entry) bool {
		k := key(e.Name)
		return slices.Contains(dels, k) || slices.ContainsFunc(puts, func(p Entry) bool { return key(p.Name) == k })
	})
	objs = append(objs, puts...)
	return b.save(objs)
}

func (b *fileBackend) setState(_ context.Context, name string, st State, msg string, at time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	objs := slices.Clone(b.doc.Objects)
	for i := range objs {
		if strings.EqualFold(objs[i].Name, name) {
			objs[i].State, objs[i].Error, objs[i].Updated = st, msg, at
			return b.save(objs)
		}
	}
	return ErrNotFound
}

// save replaces the file: write a temporary file, sync it, rename it over
// the old one and sync the directory, so a crash leaves the old or the new
// catalog and never a torn one.
func (b *fileBackend) save(objs []Entry) error {
	slices.SortFunc(objs, func(x, y Entry) int { return strings.Compare(key(x.Name), key(y.Name)) })
	doc := fileDoc{Version: fileVersion, Objects: objs}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".catalog-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(b.path)); err == nil {
		d.Sync()
		d.Close()
	}
	b.doc = doc
	return nil
}

func (b *fileBackend) close() error {
	if b.lock == nil {
		return nil
	}
	return b.lock.Close()
}
