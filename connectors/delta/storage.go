package delta

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/sluice-sql/sluice/confine"
)

// Storage holds one table: its data files at the top and its log under
// _delta_log/. Names are slash-separated and relative to the table. The
// sink needs nothing more from a store, so an object store (S3 and the
// stores that speak its API) can implement it: Create as a multipart
// upload completed at Close, PutIfAbsent as a conditional PUT
// (If-None-Match: *), List as a listing with a prefix. docs/connectors.md
// says what a user needs for one.
type Storage interface {
	// Create returns a writer for a new object that is complete and
	// durable once Close returns nil.
	Create(name string) (io.WriteCloser, error)
	// Read returns the whole object, or an error wrapping fs.ErrNotExist.
	Read(name string) ([]byte, error)
	// List returns the names of the objects directly under dir, sorted.
	List(dir string) ([]string, error)
	// PutIfAbsent stores data under name only if no object has that name,
	// atomically: readers see all of data or nothing. When one exists it
	// returns an error wrapping fs.ErrExist. This is the mutual exclusion
	// of Delta's log (PROTOCOL.md, "Delta Log Entries": writers must
	// never overwrite an existing log entry).
	PutIfAbsent(name string, data []byte) error
	// Put stores data under name, replacing any object atomically.
	Put(name string, data []byte) error
	// Delete removes an object; a missing one is not an error.
	Delete(name string) error
	Close() error
}

// dirStorage is a table in a local directory, opened through os.Root so
// that nothing outside it is written, even through a symbolic link.
type dirStorage struct {
	root *os.Root
}

// openDir opens (creating it when missing) the table directory at p.
// Under the files root (package confine) p is taken relative to it and
// must stay inside it, as the file sink's path.
func openDir(p string) (*dirStorage, error) {
	rel, ok, err := confine.Rel(p)
	if err != nil {
		return nil, err
	}
	var r *os.Root
	if ok {
		base, err := os.OpenRoot(confine.Root())
		if err != nil {
			return nil, fmt.Errorf("files directory: %w", err)
		}
		defer base.Close()
		if err := base.MkdirAll(rel, 0o755); err != nil {
			return nil, fmt.Errorf("create table directory %s: %w", p, err)
		}
		if r, err = base.OpenRoot(rel); err != nil {
			return nil, fmt.Errorf("open table directory %s: %w", p, err)
		}
	} else {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("create table directory: %w", err)
		}
		if r, err = os.OpenRoot(p); err != nil {
			return nil, fmt.Errorf("open table directory: %w", err)
		}
	}
	if err := r.MkdirAll(logDir, 0o755); err != nil {
		r.Close()
		return nil, fmt.Errorf("create %s: %w", logDir, err)
	}
	return &dirStorage{root: r}, nil
}

func (d *dirStorage) syncDir(name string) {
	if f, err := d.root.Open(path.Dir(name)); err == nil {
		f.Sync()
		f.Close()
	}
}

type syncedFile struct {
	*os.File
	d    *dirStorage
	name string
}

// Close syncs the file and its directory entry before closing it.
func (f *syncedFile) Close() error {
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		return err
	}
	if err := f.File.Close(); err != nil {
		return err
	}
	f.d.syncDir(f.name)
	return nil
}

func (d *dirStorage) Create(name string) (io.WriteCloser, error) {
	if dir := path.Dir(name); dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &syncedFile{File: f, d: d, name: name}, nil
}

func (d *dirStorage) Read(name string) ([]byte, error) { return d.root.ReadFile(name) }

func (d *dirStorage) List(dir string) ([]string, error) {
	f, err := d.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// writeTemp writes data to a new temporary file beside name, synced.
func (d *dirStorage) writeTemp(name string, data []byte) (string, error) {
	// Unique across processes and across the sinks of one process that
	// commit the same version at once.
	tmp := path.Join(path.Dir(name), fmt.Sprintf(".%s.%s.tmp", path.Base(name), uuid.NewString()))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// PutIfAbsent writes a temporary file and links it to name: link(2)
// fails when name exists, so two writers never both create one log entry,
// and the entry appears complete.
func (d *dirStorage) PutIfAbsent(name string, data []byte) error {
	tmp, err := d.writeTemp(name, data)
	if err != nil {
		return err
	}
	defer d.root.Remove(tmp)
	if err := d.root.Link(tmp, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", name, fs.ErrExist)
		}
		return err
	}
	d.syncDir(name)
	return nil
}

func (d *dirStorage) Put(name string, data []byte) error {
	tmp, err := d.writeTemp(name, data)
	if err != nil {
		return err
	}
	if err := d.root.Rename(tmp, name); err != nil {
		d.root.Remove(tmp)
		return err
	}
	d.syncDir(name)
	return nil
}

func (d *dirStorage) Delete(name string) error {
	if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d *dirStorage) Close() error { return d.root.Close() }

// localPath returns the directory of a table path as the operating system
// sees it (under the files root when one is set), for messages.
func localPath(p string) string {
	if rel, ok, err := confine.Rel(p); ok && err == nil {
		return filepath.Join(confine.Root(), rel)
	}
	return strings.TrimSuffix(p, "/")
}
