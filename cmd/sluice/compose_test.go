package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// No Docker engine runs where the tests run: these tests read
// docker-compose.yml and the Dockerfile and check what `docker compose up`
// relies on — the services and their images, health checks, start order,
// volumes and ports — and that every command and flag the file gives the
// sluice binary is one the binary accepts, so the file cannot drift from
// the code.

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	PullPolicy  string         `yaml:"pull_policy"`
	Command     []string       `yaml:"command"`
	Environment map[string]any `yaml:"environment"`
	Ports       []string       `yaml:"ports"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart         string `yaml:"restart"`
	Ulimits         any    `yaml:"ulimits"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func readCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key is an error, not ignored
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return &c
}

// imageTag splits an image reference into repository and tag.
func imageTag(t *testing.T, svc, image string) (repo, tag string) {
	t.Helper()
	repo, tag, ok := strings.Cut(image, ":")
	if !ok || tag == "" || tag == "latest" {
		t.Errorf("service %s: image %q has no pinned tag", svc, image)
	}
	return repo, tag
}

func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"kafka", "clickhouse", "postgres", "sluice"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	for name, s := range c.Services {
		if strings.Contains(strings.ToLower(name+s.Image), "zookeeper") {
			t.Errorf("service %s: Kafka runs in KRaft mode, without ZooKeeper", name)
		}
	}

	// Kafka: an Apache Kafka image in KRaft mode (broker and controller
	// in one process), a listener for the other containers and one for
	// the host.
	k := c.Services["kafka"]
	if repo, tag := imageTag(t, "kafka", k.Image); repo != "apache/kafka" {
		t.Errorf("kafka image %q: want apache/kafka", k.Image)
	} else if major, _ := strconv.Atoi(strings.SplitN(tag, ".", 2)[0]); major < 4 {
		t.Errorf("kafka image %q: want Kafka 4 or later (KRaft only)", k.Image)
	}
	env := func(s composeService, k string) string { return fmt.Sprint(s.Environment[k]) }
	if roles := env(k, "KAFKA_PROCESS_ROLES"); !strings.Contains(roles, "controller") || !strings.Contains(roles, "broker") {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES = %q, want broker,controller (KRaft)", roles)
	}
	adv := env(k, "KAFKA_ADVERTISED_LISTENERS")
	brokers := env(c.Services["sluice"], "KAFKA_BROKERS")
	if !strings.Contains(adv, "//"+brokers) {
		t.Errorf("sluice's KAFKA_BROKERS %q is not among Kafka's advertised listeners %q", brokers, adv)
	}
	if !strings.Contains(adv, "//localhost:9092") || !slices.Contains(k.Ports, "127.0.0.1:9092:9092") {
		t.Errorf("kafka: the host's clients need localhost:9092 advertised and published; listeners %q, ports %q", adv, k.Ports)
	}

	if repo, tag := imageTag(t, "clickhouse", c.Services["clickhouse"].Image); repo != "clickhouse/clickhouse-server" {
		t.Errorf("clickhouse image %q: want clickhouse/clickhouse-server", repo)
	} else if year, _ := strconv.Atoi(strings.SplitN(tag, ".", 2)[0]); year < 24 {
		t.Errorf("clickhouse image %q: want a current release (24 or later)", tag)
	}

	// PostgreSQL 18 images keep their data under /var/lib/postgresql/18
	// and refuse a volume at the old /var/lib/postgresql/data.
	pg := c.Services["postgres"]
	_, tag := imageTag(t, "postgres", pg.Image)
	major, err := strconv.Atoi(strings.SplitN(tag, ".", 2)[0])
	if err != nil || major < 16 {
		t.Errorf("postgres image %q: want PostgreSQL 16 or later", pg.Image)
	}
	wantPG := "/var/lib/postgresql/data"
	if major >= 18 {
		wantPG = "/var/lib/postgresql"
	}
	if !slices.ContainsFunc(pg.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+wantPG) }) {
		t.Errorf("postgres %d: volumes %q, want one at %s", major, pg.Volumes, wantPG)
	}

	// Sluice: built from the repository's Dockerfile, the editor on
	// localhost:8080 and nowhere else.
	s := c.Services["sluice"]
	if s.Build != "." {
		t.Errorf("sluice: build = %v, want . (the Dockerfile at the repository root)", s.Build)
	}
	// A stop checkpoints every pipeline, within the server's 30 s stop
	// timeout; Docker's default grace is 10 s before SIGKILL.
	if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d < 30*time.Second {
		t.Errorf("sluice: stop_grace_period %q, want at least 30s", s.StopGracePeriod)
	}
	if !slices.Contains(s.Ports, "127.0.0.1:8080:8080") {
		t.Errorf("sluice: ports %q, want 127.0.0.1:8080:8080", s.Ports)
	}
	for name, svc := range c.Services {
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q on every interface; publish on 127.0.0.1", name, p)
			}
		}
	}
}

