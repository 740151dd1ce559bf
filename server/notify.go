package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/secret"
)

// Failure notifications: when a pipeline fails, runs again after a
// failure, or keeps falling behind its sources, the server POSTs an event
// to a webhook — the pipeline's notify_url option, else the server's
// NotifyConfig.URL. Events wait in a bounded queue and one sender posts
// them, retrying with exponential backoff; nothing here ever waits on the
// network while a pipeline or the supervisor is waiting: a full queue drops
// the event, counts it and logs it.

// Notification states, the "state" of an event.
const (
	NotifyFailed    = "failed"    // the pipeline failed (once per series of failed retries)
	NotifyRecovered = "recovered" // running again after a failure
	NotifyBehind    = "behind"    // lag above notify_lag_threshold for notify_lag_for
	NotifyCaughtUp  = "caught_up" // lag back under the threshold after "behind"
)

// NotifyConfig configures failure notifications. The zero value sends
// nothing unless a pipeline names a notify_url.
type NotifyConfig struct {
	// URL is the webhook of pipelines without a notify_url option; ""
	// for none.
	URL string
	// Format is "json" (default) or "slack", for pipelines without a
	// notify_format option.
	Format string
	// PublicURL is the server's address as users reach it, e.g.
	// http://sluice.example.com:8080; an event's url is
	// <PublicURL>/api/v1/pipelines/<name>, its status in the API, and its
	// page <PublicURL>/#/pipelines/<name>, its page in the web UI.
	// Default http://localhost:8080.
	PublicURL string
	// Poll is how often lag and recoveries are looked at. Default 5s.
	Poll time.Duration
	// RecoverAfter is how long a run after a failure must keep running,
	// if it stores no checkpoint and writes no row before, to count as
	// recovered. Default 30s.
	RecoverAfter time.Duration
	// Queue bounds the events waiting to be sent. Default 256.
	Queue int
	// Attempts is how many times an event is posted before it is given
	// up (counted failed). Default 5.
	Attempts int
	// RetryMin is the wait after the first failed post, doubling with each
	// one up to a minute. Default 1s.
	RetryMin time.Duration
	// Timeout bounds one post. Default 10s.
	Timeout time.Duration
}

// NotifyEvent is what a webhook receives (notify_format = 'json').
type NotifyEvent struct {
	Pipeline string    `json:"pipeline"`
	State    string    `json:"state"`
	Error    string    `json:"error,omitempty"`
	Time     time.Time `json:"time"`
	URL      string    `json:"url"`  // the pipeline's status in the API
	Page     string    `json:"page"` // the pipeline's page in the web UI
	// Lag is the consumer lag, in records, of a behind or caught_up event.
	Lag *int64 `json:"lag,omitempty"`

	target notifyTarget
}

// notifyTarget is where and how one pipeline's events go, resolved when
// the event is made.
type notifyTarget struct {
	url, format  string
	lagThreshold int64
	lagFor       time.Duration
}

// pipelineWatch is what the notifier remembers of one pipeline.
type pipelineWatch struct {
	failed      bool      // a failed event was made and no recovered since
	behindSince time.Time // lag above the threshold since; zero when under
	behindSent  bool
}

type notifier struct {
	s      *Server
	cfg    NotifyConfig
	log    *slog.Logger
	client *http.Client
	queue  chan *NotifyEvent
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu      sync.Mutex
	watches map[string]*pipelineWatch // by lower-case name

	sent, failed, dropped atomic.Int64
	pending               atomic.Int64 // events queued or being posted
	closed                sync.Once
}

