package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/web"
)

// sourceHash is the hash web/ui/build.mjs writes to dist/sources.sha256:
// sha256 over "<path>\0<sha256 of content>\n" for build.mjs, package.json,
// package-lock.json and every file under src/, sorted by path.
func sourceHash(t *testing.T, dir string) string {
	t.Helper()
	files := []string{"build.mjs", "package.json", "package-lock.json"}
	err := filepath.WalkDir(filepath.Join(dir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s\x00%s\n", f, hex.EncodeToString(sum[:]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBundleFresh fails when the committed bundle was not rebuilt after
// its sources changed.
func TestBundleFresh(t *testing.T) {
	built, err := os.ReadFile("ui/dist/sources.sha256")
	if err != nil {
		t.Fatalf("the bundle has no sources.sha256: run `make web`: %v", err)
	}
	if got, want := strings.TrimSpace(string(built)), sourceHash(t, "ui"); got != want {
		t.Fatalf("web/ui/dist is stale against web/ui/src, package.json, package-lock.json or build.mjs (built from %s, sources are %s): run `make web` and commit web/ui/dist", got, want)
	}
}

// TestPage serves the editor: index.html at /, naming bundles that are
// served under /assets/ with long cache lifetimes, gzip when accepted, and
// within the size budget.
func TestPage(t *testing.T) {
	h := web.Handler(web.Config{Server: start(t, web.Config{}).srv})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index.html Cache-Control = %q", cc)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self' ws://example.com wss://example.com;") {
		t.Errorf("index.html Content-Security-Policy = %q", csp)
	}
	page := rec.Body.String()
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("index.html names %d assets, want the script and the stylesheet:\n%s", len(refs), page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("index.html refers to another host:\n%s", page)
	}
	var gzipped int
	for _, ref := range refs {
		path := ref[1]
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d", path, rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s Cache-Control = %q", path, cc)
		}
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s not gzipped for a client that accepts it", path)
		}
		gzipped += rec.Body.Len()
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		// Without gzip: the same bytes, uncompressed.
		rec2 := httptest.NewRecorder()
		h.ServeHTTP(rec2, httptest.NewRequest("GET", path, nil))
		if rec2.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec2.Body.Bytes(), plain) {
			t.Errorf("%s: the plain answer differs from the gzip one", path)
		}
		if strings.HasSuffix(path, ".js") {
			for _, bad := range []string{"cdn.jsdelivr", "unpkg.com", "googleapis.com"} {
				if bytes.Contains(plain, []byte(bad)) {
					t.Errorf("the bundle refers to %s: the page must work offline", bad)
				}
			}
		}
	}
	if gzipped > 250<<10 {
		t.Errorf("the bundle is %d KB gzipped; the budget is 250 KB", gzipped>>10)
	}
	t.Logf("bundle: %.1f KB gzipped", float64(gzipped)/1024)
	for _, p := range []string{"/assets/", "/assets/nope.js", refs[0][1] + ".gz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
}

// TestSourceHashSeesEdits: the freshness check notices a change to any
// source file, and only to the sources (not to the built dist).
func TestSourceHashSeesEdits(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"build.mjs", "package.json", "package-lock.json", "src/main.js", "src/style.css", "dist/sources.sha256"} {
		b, err := os.ReadFile(filepath.Join("ui", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := sourceHash(t, dir)
	os.WriteFile(filepath.Join(dir, "dist", "sources.sha256"), []byte("changed\n"), 0o644)
	if sourceHash(t, dir) != before {
		t.Error("the hash covers dist/")
	}
	for _, f := range []string{"src/style.css", "package-lock.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(dir, f), append(b, ' '), 0o644)
		after := sourceHash(t, dir)
		if after == before {
			t.Errorf("editing %s leaves the hash alone", f)
		}
		before = after
	}
	os.WriteFile(filepath.Join(dir, "src", "new.js"), nil, 0o644)
	if sourceHash(t, dir) == before {
		t.Error("a new source file leaves the hash alone")
	}
}