func TestComposeHealthAndOrder(t *testing.T) {
	c := readCompose(t)
	for name, s := range c.Services {
		if s.Restart == "no" {
			continue // one-shot set-up jobs
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Retries == 0 {
			t.Errorf("service %s has no health check (test and retries)", name)
		}
	}
	hc := strings.Join(c.Services["sluice"].Healthcheck.Test, " ")
	if !strings.Contains(hc, "http://127.0.0.1:8080/readyz") {
		t.Errorf("sluice health check %q: want a GET of /readyz on the port it listens on", hc)
	}
	// Every service something waits for healthy has a health check, and
	// one waited for to complete is a one-shot job.
	for name, s := range c.Services {
		for dep, d := range s.DependsOn {
			ds, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on unknown service %s", name, dep)
			case d.Condition == "service_healthy" && ds.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no health check", name, dep)
			case d.Condition == "service_completed_successfully" && ds.Restart != "no":
				t.Errorf("service %s waits for %s to complete, which restarts", name, dep)
			case d.Condition != "service_healthy" && d.Condition != "service_completed_successfully":
				t.Errorf("service %s depends on %s with condition %q: wait for it to be healthy", name, dep, d.Condition)
			}
		}
	}
	for _, dep := range []string{"postgres", "kafka", "clickhouse"} {
		if c.Services["sluice"].DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("sluice must wait for %s to be healthy", dep)
		}
	}
}

func TestComposeVolumes(t *testing.T) {
	c := readCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("service %s mounts %s, which is not in the repository", name, src)
				}
				continue
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: volume %s is not declared under volumes:", name, src)
			}
		}
	}
	// The services that keep data keep it in named volumes.
	want := map[string]string{"kafka": "/var/lib/kafka/data", "clickhouse": "/var/lib/clickhouse", "sluice": "/var/lib/sluice"}
	for svc, dir := range want {
		if !slices.ContainsFunc(c.Services[svc].Volumes, func(v string) bool {
			src, dst, _ := strings.Cut(v, ":")
			_, named := c.Volumes[src]
			return dst == dir && named
		}) {
			t.Errorf("service %s keeps no named volume at %s", svc, dir)
		}
	}
	if got := fmt.Sprint(c.Services["kafka"].Environment["KAFKA_LOG_DIRS"]); got != want["kafka"] {
		t.Errorf("kafka writes its log to %s, not to its volume at %s", got, want["kafka"])
	}
}

