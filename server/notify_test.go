package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// The notifier's lag rules are tested here on a source double whose
// consumer lag the test sets (notifyLag), for their edges (a short spike,
// still behind); cmd/sluice's notify tests run real pipelines that fail
// and recover against ClickHouse and file sinks, and one held back by a
// locked PostgreSQL table while kfake holds 300 000 records it has not read.
var notifyLag sync.Map // pipeline → *atomic.Int64

type lagSource struct {
	supSource
	lag *atomic.Int64
}

func (s *lagSource) Lag() int64 { return s.lag.Load() }

var _ runtime.LagReporter = (*lagSource)(nil)

func init() {
	runtime.Register(runtime.Connector{
		Declaration: connector.Connector{
			Name: "notifytest", Doc: "a test double with a consumer lag", Kinds: []connector.Kind{connector.Source, connector.Sink},
			Options: []connector.Option{{Name: "mode", Type: connector.String, Doc: "ok or fail"}},
		},
		OpenSource: func(_ context.Context, cfg runtime.SourceConfig) (runtime.Source, error) {
			opens := supCounter(&supOpens, cfg.Pipeline).Add(1)
			switch mode := cfg.Spec.Options["mode"]; {
			case mode == "fail", mode == "fail twice" && opens <= 2:
				return nil, errors.New("broker unreachable")
			case mode == "fail twice":
				// Then it runs, reading nothing: recovered by time alone.
				return &idleSource{}, nil
			}
			v, _ := notifyLag.LoadOrStore(cfg.Pipeline, &atomic.Int64{})
			return &lagSource{lag: v.(*atomic.Int64)}, nil
		},
		OpenSink: func(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
			return &supSink{rows: supCounter(&supRows, cfg.Spec.Name)}, nil
		},
	})
}

// idleSource reads nothing and never ends.
type idleSource struct{ supSource }

func (s *idleSource) Poll(ctx context.Context) ([]runtime.Record, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Millisecond):
		return nil, nil
	}
}

