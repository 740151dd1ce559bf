// Package lint holds tests that keep the architecture's rules true: which
// top-level package may import which (see docs/architecture.md).
package lint

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sluice-sql/sluice"

// forbidden maps a package tree to the trees it must not depend on, directly
// or through other packages. The runtime sees the planner only through the
// DAG, so it never learns SQL.
var forbidden = map[string][]string{
	"sql":         {"planner", "runtime", "connectors", "web"},
	"planner":     {"runtime", "connectors", "web"},
	"planner/dag": {"sql", "planner", "runtime", "connectors", "web"},
	"runtime":     {"sql", "planner", "connectors", "web", "format/json"},
	"connectors":  {"sql", "web"},
	"web":         {"connectors"},
	// The catalog stores definitions and checkpoints; the server wires the
	// catalog, the planner and the runtime. Neither knows any connector
	// (cmd/sluice registers them) nor the HTTP layer on top of them.
	"catalog": {"connectors", "web", "server"},
	"server":  {"connectors", "web"},
	// secret seals and opens option values for the server and the
	// connectors alike; it depends on nothing of Sluice.
	"secret": {"sql", "planner", "runtime", "connectors", "web", "server", "catalog"},
	// confine keeps the files Sluice writes under the files root, for the
	// server and the file sink alike; it depends on nothing of Sluice.
	"confine": {"sql", "planner", "runtime", "connectors", "web", "server", "catalog", "secret"},
	// connector holds the connectors' declarations: the planner checks
	// WITH lists through it, the web API serves it. It is a leaf.
	"connector": {"sql", "planner", "planner/dag", "runtime", "connectors", "web", "server", "catalog", "secret"},
	// column holds the batches the runtime and the formats share: a leaf
	// beside the DAG's types.
	"column": {"sql", "planner", "runtime", "connectors", "connector", "web", "server", "catalog", "secret", "confine", "format", "format/json"},
	// format (the registry and the JSON scanner JSON_VALUE uses too) and
	// each record format (format/json) turn record bytes into columns and
	// columns into records; they know neither the runtime nor any
	// connector. The runtime sees a format only through format.Decoder.
	"format":      {"sql", "planner", "runtime", "connectors", "web", "server", "catalog"},
	"format/json": {"sql", "planner", "runtime", "connectors", "web", "server", "catalog"},
}

// allowed lists exceptions to forbidden: the runtime and connectors may use
// the DAG, which is pure data.
var allowed = []string{"planner/dag"}

// testsMay lists what the tests of a tree may link besides what the tree
// itself may: the web API's tests run real pipelines (datagen, files)
// behind the HTTP layer, so they wire in connectors/all as cmd/sluice does.
// The web package itself still never imports a connector.
// The runtime's and the server's tests read their test sources' records
// with the JSON format, which cmd/sluice registers through connectors/all.
var testsMay = map[string][]string{"web": {"connectors"}, "runtime": {"format/json"}, "server": {"format/json"}}

// isTest reports whether a go list path is a test variant or test main.
func isTest(path string) bool {
	return strings.Contains(path, " [") || strings.HasSuffix(path, ".test") || strings.HasSuffix(path, "_test")
}

// heavy are dependencies only the SQL front end may pull in: the TiDB parser
// takes ~30 s to compile, and the data path must not pay for it.
var heavy = map[string][]string{
	"runtime":     {"github.com/pingcap/tidb"},
	"connectors":  {"github.com/pingcap/tidb"},
	"planner/dag": {"github.com/pingcap/tidb"},
	"connector":   {"github.com/pingcap/tidb"},
	"format":      {"github.com/pingcap/tidb"},
	"format/json": {"github.com/pingcap/tidb"},
	"column":      {"github.com/pingcap/tidb"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	// -test lists each package's test variants too ("p [p.test]" and the
	// external "p_test [p.test]"), so the rules cover what tests import.
	cmd := exec.Command("go", "list", "-test", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// subtrees are trees of their own inside a top-level one: the DAG, being
// the contract, and each record format, which the runtime must not import
// although it may import the format registry.
var subtrees = []string{"planner/dag", "format/json"}

// tree returns the top-level tree of a project package path, or its
// subtree, or "" for packages outside the module.
func tree(path string) string {
	path, _, _ = strings.Cut(path, " ") // "p [p.test]": a test variant of p
	path = strings.TrimSuffix(path, "_test")
	path = strings.TrimSuffix(path, ".test") // the generated test main
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	for _, sub := range subtrees {
		if rel == sub || strings.HasPrefix(rel, sub+"/") {
			return sub
		}
	}
	top, _, _ := strings.Cut(rel, "/")
	return top
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		from := tree(p.ImportPath)
		for _, dep := range p.Deps {
			to := tree(dep)
			if to != "" && to != from {
				for _, f := range forbidden[from] {
					if to == f && !isAllowed(from, to) && !(isTest(p.ImportPath) && slices.Contains(testsMay[from], to)) {
						t.Errorf("%s depends on %s: %s must not import %s", p.ImportPath, dep, from, f)
					}
				}
			}
			for _, h := range heavy[from] {
				if strings.HasPrefix(dep, h) {
					t.Errorf("%s depends on %s: only the SQL front end may use it", p.ImportPath, dep)
				}
			}
		}
	}
}

func isAllowed(from, to string) bool {
	if from == "planner/dag" {
		return false
	}
	for _, a := range allowed {
		if to == a {
			return true
		}
	}
	return false
}

// TestTreeClassification pins the helper the rules rely on, so a rename of
// the module or of a folder cannot silently turn the rules off.
func TestTreeClassification(t *testing.T) {
	for path, want := range map[string]string{
		module + "/sql":                                "sql",
		module + "/planner":                            "planner",
		module + "/planner/dag":                        "planner/dag",
		module + "/runtime":                            "runtime",
		module + "/connectors/kafka":                   "connectors",
		module + "/connector":                          "connector",
		module + "/format":                             "format",
		module + "/format/jsonscan":                    "format",
		module + "/format/json":                        "format/json",
		module + "/column":                             "column",
		module + "/web":                                "web",
		module + "/web [" + module + "/web.test]":      "web",
		module + "/web_test [" + module + "/web.test]": "web",
		module + "/web.test":                           "web",
		"github.com/twmb/franz-go/pkg/kgo":             "",
	} {
		if got := tree(path); got != want {
			t.Errorf("tree(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestTestsAreListed pins that the rules see what tests import: the
// listing holds the test variants of packages with tests.
func TestTestsAreListed(t *testing.T) {
	var variants []string
	for _, p := range listPackages(t) {
		if isTest(p.ImportPath) && tree(p.ImportPath) == "planner" {
			variants = append(variants, p.ImportPath)
		}
	}
	if len(variants) == 0 {
		t.Fatal("go list shows no test variant of the planner: the rules would miss test imports")
	}
}
