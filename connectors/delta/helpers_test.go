package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var schemas struct {
	once          sync.Once
	action, stats *jsonschema.Schema
	err           error
}

func compileSchemas() {
	c := jsonschema.NewCompiler()
	c.AssertContent()
	for _, name := range []string{"actions.schema.json", "stats.schema.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			schemas.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			schemas.err = fmt.Errorf("%s: %w", name, err)
			return
		}
		if err := c.AddResource(name, doc); err != nil {
			schemas.err = err
			return
		}
	}
	if schemas.action, schemas.err = c.Compile("actions.schema.json"); schemas.err != nil {
		return
	}
	schemas.stats, schemas.err = c.Compile("stats.schema.json")
}

// validateLog checks every action of every log entry of the table at dir
// against testdata/actions.schema.json (written from PROTOCOL.md's
// Actions) and every add's stats against testdata/stats.schema.json, and
// that each entry with an add holds exactly one txn. It returns the
// number of entries.
func validateLog(t *testing.T, dir string) int {
	t.Helper()
	schemas.once.Do(compileSchemas)
	if schemas.err != nil {
		t.Fatal(schemas.err)
	}
	v := 0
	for ; ; v++ {
		name := filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.json", v))
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		adds, txns := 0, 0
		for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
			if err != nil {
				t.Fatalf("%s line %d: %v", name, n+1, err)
			}
			if err := schemas.action.Validate(inst); err != nil {
				t.Fatalf("%s line %d: %v\n%s", name, n+1, err, line)
			}
			var a action
			json.Unmarshal([]byte(line), &a)
			if a.Add != nil {
				adds++
				st, err := jsonschema.UnmarshalJSON(strings.NewReader(a.Add.Stats))
				if err != nil {
					t.Fatalf("%s line %d: stats: %v", name, n+1, err)
				}
				if err := schemas.stats.Validate(st); err != nil {
					t.Fatalf("%s line %d: stats: %v\n%s", name, n+1, err, a.Add.Stats)
				}
			}
			if a.Txn != nil {
				txns++
			}
		}
		if adds > 0 && txns != 1 {
			t.Fatalf("%s: %d add actions and %d txn actions", name, adds, txns)
		}
	}
	return v
}

// duckDB is what testdata/duckdb/read.mjs prints.
type duckDB struct {
	Files           []string             `json:"files"`
	CheckpointFiles int                  `json:"checkpointFiles"`
	Types           map[string]string    `json:"types"`
	Rows            []map[string]*string `json:"rows"`
	DeltaScan       string               `json:"deltaScan"`
}

var duck struct {
	once sync.Once
	dir  string
	err  error
	skip string
}

// installDuckDB installs testdata/duckdb's locked packages (DuckDB's Node
// API from the npm registry) into a cache directory outside the source
// tree, keyed by the lockfile, once per machine.
func installDuckDB() {
	if _, err := exec.LookPath("node"); err != nil {
		duck.skip = "node is not installed: the DuckDB reader test needs Node and npm"
		return
	}
	if _, err := exec.LookPath("npm"); err != nil {
		duck.skip = "npm is not installed: the DuckDB reader test needs Node and npm"
		return
	}
	lock, err := os.ReadFile("testdata/duckdb/package-lock.json")
	if err != nil {
		duck.err = err
		return
	}
	sum := sha256.Sum256(lock)
	dir := filepath.Join(os.TempDir(), "sluice-delta-duckdb-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err == nil {
		duck.dir = dir
		return
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "sluice-delta-duckdb-install-")
	if err != nil {
		duck.err = err
		return
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		data, _ := os.ReadFile(filepath.Join("testdata/duckdb", f))
		os.WriteFile(filepath.Join(tmp, f), data, 0o644)
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		duck.err = fmt.Errorf("npm ci: %v\n%s", err, out)
		os.RemoveAll(tmp)
		return
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp) // another test process installed it first
	}
	duck.dir = dir
}

// readWithDuckDB reads the table at dir with DuckDB (read.mjs): the
// files its log lists, and their rows.
func readWithDuckDB(t *testing.T, dir string) *duckDB {
	t.Helper()
	duck.once.Do(installDuckDB)
	if duck.skip != "" {
		t.Skip(duck.skip)
	}
	if duck.err != nil {
		t.Fatal(duck.err)
	}
	script, _ := filepath.Abs("testdata/duckdb/read.mjs")
	// read.mjs imports @duckdb/node-api: run a copy beside the installed
	// node_modules.
	runner := filepath.Join(duck.dir, "read.mjs")
	src, _ := os.ReadFile(script)
	if old, _ := os.ReadFile(runner); !bytes.Equal(old, src) {
		os.WriteFile(runner, src, 0o644)
	}
	cmd := exec.Command("node", runner, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb reader: %v\n%s", err, stderr.String())
	}
	var r duckDB
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("duckdb reader output: %v\n%s", err, out)
	}
	return &r
}

// parquetFiles lists the Parquet data files in the table directory.
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
