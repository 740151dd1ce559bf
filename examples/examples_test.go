package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scenarios are the example folders, each with its SQL, a README and a
// test of its own.
var scenarios = []string{"orders-dedup-join", "student-generator", "windowed-monitoring", "medallion"}

// sqlFiles returns every .sql file under examples/, relative to it.
func sqlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".sql") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestExamplesValidate runs `sluice validate -f` on every .sql file under
// examples/, each on its own (every file stands alone), against a real
// server: each parses and plans.
func TestExamplesValidate(t *testing.T) {
	st := &stack{dataDir: t.TempDir(), filesDir: t.TempDir()}
	srv := st.startServer(t)
	files := sqlFiles(t)
	if len(files) < 7 {
		t.Fatalf("only %d .sql files under examples/: %v", len(files), files)
	}
	for _, f := range files {
		stdout, stderr, code := srv.sluice(t, "validate", "-f", f)
		if code != 0 || !strings.Contains(stdout, "pipeline ") {
			t.Errorf("sluice validate -f %s: exit %d\n%s%s", f, code, stdout, stderr)
		}
	}
}

var (
	optionRE = regexp.MustCompile(`(?i)([a-z_][a-z0-9_.]*)\s*=\s*'((?:[^']|'')*)'`)
	secretRE = regexp.MustCompile(`(?i)password|secret|token|credential`)
	// A URL or connection string with a password in it.
	inlineSecretRE = regexp.MustCompile(`(?i)://[^/@\s]*:[^/@\s]*@|password=`)
)

// TestExamplesKeepSecretsOutOfSQL checks that no example writes a secret
// in its text: secret options are env:NAME, and no URL carries a password.
func TestExamplesKeepSecretsOutOfSQL(t *testing.T) {
	for _, f := range sqlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range optionRE.FindAllStringSubmatch(string(b), -1) {
			key, value := m[1], m[2]
			if strings.HasPrefix(value, "env:") {
				continue
			}
			if secretRE.MatchString(key) || inlineSecretRE.MatchString(value) {
				t.Errorf("%s: %s = '%s' holds a secret in the SQL text; use %s = 'env:NAME'", f, key, value, key)
			}
		}
	}
}

// readme is what a scenario's README tells a user to run.
type readme struct {
	env     []string // variables set on the `make run` line
	topics  []string // --topics of the `make run` line
	applies []string // the files of its `bin/sluice apply -f` lines, relative to examples/
}

var (
	envRE    = regexp.MustCompile(`\b([A-Z][A-Z0-9_]*)=`)
	topicsRE = regexp.MustCompile(`--topics ([A-Za-z0-9._,-]+)`)
	applyRE  = regexp.MustCompile(`(?m)^bin/sluice apply -f examples/(\S+)`)
)

// readReadme reads the commands of dir's README.
func readReadme(t *testing.T, dir string) readme {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var r readme
	for _, line := range strings.Split(string(b), "\n") {
		before, _, ok := strings.Cut(line, "make run")
		if !ok || strings.HasPrefix(line, "`") {
			continue
		}
		for _, m := range envRE.FindAllStringSubmatch(before, -1) {
			r.env = append(r.env, m[1])
		}
		if m := topicsRE.FindStringSubmatch(line); m != nil {
			r.topics = strings.Split(m[1], ",")
		}
	}
	for _, m := range applyRE.FindAllStringSubmatch(string(b), -1) {
		r.applies = append(r.applies, m[1])
	}
	if len(r.applies) == 0 {
		t.Fatalf("%s/README.md has no `bin/sluice apply -f examples/…` command", dir)
	}
	return r
}

// applyAsReadme applies a scenario's files as its README says to.
func (s *server) applyAsReadme(t *testing.T, dir string) {
	t.Helper()
	s.apply(t, readReadme(t, dir).applies...)
}

var (
	envRefRE   = regexp.MustCompile(`'env:([A-Za-z_][A-Za-z0-9_]*)'`)
	topicOptRE = regexp.MustCompile(`(?i)\btopic\s*=\s*'([^']+)'`)
)

// TestExampleReadmes checks each scenario's README against its SQL: the
// `make run` line sets every variable the applied files read with env:,
// creates every topic they use that the demo does not, and the apply
// commands name files that exist (the scenario tests apply those).
func TestExampleReadmes(t *testing.T) {
	for _, dir := range scenarios {
		r := readReadme(t, dir)
		for _, f := range r.applies {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Errorf("%s/README.md: %v", dir, err)
				continue
			}
			for _, m := range envRefRE.FindAllStringSubmatch(string(b), -1) {
				if !slices.Contains(r.env, m[1]) {
					t.Errorf("%s/README.md: the make run line does not set %s, which %s reads", dir, m[1], f)
				}
			}
			for _, m := range topicOptRE.FindAllStringSubmatch(string(b), -1) {
				if m[1] != "orders" && m[1] != "users" && !slices.Contains(r.topics, m[1]) {
					t.Errorf("%s/README.md: make run does not create topic %s (--topics), which %s uses", dir, m[1], f)
				}
			}
		}
	}
}

// TestExamplesRunInCompose checks the compose stack at the repository's
// root against the examples: the sluice service mounts examples/ where
// their READMEs apply it from, and its environment sets every variable
// the examples read with env:.
func TestExamplesRunInCompose(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	sluice, ok := compose.Services["sluice"]
	if !ok {
		t.Fatal("docker-compose.yml has no sluice service")
	}
	if !slices.Contains(sluice.Volumes, "./examples:/examples:ro") {
		t.Errorf("the sluice service does not mount ./examples at /examples: %v", sluice.Volumes)
	}
	for _, dir := range scenarios {
		readmeText, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readmeText), "docker compose exec sluice sluice apply -f /examples/"+dir+"/") {
			t.Errorf("%s/README.md does not say how to apply it in compose", dir)
		}
		for _, f := range readReadme(t, dir).applies {
			sqlText, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envRefRE.FindAllStringSubmatch(string(sqlText), -1) {
				if _, ok := sluice.Environment[m[1]]; !ok {
					t.Errorf("%s reads env:%s, which the sluice service of docker-compose.yml does not set", f, m[1])
				}
			}
		}
	}
}
