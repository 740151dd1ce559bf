package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/server"
	"gopkg.in/yaml.v3"
)

// The Prometheus rules and the Grafana dashboard under deploy/ may use
// only metrics and labels that `sluice server` exports: these tests run
// pipelines with every kind of operator and read the names off /metrics.

// exported returns the metric names of a running server's /metrics and
// the labels each has.
func exported(t *testing.T) map[string]map[string]bool {
	t.Helper()
	rs := notifyServer(t, server.NotifyConfig{})
	applySQL(t, rs, "monitoring.sql", `
CREATE SOURCE ev (id UInt64, k String, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows_per_second = '200', duplicate_ratio = '0.2', fields.k.values = 'a,b,c');
CREATE SOURCE other (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen', rows_per_second = '200');
CREATE SINK out1 WITH (connector = 'blackhole');
CREATE SINK out2 WITH (connector = 'blackhole');
CREATE SINK out3 WITH (connector = 'blackhole');
CREATE PIPELINE mon_dedup AS INSERT INTO out1 SELECT id FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;
CREATE PIPELINE mon_join AS INSERT INTO out2 SELECT e.id, o.ts FROM ev AS e JOIN other AS o ON e.id = o.id WITHIN INTERVAL 1 MINUTE;
CREATE PIPELINE mon_window AS INSERT INTO out3 SELECT window_start, k, COUNT(*) AS n FROM ev GROUP BY TUMBLE(ts, INTERVAL 1 SECOND), k;
`)
	names := map[string]map[string]bool{}
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? `)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	waitUntil(t, "the three pipelines in /metrics", 30*time.Second, func() bool {
		m := get(t, rs.url+"/metrics")
		for _, p := range []string{"mon_dedup", "mon_join", "mon_window"} {
			if !strings.Contains(m, `sluice_pipeline_records_in_total{pipeline="`+p+`"}`) {
				return false
			}
		}
		for _, l := range strings.Split(m, "\n") {
			sub := line.FindStringSubmatch(l)
			if sub == nil {
				continue
			}
			if names[sub[1]] == nil {
				names[sub[1]] = map[string]bool{}
			}
			for _, lm := range label.FindAllStringSubmatch(sub[3], -1) {
				names[sub[1]][lm[1]] = true
			}
		}
		return true
	})
	return names
}

// metricRE finds a metric name and its label matchers in PromQL.
var (
	metricRE  = regexp.MustCompile(`\b((?:sluice|go|process)_[a-zA-Z0-9_]+|up)\b(\{[^}]*\})?`)
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// checkExpr checks the metrics and label matchers of one PromQL expression.
func checkExpr(t *testing.T, where, expr string, names map[string]map[string]bool) int {
	t.Helper()
	n := 0
	for _, m := range metricRE.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if name == "up" {
			continue // Prometheus's own, per scrape target
		}
		n++
		labels, ok := names[name]
		if !ok {
			t.Errorf("%s uses %s, which sluice server does not export", where, name)
			continue
		}
		for _, lm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			// Prometheus adds job and instance to every scraped series.
			if l := lm[1]; l != "job" && l != "instance" && !labels[l] {
				t.Errorf("%s matches label %s of %s, which has only %v", where, l, name, keys(labels))
			}
		}
	}
	return n
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestMonitoringAssetsUseExportedMetrics(t *testing.T) {
	names := exported(t)

	b, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules ruleFile
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a severity label, a summary and a description", r.Alert)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, names)
		}
	}
	// The alerts docs/operations.md promises.
	for _, a := range []string{"SluicePipelineFailed", "SluiceConsumerLagGrowing", "SluiceDeadLettersRising", "SluiceCheckpointsStalled"} {
		if !alerts[a] {
			t.Errorf("alerts.yml has no %s", a)
		}
	}

	b, err = os.ReadFile("../../deploy/grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			GridPos *struct {
				H, W, X, Y int
			} `json:"gridPos"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/sluice.json: %v", err)
	}
	ids := map[int]bool{}
	used := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %q, %d queries; want the dashboard's datasource variable and a query", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, q := range p.Targets {
			used += checkExpr(t, "panel "+p.Title, q.Expr, names)
		}
	}
	if dash.UID == "" || used < 15 {
		t.Errorf("dashboard uid %q, %d metric references", dash.UID, used)
	}
	// The dashboard shows what the alerts watch, and more.
	for _, name := range []string{"sluice_pipeline_state", "sluice_source_consumer_lag", "sluice_pipeline_dead_lettered_total",
		"sluice_pipeline_checkpoints_total", "sluice_pipeline_records_in_total", "sluice_pipeline_rows_written_total",
		"sluice_operator_dedup_dropped_total", "sluice_operator_late_rows_total", "sluice_notifications_total"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// promtool checks the rules' syntax and runs their unit tests
// (deploy/prometheus/alerts_test.yml: each alert fires for the pipeline
// in trouble and not for its healthy twin).
func TestAlertRules(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus): deploy/prometheus/alerts.yml is checked only against the exported metrics")
	}
	for _, args := range [][]string{
		{"check", "rules", "../../deploy/prometheus/alerts.yml"},
		{"test", "rules", "../../deploy/prometheus/alerts_test.yml"},
		{"check", "config", "../../deploy/prometheus/prometheus.yml"},
	} {
		out, err := exec.Command("promtool", args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
