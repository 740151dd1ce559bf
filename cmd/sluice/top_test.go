package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTopAndDescribeOperators(t *testing.T) {
	url := testServer(t, "")
	dir := t.TempDir()
	script := `CREATE SOURCE ev (id UInt64, name String, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows_per_second = '300', duplicate_ratio = '0.3');
CREATE SINK out1 WITH (connector = 'file', path = '` + dir + `/1.jsonl');
CREATE SINK out2 WITH (connector = 'file', path = '` + dir + `/2.jsonl');
CREATE PIPELINE uniq AS INSERT INTO out1 SELECT id, name FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;
CREATE PIPELINE copy AS INSERT INTO out2 SELECT id, name FROM ev WHERE id > 10;
`
	os.WriteFile(dir+"/p.sql", []byte(script), 0o644)
	if stdout, stderr, code := sluice("apply", "-f", dir+"/p.sql", "--server", url); code != 0 {
		t.Fatalf("apply: %s%s", stdout, stderr)
	}

	// describe prints the operators with their counters.
	var stdout, stderr string
	var code int
	waitUntil(t, "dedup drops", 20*time.Second, func() bool {
		stdout, stderr, code = sluice("describe", "uniq", "--server", url)
		m := regexp.MustCompile(`(?m)^\s*1\s+dedup\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(stdout)
		return code == 0 && m != nil && m[3] != "0"
	})
	t.Logf("describe:\n%s", stdout)
	for _, want := range []string{"operators:", "DEDUP DROPS", "STATE BYTES", "source ev", "sink out1", "source ev: lag", "watermark ", "sink: last write"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("describe lacks %q:\n%s%s", want, stdout, stderr)
		}
	}

	// top, as a real process writing to a pipe: plain refreshes about a
	// second apart, rates from the second on, until SIGINT.
	argv, _ := json.Marshal([]string{"top", "--server", url})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var frames [][]string
	start := time.Now()
	for sc.Scan() && len(frames) < 4 {
		l := sc.Text()
		if strings.Contains(l, "\x1b[") {
			t.Fatalf("escape codes written to a pipe: %q", l)
		}
		if strings.HasPrefix(l, "sluice top — ") {
			frames = append(frames, nil)
			continue
		}
		if len(frames) > 0 && l != "" {
			frames[len(frames)-1] = append(frames[len(frames)-1], l)
		}
	}
	took := time.Since(start)
	if len(frames) < 4 {
		t.Fatalf("%d refreshes", len(frames))
	}
	if took < 2*time.Second || took > 8*time.Second {
		t.Errorf("4 refreshes took %v, want about 3s", took)
	}
	last := frames[2]
	if len(last) != 3 || !strings.HasPrefix(last[0], "NAME") {
		t.Fatalf("refresh %q", last)
	}
	for _, l := range last[1:] {
		f := strings.Fields(l)
		if len(f) < 10 || (f[0] != "copy" && f[0] != "uniq") || f[1] != "running" {
			t.Fatalf("row %q", l)
		}
		if f[4] == "-" || f[5] == "-" {
			t.Errorf("no rate in %q", l)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("top after Ctrl-C: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("top did not stop on SIGINT")
	}

	// On a terminal (script(1) gives it one) each refresh clears the screen.
	if scriptCmd, err := exec.LookPath("script"); err == nil {
		argv, _ := json.Marshal([]string{"top", "--server", url, "--count", "2", "--interval", "200ms"})
		c := exec.Command(scriptCmd, "-qec", os.Args[0]+" -test.run=^$", "/dev/null")
		c.Env = append(os.Environ(), "SLUICE_TEST_MAIN="+string(argv))
		out, err := c.Output()
		if err != nil || strings.Count(string(out), "\x1b[H\x1b[2J") != 2 || !strings.Contains(string(out), "uniq") {
			t.Errorf("top on a terminal: %v\n%q", err, out)
		}
	} else {
		t.Log("script(1) is not installed: top on a terminal is not tested")
	}

	// --count ends it; bad flags are refused.
	stdout, stderr, code = sluice("top", "--server", url, "--count", "2", "--interval", "100ms")
	if code != 0 || strings.Count(stdout, "sluice top — ") != 2 {
		t.Errorf("top --count 2: %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code = sluice("top", "--server", url, "--interval", "10ms"); code != 2 || !strings.Contains(stderr, "at least 100ms") {
		t.Errorf("top --interval 10ms: %d %s", code, stderr)
	}
	if _, stderr, code = sluice("top", "--server", "http://127.0.0.1:1"); code != 1 {
		t.Errorf("top against no server: %d %s", code, stderr)
	}
}