// TestComposeSluiceCommands checks what the compose file asks of the
// binary: the server's flags and environment, the apply job's flags and
// script, and the env: references of the script.
func TestComposeSluiceCommands(t *testing.T) {
	c := readCompose(t)
	s := c.Services["sluice"]
	if len(s.Command) == 0 || s.Command[0] != "server" {
		t.Fatalf("sluice: command %q, want server …", s.Command)
	}
	// -h after the flags makes the flag set parse them all and stop
	// before anything starts: an unknown flag or a bad value is exit 2.
	checkFlags := func(svc string, cmd func([]string, io.Writer, io.Writer) error, args []string) {
		var stderr bytes.Buffer
		err := cmd(append(slices.Clone(args), "-h"), io.Discard, &stderr)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 0 {
			t.Errorf("service %s: sluice %q does not parse: %v\n%s", svc, args, err, stderr.String())
		}
	}
	checkFlags("sluice", serverCmd, s.Command[1:])
	if i := slices.Index(s.Command, "-listen"); i < 0 || s.Command[i+1] != ":8080" {
		t.Errorf("sluice: command %q should listen on :8080, the port published and checked", s.Command)
	}
	if i := slices.Index(s.Command, "-data-dir"); i < 0 || !slices.Contains(s.Volumes, "sluice-data:"+s.Command[i+1]) {
		t.Errorf("sluice: -data-dir of %q is not on the sluice-data volume %q", s.Command, s.Volumes)
	}

	// Every SLUICE_ variable set is one the binary reads.
	known := map[string]bool{}
	re := regexp.MustCompile(`"(SLUICE_[A-Z_]+)"`)
	for _, glob := range []string{"*.go", "../../server/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(f)
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				known[m[1]] = true
			}
		}
	}
	for _, svc := range []string{"sluice", "sluice-init"} {
		for k := range c.Services[svc].Environment {
			if strings.HasPrefix(k, "SLUICE_") && !known[k] {
				t.Errorf("service %s sets %s, which sluice does not read", svc, k)
			}
		}
	}
	if pg := fmt.Sprint(s.Environment["SLUICE_POSTGRES_URL"]); !strings.Contains(pg, "@postgres:5432/") {
		t.Errorf("sluice: SLUICE_POSTGRES_URL %q does not point at the postgres service", pg)
	}

	// The apply job: its flags parse, its script is in the repository,
	// plans, and reads only variables the server has.
	in := c.Services["sluice-init"]
	if in.Image != s.Image || in.PullPolicy != "never" {
		t.Errorf("sluice-init: image %q (pull_policy %q), want the sluice service's %q, never pulled", in.Image, in.PullPolicy, s.Image)
	}
	if len(in.Command) == 0 || in.Command[0] != "apply" {
		t.Fatalf("sluice-init: command %q, want apply …", in.Command)
	}
	checkFlags("sluice-init", applyCmd, in.Command[1:])
	if j := slices.Index(in.Command, "--server"); j < 0 || in.Command[j+1] != "http://sluice:8080" {
		t.Errorf("sluice-init: command %q should apply to the sluice service, --server http://sluice:8080", in.Command)
	}
	i := slices.Index(in.Command, "-f")
	if i < 0 {
		t.Fatalf("sluice-init: command %q has no -f", in.Command)
	}
	script := hostPath(t, in.Volumes, in.Command[i+1])
	if err := explainCmd([]string{"-f", script}, io.Discard, io.Discard); err != nil {
		t.Errorf("sluice-init applies %s, which does not plan: %v", script, err)
	}
	b, _ := os.ReadFile(script)
	refs := regexp.MustCompile(`'env:([A-Za-z_][A-Za-z0-9_]*)'`).FindAllStringSubmatch(string(b), -1)
	if len(refs) == 0 {
		t.Errorf("%s gives no address or credential as env:NAME", script)
	}
	for _, m := range refs {
		if _, ok := s.Environment[m[1]]; !ok {
			t.Errorf("%s reads env:%s, which the sluice service does not set", script, m[1])
		}
	}
	// The example scenarios run in compose (docs/operations.md): every
	// variable their scripts read is set in the sluice service.
	examples, _ := filepath.Glob("../../examples/*/*.sql")
	for _, f := range examples {
		b, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`'env:([A-Za-z_][A-Za-z0-9_]*)'`).FindAllStringSubmatch(string(b), -1) {
			if _, ok := s.Environment[m[1]]; !ok {
				t.Errorf("%s reads env:%s, which the compose file's sluice service does not set", f, m[1])
			}
		}
	}
	for _, pw := range []string{"password = '", "sasl_password = '"} {
		for _, line := range strings.Split(string(b), "\n") {
			if j := strings.Index(line, pw); j >= 0 && !strings.HasPrefix(line[j+len(pw):], "env:") {
				t.Errorf("%s: a password in the script's text: %s", script, strings.TrimSpace(line))
			}
		}
	}
}

// hostPath maps a path inside a container to the repository file mounted
// there.
func hostPath(t *testing.T, volumes []string, p string) string {
	t.Helper()
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if rel, ok := strings.CutPrefix(p, parts[1]+"/"); ok {
			return filepath.Join("../..", parts[0], rel)
		}
	}
	t.Fatalf("%s is not mounted from the repository (volumes %q)", p, volumes)
	return ""
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: want a build stage and a runtime stage, found %d FROM lines", len(froms))
	}
	// The build stage's Go is at least the go.mod's.
	mod, _ := os.ReadFile("../../go.mod")
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(mod))[1]
	m := regexp.MustCompile(`^golang:(\d+\.\d+)`).FindStringSubmatch(froms[0][1])
	if m == nil || versionLess(m[1], goVer) {
		t.Errorf("Dockerfile build stage %q: want golang:%s or later (go.mod)", froms[0][1], goVer)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sluice", "EXPOSE 8080", `ENTRYPOINT ["sluice"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "root") || strings.HasPrefix(users[len(users)-1][1], "0") {
		t.Errorf("Dockerfile: the runtime stage must run as a user other than root, USER lines %q", users)
	}
	// The build context keeps what the build needs.
	ign, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ign), "\n") {
		line = strings.TrimSpace(line)
		for _, need := range []string{"go.mod", "go.sum", "web/ui/dist", "cmd", "web"} {
			if line != "" && !strings.HasPrefix(line, "#") && (line == need || strings.HasPrefix(need, line+"/")) {
				t.Errorf(".dockerignore drops %s, which the build needs", need)
			}
		}
	}
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 2; i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// TestComposeConfig runs Docker Compose's own validation when a compose
// tool is installed.
func TestComposeConfig(t *testing.T) {
	var cmd *exec.Cmd
	if _, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command("docker-compose", "-f", "../../docker-compose.yml", "config", "-q")
	} else if exec.Command("docker", "compose", "version").Run() == nil {
		cmd = exec.Command("docker", "compose", "-f", "../../docker-compose.yml", "config", "-q")
	} else {
		t.Skip("neither docker-compose nor the docker compose plugin is installed: docker-compose.yml is checked by the other tests of this file only")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}