// A pipeline that fails twice and then runs without writing anything is
// reported failed once, and recovered once it has run for RecoverAfter.
func TestNotifyRecoveredAfterRunning(t *testing.T) {
	hook := newRecorder(t)
	s := newNotifyServer(t, NotifyConfig{URL: hook.URL, RecoverAfter: 500 * time.Millisecond})
	apply(t, s, lagPipeline("flappy", "fail twice", "description = 'fails twice'"))
	waitFor(t, "two events", func() bool { return len(hook.got()) >= 2 })
	got := hook.got()
	if got[0]["state"] != "failed" || got[1]["state"] != "recovered" || got[1]["error"] != nil {
		t.Fatalf("events %v, want failed then recovered", got)
	}
	if opens := supCounter(&supOpens, "flappy").Load(); opens != 3 {
		t.Errorf("%d opens, want 3 (two failed)", opens)
	}
	hook.mu.Lock()
	gap := hook.times[1].Sub(hook.times[0])
	hook.mu.Unlock()
	if gap < 500*time.Millisecond {
		t.Errorf("recovered %v after failing, before RecoverAfter", gap)
	}
	// It recovered by running, not by writing.
	if st, _ := s.PipelineStats("flappy"); st.RowsWritten != 0 || st.Checkpoints != 0 {
		t.Errorf("rows %d, checkpoints %d", st.RowsWritten, st.Checkpoints)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(hook.got()); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

func setLag(pipeline string, n int64) {
	v, _ := notifyLag.LoadOrStore(pipeline, &atomic.Int64{})
	v.(*atomic.Int64).Store(n)
}

// recorder is a webhook that keeps the bodies posted to it and answers
// with the statuses of answers, then 200.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	times   []time.Time
	answers []int
}

func newRecorder(t *testing.T, answers ...int) *recorder {
	r := &recorder{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body is not JSON: %q", b)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, m)
		r.times = append(r.times, time.Now())
		if len(r.answers) > 0 {
			w.WriteHeader(r.answers[0])
			r.answers = r.answers[1:]
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

func newNotifyServer(t *testing.T, cfg NotifyConfig) *Server {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	s, err := New(Config{Catalog: cat, StateDir: dir, RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond, Notify: cfg})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func lagPipeline(name, mode, with string) string {
	return fmt.Sprintf(`
CREATE SOURCE %[1]s_in (id UInt64, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (connector = 'notifytest', mode = '%[2]s');
CREATE SINK %[1]s_out (id UInt64) WITH (connector = 'notifytest');
CREATE PIPELINE %[1]s WITH (%[3]s) AS INSERT INTO %[1]s_out SELECT id FROM %[1]s_in;
`, name, mode, with)
}

// A pipeline whose lag stays above notify_lag_threshold for
// notify_lag_for is reported behind once, and caught up once the lag is
// back under it; a second pipeline gets the same as Slack messages.
func TestNotifyLag(t *testing.T) {
	hook := newRecorder(t)
	slack := newRecorder(t)
	setLag("lagging", 500)
	setLag("lagging_slack", 500)
	s := newNotifyServer(t, NotifyConfig{URL: hook.URL, PublicURL: "https://sluice.example.com/"})
	start := time.Now()
	apply(t, s, lagPipeline("lagging", "ok", "notify_lag_threshold = '100', notify_lag_for = '300ms'")+
		lagPipeline("lagging_slack", "ok", fmt.Sprintf("notify_url = '%s', notify_format = 'slack', notify_lag_threshold = '100', notify_lag_for = '300ms'", slack.URL)))
	waitFor(t, "a behind event", func() bool { return len(hook.got()) >= 1 && len(slack.got()) >= 1 })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("behind after %v, before notify_lag_for", d)
	}
	ev := hook.got()[0]
	if ev["pipeline"] != "lagging" || ev["state"] != "behind" || ev["lag"] != 500.0 ||
		ev["url"] != "https://sluice.example.com/api/v1/pipelines/lagging" || ev["page"] != "https://sluice.example.com/#/pipelines/lagging" || !strings.Contains(fmt.Sprint(ev["error"]), "500 records") {
		t.Errorf("behind event %v", ev)
	}
	text := fmt.Sprint(slack.got()[0]["text"])
	if len(slack.got()[0]) != 1 || !strings.Contains(text, "*lagging_slack* is falling behind: 500 records") ||
		!strings.Contains(text, "<https://sluice.example.com/#/pipelines/lagging_slack>") {
		t.Errorf("slack message %v", slack.got()[0])
	}
	// Still behind: no second event.
	time.Sleep(400 * time.Millisecond)
	if len(hook.got()) != 1 || len(slack.got()) != 1 {
		t.Fatalf("events while still behind: %v %v", hook.got(), slack.got())
	}
	setLag("lagging", 10)
	setLag("lagging_slack", 10)
	waitFor(t, "a caught_up event", func() bool { return len(hook.got()) >= 2 && len(slack.got()) >= 2 })
	if ev := hook.got()[1]; ev["state"] != "caught_up" || ev["lag"] != 10.0 {
		t.Errorf("caught up event %v", ev)
	}
	if text := fmt.Sprint(slack.got()[1]["text"]); !strings.Contains(text, "*lagging_slack* caught up: 10 records") {
		t.Errorf("slack message %q", text)
	}
	// Lag that is above the threshold for less than notify_lag_for is
	// not reported.
	setLag("lagging", 500)
	time.Sleep(150 * time.Millisecond)
	setLag("lagging", 0)
	time.Sleep(300 * time.Millisecond)
	if n := len(hook.got()); n != 2 {
		t.Errorf("a short lag spike was reported: %v", hook.got()[2:])
	}
	if sent, failed, dropped := s.NotifyStats(); sent != 4 || failed != 0 || dropped != 0 {
		t.Errorf("sent %d, failed %d, dropped %d", sent, failed, dropped)
	}
}

// A webhook answering 503 is retried with waits that double; one
// answering 400 is not retried. A notify_url from an unset variable is
// counted failed, and a bad notify_url is refused at apply.
func TestNotifyRetries(t *testing.T) {
	flaky := newRecorder(t, 503, 503)
	refusing := newRecorder(t, 400)
	s := newNotifyServer(t, NotifyConfig{URL: flaky.URL, RetryMin: 100 * time.Millisecond})
	apply(t, s, lagPipeline("flaky", "fail", "description = 'x'"))
	waitFor(t, "three attempts", func() bool { return len(flaky.got()) >= 3 })
	flaky.mu.Lock()
	gap1, gap2 := flaky.times[1].Sub(flaky.times[0]), flaky.times[2].Sub(flaky.times[1])
	flaky.mu.Unlock()
	if gap1 < 100*time.Millisecond || gap2 < 200*time.Millisecond {
		t.Errorf("waits between attempts %v, %v: want at least 100ms, then 200ms", gap1, gap2)
	}
	for _, b := range flaky.got() {
		if b["state"] != "failed" || !strings.Contains(fmt.Sprint(b["error"]), "broker unreachable") {
			t.Errorf("event %v", b)
		}
	}
	waitFor(t, "sent", func() bool { sent, _, _ := s.NotifyStats(); return sent == 1 })

	apply(t, s, lagPipeline("refused", "fail", fmt.Sprintf("notify_url = '%s'", refusing.URL)))
	waitFor(t, "refused", func() bool { _, failed, _ := s.NotifyStats(); return failed == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := len(refusing.got()); n != 1 {
		t.Errorf("a 400 answer was retried: %d requests", n)
	}

	apply(t, s, lagPipeline("unset", "fail", "notify_url = 'env:SLUICE_TEST_NOTIFY_UNSET'"))
	waitFor(t, "unset variable counted failed", func() bool { _, failed, _ := s.NotifyStats(); return failed == 2 })

	src := `CREATE PIPELINE bad WITH (notify_url = 'hooks.example.com/x', notify_lag_for = 'soon') AS INSERT INTO flaky_out SELECT id FROM flaky_in;`
	_, errs, err := s.Apply(context.Background(), src, ApplyOptions{})
	if err != nil || len(errs) != 2 {
		t.Fatalf("apply of bad options: %v %v", err, errs)
	}
	r := errs.Render(src)
	for _, want := range []string{`option notify_url: "hooks.example.com/x" is not an http:// or https:// URL`, `option notify_lag_for: "soon" is not a positive duration`, "1:"} {
		if !strings.Contains(r, want) {
			t.Errorf("errors lack %q:\n%s", want, r)
		}
	}
}
