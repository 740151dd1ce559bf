package confine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRelAndOpen(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	if err := SetRoot(filepath.Join(base, "files")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetRoot("") })
	root := Root()
	os.MkdirAll(filepath.Join(root, "in"), 0o755)
	os.Symlink(outside, filepath.Join(root, "out"))                   // leads out
	os.Symlink("in", filepath.Join(root, "ok"))                       // stays in
	os.Symlink(filepath.Join(root, "in"), filepath.Join(root, "abs")) // absolute: os.Root refuses it
	for path, want := range map[string]string{
		"a.jsonl":                         "a.jsonl",
		"in/../b.jsonl":                   "b.jsonl",
		filepath.Join(root, "c", "d.txt"): filepath.Join("c", "d.txt"),
		"ok/e.jsonl":                      filepath.Join("ok", "e.jsonl"),
	} {
		if rel, ok, err := Rel(path); err != nil || !ok || rel != want {
			t.Errorf("Rel(%q) = %q, %v, %v; want %q", path, rel, ok, err, want)
		}
	}
	for _, path := range []string{"../x", "in/../../x", "/etc/passwd", filepath.Join(outside, "x"), "out/x", "abs/x", ".", root} {
		var oe *OutsideError
		if _, _, err := Rel(path); !errors.As(err, &oe) || oe.Root != root {
			t.Errorf("Rel(%q): %v", path, err)
		}
	}
	f, d, err := OpenAppend("ok/new/f.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.Close()
	if _, err := os.Stat(filepath.Join(root, "in", "new", "f.jsonl")); err != nil {
		t.Error(err)
	}
	// A link that appears between the check and the open is refused by
	// os.Root.
	if _, _, err := OpenAppend("out/x.jsonl"); err == nil {
		t.Error("opened through a link out of the root")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside: %v", entries)
	}
	SetRoot("")
	if rel, ok, err := Rel("/anywhere/x"); err != nil || ok || rel != "/anywhere/x" {
		t.Errorf("without a root: %q %v %v", rel, ok, err)
	}
}