func newNotifier(s *Server, cfg NotifyConfig) *notifier {
	if cfg.Format == "" {
		cfg.Format = "json"
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:8080"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.RecoverAfter <= 0 {
		cfg.RecoverAfter = 30 * time.Second
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{
		s: s, cfg: cfg, log: s.log, client: &http.Client{Timeout: cfg.Timeout},
		queue: make(chan *NotifyEvent, cfg.Queue), ctx: ctx, cancel: cancel,
		watches: map[string]*pipelineWatch{},
	}
	n.done.Add(2)
	go n.send()
	go n.watch()
	return n
}

// drainWait bounds how long close waits for queued events to be sent.
const drainWait = 5 * time.Second

// close stops the notifier once the queued events are sent, or after
// drainWait; events still queued then are dropped (logged).
func (n *notifier) close() { n.closed.Do(n.drainAndStop) }

func (n *notifier) drainAndStop() {
	deadline := time.Now().Add(drainWait)
	for n.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n.cancel()
	n.done.Wait()
	if left := len(n.queue); left > 0 {
		n.log.Warn("notifications not sent: the server stopped", "events", left)
	}
}

func (n *notifier) watchOf(name string) *pipelineWatch {
	key := strings.ToLower(name)
	w := n.watches[key]
	if w == nil {
		w = &pipelineWatch{}
		n.watches[key] = w
	}
	return w
}

// stateChanged is the supervisor's hook (Server.setState). It never
// blocks on the network.
func (n *notifier) stateChanged(name string, st catalog.State, msg string) {
	switch st {
	case catalog.Failed:
		n.mu.Lock()
		w := n.watchOf(name)
		first := !w.failed
		w.failed = true
		w.behindSince, w.behindSent = time.Time{}, false
		n.mu.Unlock()
		// One event per series of failures: the retries that fail again
		// are in the log and in GET /api/v1/pipelines/{name}.
		if first {
			n.emit(name, NotifyFailed, msg, nil)
		}
	case catalog.Stopped:
		n.mu.Lock()
		w := n.watchOf(name)
		w.behindSince, w.behindSent = time.Time{}, false
		n.mu.Unlock()
	}
}

// target resolves a pipeline's notification options: its own, else the
// server's. ok is false when no webhook is named.
func (n *notifier) target(name string) (t notifyTarget, ok bool, err error) {
	var opts map[string]string
	if obj, found := n.s.cat.Lookup(name); found && obj.Pipeline != nil {
		opts = obj.Pipeline.Options
	}
	value := func(opt string) (string, bool, error) {
		v, given, _ := connector.PipelineValue(opts, opt)
		if !given {
			return v, false, nil
		}
		v, err := resolveValue(opt, v)
		return v, true, err
	}
	var given bool
	if t.url, given, err = value("notify_url"); err != nil {
		return t, false, err
	} else if !given {
		t.url = n.cfg.URL
	}
	if t.format, given, err = value("notify_format"); err != nil {
		return t, false, err
	} else if !given {
		t.format = n.cfg.Format
	}
	t.format = strings.ToLower(strings.TrimSpace(t.format))
	th, _, err := value("notify_lag_threshold")
	if err != nil {
		return t, false, err
	}
	if t.lagThreshold, err = strconv.ParseInt(strings.TrimSpace(th), 10, 64); err != nil || t.lagThreshold < 1 {
		return t, false, fmt.Errorf("notify_lag_threshold = %q: want a positive count", th)
	}
	lf, _, err := value("notify_lag_for")
	if err != nil {
		return t, false, err
	}
	if t.lagFor, err = time.ParseDuration(strings.TrimSpace(lf)); err != nil || t.lagFor <= 0 {
		return t, false, fmt.Errorf("notify_lag_for = %q: want a positive duration", lf)
	}
	if t.url == "" {
		return t, false, nil
	}
	if o, _ := connector.PipelineOption("notify_url"); o != nil {
		if msg, _ := o.Check(t.url); msg != "" {
			// Not quoted: a webhook URL is a secret.
			return t, false, errors.New("notify_url: the value is not an http:// or https:// URL")
		}
	}
	if t.format != "json" && t.format != "slack" {
		return t, false, fmt.Errorf("notify_format = %q: want json or slack", t.format)
	}
	return t, true, nil
}

// resolveValue reads an env:NAME reference from the environment and opens
// a sealed value, as connectors do with their options.
func resolveValue(opt, v string) (string, error) {
	if env, ok := strings.CutPrefix(v, connector.EnvPrefix); ok {
		ev, set := os.LookupEnv(env)
		if !set {
			return "", fmt.Errorf("option %s = 'env:%s': environment variable %s is not set", opt, env, env)
		}
		return ev, nil
	}
	if secret.IsSealed(v) {
		clear, err := secret.Open(v)
		if err != nil {
			return "", fmt.Errorf("option %s: %w", opt, err)
		}
		return clear, nil
	}
	return v, nil
}

// emit queues an event for the pipeline's webhook, if it has one.
func (n *notifier) emit(name, state, msg string, lag *int64) {
	t, ok, err := n.target(name)
	if err != nil {
		n.failed.Add(1)
		n.log.Error("notification not sent: bad notification options", "pipeline", name, "state", state, "error", err)
		return
	}
	if !ok {
		return
	}
	ev := &NotifyEvent{
		Pipeline: name, State: state, Error: secret.MaskText(msg), Time: time.Now().UTC(),
		URL:  n.cfg.PublicURL + "/api/v1/pipelines/" + url.PathEscape(name),
		Page: n.cfg.PublicURL + "/#/pipelines/" + url.PathEscape(name), Lag: lag, target: t,
	}
	n.pending.Add(1)
	select {
	case n.queue <- ev:
	default:
		n.pending.Add(-1)
		n.dropped.Add(1)
		n.log.Warn("notification dropped: the queue is full (the webhook is slow or down)", "pipeline", name, "state", state, "queue", cap(n.queue))
	}
}

// watch looks at the running pipelines every Poll: a run after a failure
// that has stored a checkpoint, written a row or kept running for
// RecoverAfter has recovered; a lag above the threshold for long enough
// is falling behind.
func (n *notifier) watch() {
	defer n.done.Done()
	tick := time.NewTicker(n.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		}
		n.look(time.Now())
	}
}

