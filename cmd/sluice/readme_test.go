package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readmeCommands returns the CLI commands of the README's "Using it" block
// and its curl example, as written.
func readmeCommands(t *testing.T) ([][]string, string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, using, ok := strings.Cut(readme, "## Using it")
	if !ok {
		t.Fatal("README has no Using it section")
	}
	_, block, _ := strings.Cut(using, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var cmds [][]string
	word := regexp.MustCompile(`"[^"]*"|\S+`)
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, c := range strings.Split(line, ";") {
			var argv []string
			for _, w := range word.FindAllString(strings.TrimSpace(c), -1) {
				argv = append(argv, strings.Trim(w, `"`))
			}
			if len(argv) > 0 {
				if argv[0] != "bin/sluice" {
					t.Fatalf("README command %q does not start with bin/sluice", c)
				}
				cmds = append(cmds, argv[1:])
			}
		}
	}
	curl := regexp.MustCompile("`curl --data-binary @examples/orders.sql\\s+'([^']+)'`").FindStringSubmatch(readme)
	if curl == nil {
		t.Fatal("README has no curl example")
	}
	return cmds, curl[1]
}

// TestReadmePath follows the README against a real `sluice dev` process on
// free ports: the banner shows the ports and the commands with --server,
// every CLI command of "Using it" does what the README says, the curl
// example applies, and apply and start report a pipeline that fails at
// once.
func TestReadmePath(t *testing.T) {
	cmds, curlTarget := readmeCommands(t)
	if len(cmds) < 6 {
		t.Fatalf("README commands: %q", cmds)
	}
	api, kafka := freePort(t), freePort(t)
	dir := t.TempDir()
	argv, _ := json.Marshal([]string{"dev", "--listen", "127.0.0.1:" + strconv.Itoa(api), "--kafka-port", strconv.Itoa(kafka),
		"--data-dir", dir, "--clickhouse", "clickhouse://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/default"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops") {
				banner <- b.String()
			}
		}
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(60 * time.Second):
		t.Fatal("sluice dev printed no banner")
	}
	url := "http://127.0.0.1:" + strconv.Itoa(api)
	for _, want := range []string{"open " + url, "localhost:" + strconv.Itoa(kafka), "bin/sluice pipelines --server " + url,
		"bin/sluice validate -f examples/orders.sql --server " + url, "--kafka-port (the broker, now " + strconv.Itoa(kafka) + ")"} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}
	// The demo runs: wait until it has written enriched orders.
	waitUntil(t, "the demo to write", 60*time.Second, func() bool {
		return countLines(filepath.Join(dir, "files", "orders_enriched.jsonl")) > 0
	})

	// The README's commands run from the repository's root.
	t.Chdir("../..")
	run := func(args []string) (string, string, int) {
		t.Helper()
		return sluice(append(args, "--server", url)...)
	}
	// Every command but apply first, on the running demo, in README order.
	var apply []string
	for _, c := range cmds {
		if c[0] == "apply" {
			apply = c
			continue
		}
		stdout, stderr, code := run(c)
		if code != 0 {
			t.Errorf("sluice %s: exit %d\n%s%s", strings.Join(c, " "), code, stdout, stderr)
		}
		if c[0] == "validate" && (!strings.Contains(stdout, "pipeline enrich_orders:") || !strings.Contains(stdout, "└── source users")) {
			t.Errorf("validate shows no plan:\n%s", stdout)
		}
		// One plan per pipeline: the one that would run after the
		// script, with the script's sink and brokers, not the plans of
		// the replans in between.
		if c[0] == "validate" && (strings.Count(stdout, "pipeline enrich_orders:") != 1 || !strings.Contains(stdout, "connector: clickhouse") ||
			strings.Contains(stdout, "connector: file") || strings.Contains(stdout, "localhost:"+strconv.Itoa(kafka))) {
			t.Errorf("validate shows plans other than the final one:\n%s", stdout)
		}
		if c[0] == "start" && !strings.Contains(stdout, "pipeline enrich_orders started") {
			t.Errorf("start: %s%s", stdout, stderr)
		}
	}
	// apply re-points the demo at Kafka on 9092 and ClickHouse on 9000, which
	// are not there here: the README says it reports the failure.
	if apply == nil {
		t.Fatal("README has no apply command")
	}
	stdout, stderr, code := run(apply)
	if code != 1 || !strings.Contains(stdout, "sink orders_enriched replaced") ||
		!strings.Contains(stderr, "pipeline enrich_orders failed: ") || !strings.Contains(stderr, "connection refused") {
		t.Errorf("apply of examples/orders.sql to the demo: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, stderr, code := run([]string{"start", "enrich_orders"}); code != 1 || !strings.Contains(stderr, "pipeline enrich_orders failed: ") ||
		strings.Contains(stdout, "started") {
		t.Errorf("start of a pipeline that fails at once: exit %d\n%s%s", code, stdout, stderr)
	}
	// The README's curl: the same script over HTTP applies (now unchanged).
	target := strings.Replace(curlTarget, "localhost:8080", "127.0.0.1:"+strconv.Itoa(api), 1)
	f, err := os.Open("examples/orders.sql")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp, err := http.Post("http://"+target, "application/x-www-form-urlencoded", f) // what curl --data-binary sends
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"applied": true`) {
		t.Errorf("the README's curl: %d %s", resp.StatusCode, body)
	}
}

// TestReadmeWithoutServer runs the README's "Without a server" commands as
// written: explain prints the example's plan, and run runs
// examples/run.sql, which needs no service, prints its rows and exits 0
// on SIGINT.
func TestReadmeWithoutServer(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "Without a server:")
	if !ok {
		t.Fatal("README has no Without a server section")
	}
	_, block, _ := strings.Cut(rest, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var explain, run []string
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		argv := strings.Fields(line)
		switch {
		case len(argv) < 2:
		case argv[0] != "bin/sluice":
			t.Fatalf("README command %q does not start with bin/sluice", line)
		case argv[1] == "explain":
			explain = argv[1:]
		case argv[1] == "run":
			run = argv[1:]
		}
	}
	if explain == nil || run == nil {
		t.Fatalf("README lacks explain or run: %q", block)
	}
	t.Chdir("../..")
	if stdout, stderr, code := sluice(explain...); code != 0 || !strings.Contains(stdout, "pipeline enrich_orders") {
		t.Errorf("sluice %s: exit %d\n%s%s", strings.Join(explain, " "), code, stdout, stderr)
	}

	dir := t.TempDir()
	argv, _ := json.Marshal(append(run, "--state-dir", filepath.Join(dir, "state"), "--files-dir", dir))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &syncWriter{b: &stdout}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := cmd.Stdout.(*syncWriter)
	waitUntil(t, "rows from sluice run", 60*time.Second, func() bool { return strings.Contains(out.String(), `"clicks":`) })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("sluice %s: %v\n%s", strings.Join(run, " "), err, stderr.String())
	}
}

// syncWriter is a strings.Builder that a process writes while the test
// reads it.
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
