// Package confine keeps the files Sluice writes for users (the file sink)
// under one directory, the files root: `sluice server` and `sluice dev`
// take it from --files-dir (default <data-dir>/files), `sluice run` from
// --files-dir (default the current directory). A relative path is taken
// under the root; a path that leads outside it — `../x`, an absolute path
// elsewhere, a symbolic link inside the root that points out — is refused,
// when a script is applied (by its text) and again when the file is opened
// (through os.Root, which follows no link out of the root). A symbolic link
// inside the root must be relative and stay inside.
//
// The root is process-wide, like the secret key: the command sets it at
// start. With no root set nothing is confined (Sluice used as a library).
// It depends on nothing of Sluice.
package confine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

var current struct {
	sync.RWMutex
	root string
}

// SetRoot makes dir (created when missing) the files root; "" confines
// nothing.
func SetRoot(dir string) error {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("files directory: %w", err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("files directory: %w", err)
		}
		if dir, err = filepath.EvalSymlinks(abs); err != nil {
			return fmt.Errorf("files directory: %w", err)
		}
	}
	current.Lock()
	current.root = dir
	current.Unlock()
	return nil
}

// Root returns the files root, "" when none is set.
func Root() string {
	current.RLock()
	defer current.RUnlock()
	return current.root
}

// OutsideError says that a path leads outside the files root.
type OutsideError struct {
	Path, Root string
	Link       string // the symbolic link that leads out, if known
	ByLink     bool   // a symbolic link leads out
}

func (e *OutsideError) Error() string {
	if e.Link != "" {
		return fmt.Sprintf("path %q leads outside the files directory %s: %s is a symbolic link out of it", e.Path, e.Root, e.Link)
	}
	if e.ByLink {
		return fmt.Sprintf("path %q leads outside the files directory %s through a symbolic link", e.Path, e.Root)
	}
	return fmt.Sprintf("path %q is outside the files directory %s", e.Path, e.Root)
}

// Rel returns path relative to the root (a relative path is under the
// root already), or an *OutsideError when it leads outside it — by its
// text, or through a symbolic link that exists now. With no root set it
// returns path unchanged and ok=false.
func Rel(path string) (rel string, ok bool, err error) {
	root := Root()
	if root == "" {
		return path, false, nil
	}
	if path == "" {
		return "", true, errors.New("the path is empty")
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, abs)
	}
	abs = filepath.Clean(abs)
	rel, err = filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", true, &OutsideError{Path: path, Root: root}
	}
	// Follow the links that exist now, from the root down.
	at := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		at = filepath.Join(at, part)
		fi, err := os.Lstat(at)
		if err != nil {
			break // the rest does not exist yet
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		// os.Root, which opens the file, takes a link with an absolute
		// target for one that leads out, wherever it points.
		if target, err := os.Readlink(at); err == nil && filepath.IsAbs(target) {
			return "", true, &OutsideError{Path: path, Root: root, Link: at}
		}
		to, err := filepath.EvalSymlinks(at)
		if err != nil {
			break
		}
		if r, err := filepath.Rel(root, to); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", true, &OutsideError{Path: path, Root: root, Link: at}
		}
	}
	return rel, true, nil
}

// OpenAppend opens path for appending, creating it and its directories.
// Under a root it opens through os.Root, so that no symbolic link leads
// out of the root even if one appears after Rel checked the path. It
// returns the directory holding the file too (for syncing its entry); the
// caller closes both.
func OpenAppend(path string) (f, dir *os.File, err error) {
	rel, ok, err := Rel(path)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, nil, err
		}
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			return nil, nil, err
		}
		dir, _ = os.Open(filepath.Dir(path))
		return f, dir, nil
	}
	r, err := os.OpenRoot(Root())
	if err != nil {
		return nil, nil, fmt.Errorf("files directory: %w", err)
	}
	defer r.Close()
	if d := filepath.Dir(rel); d != "." {
		if err := r.MkdirAll(d, 0o755); err != nil {
			return nil, nil, outside(path, err)
		}
	}
	if f, err = r.OpenFile(rel, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
		return nil, nil, outside(path, err)
	}
	dir, _ = r.Open(filepath.Dir(rel))
	return f, dir, nil
}

// outside turns os.Root's "path escapes from parent" into an OutsideError.
func outside(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return &OutsideError{Path: path, Root: Root(), ByLink: true}
	}
	return err
}