type runView struct {
	name    string
	started time.Time
	lag     int64 // -1: unknown
	wrote   bool  // a checkpoint stored or a row written
}

func (n *notifier) look(now time.Time) {
	s := n.s
	names, byName := s.mainRunsByPipeline()
	views := make([]runView, 0, len(names))
	for _, name := range names {
		// A pipeline split into tasks is watched as one: its tasks running
		// here, merged, and started when the last of them did.
		runs := byName[strings.ToLower(name)]
		st := mergedStats(runs)
		v := runView{name: name, started: runs[0].started, wrote: st.Checkpoints > 0 || st.RowsWritten > 0}
		for _, r := range runs {
			if r.started.After(v.started) {
				v.started = r.started
			}
		}
		for _, src := range st.Sources {
			if src.Lag < 0 {
				v.lag = -1
				break
			}
			v.lag += src.Lag
		}
		views = append(views, v)
	}

	type pending struct {
		name, state string
		lag         *int64
	}
	var out []pending
	running := map[string]bool{}
	for _, v := range views {
		key := strings.ToLower(v.name)
		running[key] = true
		t, _, err := n.target(v.name)
		n.mu.Lock()
		w := n.watchOf(v.name)
		if w.failed && (v.wrote || now.Sub(v.started) >= n.cfg.RecoverAfter) {
			w.failed = false
			out = append(out, pending{name: v.name, state: NotifyRecovered})
		}
		if err == nil && v.lag >= 0 && v.lag > t.lagThreshold {
			if w.behindSince.IsZero() {
				w.behindSince = now
			}
			if !w.behindSent && now.Sub(w.behindSince) >= t.lagFor {
				w.behindSent = true
				lag := v.lag
				out = append(out, pending{name: v.name, state: NotifyBehind, lag: &lag})
			}
		} else if v.lag >= 0 {
			if w.behindSent {
				lag := v.lag
				out = append(out, pending{name: v.name, state: NotifyCaughtUp, lag: &lag})
			}
			w.behindSince, w.behindSent = time.Time{}, false
		}
		n.mu.Unlock()
	}
	// Forget dropped pipelines.
	n.mu.Lock()
	for key := range n.watches {
		if !running[key] {
			if _, ok := s.cat.Lookup(key); !ok {
				delete(n.watches, key)
			}
		}
	}
	n.mu.Unlock()
	for _, p := range out {
		msg := ""
		if p.state == NotifyBehind {
			msg = fmt.Sprintf("consumer lag %d records, above notify_lag_threshold", *p.lag)
		}
		n.emit(p.name, p.state, msg, p.lag)
	}
}

