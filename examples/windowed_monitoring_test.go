package examples

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWindowedMonitoring runs examples/windowed-monitoring: requests
// produced by kcat are counted per service per minute; the alerts file
// holds exactly the windows with 3 or more server errors, a record up to
// the watermark's 10 seconds out of order still counts, later ones are
// counted as late (API and Prometheus) and not emitted, and bad records
// are in the dead-letter topic, unchanged, with the reason.
func TestWindowedMonitoring(t *testing.T) {
	st, srv := runScenario(t, "windowed-monitoring", needs{topics: []string{"http_requests"}})

	req := func(service string, status, latency int, at string) string {
		return fmt.Sprintf(`{"service":%q,"status":%d,"latency_ms":%d,"at":"2025-03-01 %s"}`, service, status, latency, at)
	}
	bad := []string{
		`{"service":"search","status":"five hundred","latency_ms":1,"at":"2025-03-01 10:01:31"}`,
		`garbage`,
		`{"service":"auth","status":500,"latency_ms":1}`, // no time
	}
	st.produce(t, "http_requests",
		// 10:00 — checkout: 4 errors, one of them 8 s out of order.
		req("checkout", 500, 120, "10:00:05"),
		req("checkout", 503, 300, "10:00:20"),
		req("checkout", 200, 900, "10:00:25"), // not an error
		req("search", 500, 80, "10:00:30"),
		req("checkout", 502, 250, "10:00:50"),
		req("search", 500, 85, "10:00:55"), // search: 2 errors, below the threshold
		req("checkout", 500, 130, "10:01:05"),
		req("checkout", 500, 140, "10:00:58"), // within the 10 s delay: counted
		// 10:01 — search: 3 errors.
		req("search", 500, 90, "10:01:10"),
		req("search", 504, 95, "10:01:20"),
		req("search", 500, 100, "10:01:30"),
		bad[0], bad[1], bad[2],
		req("auth", 500, 5, "10:01:40"),
		// 10:02: the watermark moves to 10:02:05, which closes 10:01.
		req("auth", 500, 10, "10:02:15"),
	)
	want := []string{
		"2025-03-01 10:00:00.000 | 2025-03-01 10:01:00.000 | checkout | 4 | 300",
		"2025-03-01 10:01:00.000 | 2025-03-01 10:02:00.000 | search | 3 | 100",
		"2025-03-01 10:02:00.000 | 2025-03-01 10:03:00.000 | auth | 3 | 30",
	}
	alerts := func() []string {
		var out []string
		for _, line := range st.fileLines(t, "alerts/error_bursts.jsonl") {
			var a struct {
				Start   string `json:"window_start"`
				End     string `json:"window_end"`
				Service string `json:"service"`
				Errors  int64  `json:"errors"`
				Max     int64  `json:"max_latency_ms"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("alerts file: %v: %s", err, line)
			}
			out = append(out, fmt.Sprintf("%s | %s | %s | %d | %d", a.Start, a.End, a.Service, a.Errors, a.Max))
		}
		return out
	}
	waitFor(t, "the alerts of 10:00 and 10:01", 60*time.Second, func() bool { return len(alerts()) >= 2 })
	st.produce(t, "http_requests",
		req("checkout", 500, 150, "10:00:40"), // 10:00 was emitted: late
		req("search", 500, 110, "10:01:50"),   // 10:01 was emitted: late
		req("auth", 500, 20, "10:02:20"),      // auth: 3 errors in 10:02
		req("auth", 503, 30, "10:02:30"),
		req("checkout", 200, 10, "10:05:00"), // a success far later closes 10:02
	)
	waitFor(t, "three alerts", 60*time.Second, func() bool { return len(alerts()) >= len(want) })
	// The last alert comes from the last record: every counter is final.
	p := srv.pipeline(t, "error_bursts")
	checkAlertRules(t, srv.metrics(t))
	late := srv.metric(t, "sluice_operator_late_rows_total", `pipeline="error_bursts"`)
	dead := srv.metric(t, "sluice_pipeline_dead_lettered_total", `pipeline="error_bursts"`)
	srv.stop(t)
	if got := alerts(); !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Metrics.LateRows != 2 || late != 2 {
		t.Errorf("late rows: API %d, sluice_operator_late_rows_total %v; want 2", p.Metrics.LateRows, late)
	}
	if p.Metrics.DeadLettered != 3 || dead != 3 {
		t.Errorf("dead letters: API %d, sluice_pipeline_dead_lettered_total %v; want 3", p.Metrics.DeadLettered, dead)
	}

	// The dead-letter topic, read by kcat: the records as produced, where
	// they came from and why.
	dlq := st.topicRecords(t, "http_requests.dlq")
	if len(dlq) != len(bad) {
		t.Fatalf("http_requests.dlq holds %d records, want %d: %+v", len(dlq), len(bad), dlq)
	}
	offsets := []string{"11", "12", "13"}
	reasons := []string{"status", "JSON", "at"}
	for i, r := range dlq {
		h := r.Headers
		if r.Value != bad[i] || h["sluice.topic"] != "http_requests" || h["sluice.partition"] != "0" || h["sluice.offset"] != offsets[i] ||
			!strings.Contains(h["sluice.error"], reasons[i]) {
			t.Errorf("dead letter %d: value %q headers %v; want value %q from offset %s, error naming %q", i, r.Value, h, bad[i], offsets[i], reasons[i])
		}
	}
}

// checkAlertRules checks the example's Prometheus rules: every series
// they select is in the server's /metrics, and, where promtool is
// installed, the rules load and their unit tests pass.
func checkAlertRules(t *testing.T, scraped map[string]float64) {
	t.Helper()
	b, err := os.ReadFile("windowed-monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	selectors := regexp.MustCompile(`(sluice_[a-z_]+)\{([^}]*)\}`).FindAllStringSubmatch(string(b), -1)
	if len(selectors) < 3 {
		t.Fatalf("alerts.yml selects %d series", len(selectors))
	}
	for _, m := range selectors {
		found := false
		for name := range scraped {
			n, labels, _ := strings.Cut(name, "{")
			if n != m[1] {
				continue
			}
			ok := true
			for _, l := range strings.Split(m[2], ",") {
				ok = ok && strings.Contains(labels, strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
			}
			found = found || ok
		}
		if !found {
			t.Errorf("alerts.yml selects %s{%s}, which /metrics does not have", m[1], m[2])
		}
	}
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool is not installed: the rules' unit tests are not run")
		return
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = "windowed-monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