// send posts the queued events one after the other.
func (n *notifier) send() {
	defer n.done.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.queue:
			n.post(ev)
			n.pending.Add(-1)
		}
	}
}

// payload renders an event in its target's format.
func (ev *NotifyEvent) payload() ([]byte, error) {
	if ev.target.format != "slack" {
		return json.Marshal(ev)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Sluice pipeline *%s* ", ev.Pipeline)
	switch ev.State {
	case NotifyFailed:
		b.WriteString("failed")
	case NotifyRecovered:
		b.WriteString("recovered: running again")
	case NotifyBehind:
		fmt.Fprintf(&b, "is falling behind: %d records of lag", *ev.Lag)
	case NotifyCaughtUp:
		fmt.Fprintf(&b, "caught up: %d records of lag", *ev.Lag)
	default:
		b.WriteString(ev.State)
	}
	if ev.Error != "" && ev.State != NotifyBehind {
		fmt.Fprintf(&b, ": %s", ev.Error)
	}
	fmt.Fprintf(&b, " (%s) <%s>", ev.Time.Format(time.RFC3339), ev.Page)
	return json.Marshal(map[string]string{"text": b.String()})
}

// errPermanent marks an answer that a retry will not change.
var errPermanent = errors.New("not retried")

// post sends one event, retrying with exponential backoff.
func (n *notifier) post(ev *NotifyEvent) {
	body, err := ev.payload()
	if err != nil {
		n.failed.Add(1)
		n.log.Error("notification not sent", "pipeline", ev.Pipeline, "state", ev.State, "error", err)
		return
	}
	wait := n.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err = n.postOnce(ev.target.url, body)
		if err == nil {
			n.sent.Add(1)
			n.log.Info("notification sent", "pipeline", ev.Pipeline, "state", ev.State, "attempt", attempt)
			return
		}
		if errors.Is(err, errPermanent) || attempt >= n.cfg.Attempts || n.ctx.Err() != nil {
			n.failed.Add(1)
			n.log.Error("notification not sent", "pipeline", ev.Pipeline, "state", ev.State, "attempts", attempt, "error", err)
			return
		}
		n.log.Warn("notification failed; retrying", "pipeline", ev.Pipeline, "state", ev.State, "attempt", attempt, "in", wait.String(), "error", err)
		select {
		case <-n.ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

func (n *notifier) postOnce(target string, body []byte) error {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %s", errPermanent, secret.MaskText(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice")
	resp, err := n.client.Do(req)
	if err != nil {
		// The URL can hold a secret (a Slack webhook's path): say only
		// the host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %v", hostOf(target), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("post to %s: %s", hostOf(target), resp.Status)
	default:
		return fmt.Errorf("%w: post to %s: %s", errPermanent, hostOf(target), resp.Status)
	}
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "the webhook"
}

var descNotifications = prometheus.NewDesc("sluice_notifications_total",
	"Pipeline notifications by result: sent, failed (given up after the retries, or refused), dropped (the queue was full).",
	[]string{"result"}, nil)

// NotifyCollector exposes the notification counters to Prometheus.
func (s *Server) NotifyCollector() prometheus.Collector { return (*notifyCollector)(s.notes) }

type notifyCollector notifier

func (c *notifyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descNotifications }

func (c *notifyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, x := range []struct {
		result string
		v      *atomic.Int64
	}{{"sent", &c.sent}, {"failed", &c.failed}, {"dropped", &c.dropped}} {
		ch <- prometheus.MustNewConstMetric(descNotifications, prometheus.CounterValue, float64(x.v.Load()), x.result)
	}
}

// NotifyStats returns the notification counters: sent, failed, dropped.
func (s *Server) NotifyStats() (sent, failed, dropped int64) {
	return s.notes.sent.Load(), s.notes.failed.Load(), s.notes.dropped.Load()
}
