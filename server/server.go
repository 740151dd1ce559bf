// Package server is the long-running Sluice process: it keeps the catalog,
// applies SQL scripts to it, and supervises every pipeline — starting,
// stopping and restarting each according to the catalog, recording
// failures, and resuming running pipelines from their checkpoints after a
// restart. The HTTP API in package web drives it.
//
// Connectors are not imported here; cmd/sluice wires them in, as it wires
// the row encoder used by previews and tails.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crypto/rand"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
	"io/fs"
)

// RowEncoder appends row i of b as one JSON object.
type RowEncoder func(dst []byte, b *runtime.Batch, i int) []byte

// Config configures a Server.
type Config struct {
	// Catalog is where definitions and pipeline states are kept. Required.
	Catalog *catalog.Store
	// StateDir holds the checkpoints of the server's pipelines, one
	// directory per pipeline under StateDir/checkpoints, unless
	// Checkpoints is set. Required.
	StateDir string
	// Checkpoints, when set, keeps the checkpoints instead of StateDir
	// (catalog.Checkpoints keeps them in the PostgreSQL catalog).
	Checkpoints runtime.CheckpointStore
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// GroupID prefixes the pipelines' consumer groups (see
	// runtime.Options.GroupID). Default "sluice".
	GroupID string
	// NewRowEncoder builds the JSON encoder for rows of a schema, for
	// previews and tails. Required for those.
	NewRowEncoder func(dag.Schema) RowEncoder
	// StopTimeout bounds each pipeline's final write and checkpoint when
	// it is stopped. Default 30s.
	StopTimeout time.Duration
	// CheckpointInterval is how often a pipeline with a continuous sink
	// checkpoints, unless its checkpoint_interval option says otherwise
	// (runtime.Options.CheckpointInterval). Default
	// runtime.DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// RetryMin and RetryMax bound the wait before a failed pipeline is
	// started again: RetryMin after the first failure, doubling with each
	// failure in a row up to RetryMax. Defaults 1s and 5m.
	RetryMin, RetryMax time.Duration
	// FailFast, when set, replaces the retries: a pipeline that fails to
	// start, fails while running or fails its final write or checkpoint
	// when stopped is not started again, and FailFast is called with its
	// error (started tells whether it had started). `sluice run` stops on
	// the first failure and exits with it. Its name is the failed task's
	// (runtime.TaskName): the pipeline's own unless it is split into tasks.
	FailFast func(pipeline string, err error, started bool)
	// SecretKey, when set, seals the catalog's secrets instead of
	// SLUICE_SECRET_KEY or <StateDir>/secret.key: a catalog that lives in
	// memory needs a key only as long as the process.
	SecretKey []byte
	// NoCheckpoints runs the pipelines without checkpoints (`sluice run`
	// without a state directory); StateDir may then be empty.
	NoCheckpoints bool
	// NodeID names this server among the servers sharing a PostgreSQL
	// catalog: the owner recorded on the leases of the pipelines it runs.
	// Unique per process. Default DefaultNodeID(): <host name>-<pid>.
	NodeID string
	// LeaseTime is how long a pipeline's lease lasts without renewal
	// (renewed every third of it), and so how long a dead server's
	// pipelines wait before another takes them over. Only a PostgreSQL
	// catalog has leases. Default DefaultLeaseTime (15s).
	LeaseTime time.Duration
	// Notify configures failure notifications (notify.go).
	Notify NotifyConfig
	// KeepDropped keeps what a dropped pipeline leaves outside the catalog,
	// its checkpoints and its sources' committed offsets, for a catalog that
	// is not kept: a `sluice run` script's DROP forgets nothing.
	KeepDropped bool
	// HistoryEvery is how often the throughput history (History) takes a
	// sample; default 10s, 90 samples kept.
	HistoryEvery time.Duration
}

// Server supervises the pipelines of one catalog.
type Server struct {
	cfg Config
	cat *catalog.Store
	log *slog.Logger

	// scriptMu serialises scripts and start/stop/drop, so that each script
	// is checked against exactly the catalog it is applied to and the
	// supervisor acts on changes in the order they were made.
	scriptMu sync.Mutex

	ctx    context.Context // ends at Close: the parent of every run
	cancel context.CancelFunc

	// The supervision unit is a task of a pipeline (unit.go); a pipeline of
	// one task has one unit, keyed by its lower-case name.
	mu   sync.Mutex
	runs map[string]*run // by unit key
	// retries are the failed units waiting to be started again, by unit
	// key.
	retries map[string]*retry
	// last is each unit's latest run, ended or not, by unit key.
	last map[string]*run

	taps  *tapHub
	hist  *history
	notes *notifier
	ready atomic.Bool
	// lease keeps the units' leases when the catalog is shared
	// (PostgreSQL); nil otherwise. See lease.go.
	lease *leaser
}

// run is one execution of a unit of a pipeline.
type run struct {
	name    string // the pipeline
	u       unit
	def     *dag.Graph // the pipeline's plan as the catalog has it (all its units)
	graph   *dag.Graph // the unit's graph, before the tap
	p       *runtime.Pipeline
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	// stopping is set when the supervisor stops the run, so its end is
	// not recorded as a failure or as finished.
	stopping atomic.Bool
	// owner is the lease the run holds (zero without leases).
	owner runtime.Owner
}

// retry is a failed unit's wait for its next start.
type retry struct {
	u       unit
	attempt int // failures in a row
	next    time.Time
	timer   *time.Timer
}

// New returns a server over cfg.Catalog. No pipeline runs until Start.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("server: a catalog is required")
	}
	if cfg.StateDir == "" && (cfg.SecretKey == nil || (cfg.Checkpoints == nil && !cfg.NoCheckpoints)) {
		return nil, errors.New("server: a state directory is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// No log line carries a secret, whatever a driver puts in an error.
	cfg.Logger = slog.New(secret.LogHandler(cfg.Logger.Handler()))
	if cfg.GroupID == "" {
		cfg.GroupID = "sluice"
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.SecretKey != nil {
		secret.SetKey(cfg.SecretKey)
	} else if err := setSecretKey(cfg.StateDir); err != nil {
		return nil, err
	}
	if cfg.Checkpoints == nil && !cfg.NoCheckpoints {
		dir := filepath.Join(cfg.StateDir, "checkpoints")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("server state directory: %w", err)
		}
		cfg.Checkpoints = &runtime.FileCheckpointStore{Dir: dir}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, cat: cfg.Catalog, log: cfg.Logger, ctx: ctx, cancel: cancel, runs: map[string]*run{}, retries: map[string]*retry{}, last: map[string]*run{}}
	s.taps = newTapHub(s)
	if l, ok := cfg.Catalog.Leases(); ok {
		s.lease = newLeaser(s, l)
	}
	s.hist = newHistory()
	go s.keepHistory()
	s.notes = newNotifier(s, cfg.Notify)
	for _, err := range cfg.Catalog.LoadErrors {
		s.log.Error("catalog object no longer plans; left in the catalog, not run", "error", err)
	}
	return s, nil
}

// Catalog returns the server's catalog.
func (s *Server) Catalog() *catalog.Store { return s.cat }

// Ready reports whether Start has resumed the pipelines.
func (s *Server) Ready() bool { return s.ready.Load() }

// Start resumes every pipeline the catalog wants running, each from its
// checkpoint.
func (s *Server) Start() {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	for _, obj := range s.cat.List(sql.ObjPipeline) {
		if obj.Pipeline.Running {
			s.startRun(obj)
		}
	}
	if s.lease != nil {
		s.lease.start()
	}
	s.ready.Store(true)
}

// Close stops every pipeline in order — rows written, state checkpointed,
// offsets committed — without changing what the catalog wants running,
// so the next start resumes them.
func (s *Server) Close() {
	s.ready.Store(false)
	if s.lease != nil {
		// No more pipelines are taken; leases are renewed until the runs
		// have checkpointed, then given up for the other servers.
		s.lease.closing.Store(true)
		defer s.lease.stop()
	}
	s.mu.Lock()
	for name, rt := range s.retries {
		rt.timer.Stop()
		delete(s.retries, name)
	}
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	for _, r := range runs {
		r.stopping.Store(true)
	}
	s.cancel()
	for _, r := range runs {
		<-r.done
	}
	s.notes.close()
}

func (s *Server) options(u unit) runtime.Options {
	l := s.log.With("pipeline", u.pipeline)
	if u.split() {
		l = l.With("task", u.name)
	}
	return runtime.Options{
		GroupID:     s.cfg.GroupID,
		StopTimeout: s.cfg.StopTimeout,
		Task:        u.task,
		Logf: func(format string, args ...any) {
			if w, ok := strings.CutPrefix(format, "warning: "); ok {
				l.Warn(fmt.Sprintf(w, args...))
				return
			}
			l.Info(fmt.Sprintf(format, args...))
		},
	}
}

// logArgs are the log attributes naming a unit: its pipeline, and its
// task when the pipeline is split.
func (u unit) logArgs(kv ...any) []any {
	out := []any{"pipeline", u.pipeline}
	if u.split() {
		out = append(out, "task", u.name)
	}
	return append(out, kv...)
}

// failure is the message a unit's failure leaves on its pipeline: the
// error, after the task's name when the pipeline is split.
func (u unit) failure(err error) string {
	if u.split() {
		return fmt.Sprintf("task %s: %v", u.name, err)
	}
	return err.Error()
}

// startRun starts every unit of obj's pipeline. The caller holds scriptMu
// and has stopped any earlier run of it; retries waiting for it are
// cancelled.
func (s *Server) startRun(obj *planner.Object) {
	for _, u := range unitsOf(obj) {
		s.startUnit(obj, u)
	}
}

// startUnit starts one unit of obj's pipeline; a retry waiting for it is
// cancelled. The caller holds scriptMu.
func (s *Server) startUnit(obj *planner.Object, u unit) {
	s.cancelRetry(u.key)
	s.startAttempt(obj, u, 0)
}

// startAttempt starts a unit of obj's pipeline after failed earlier
// failures in a row (0 for a start asked for by a user or at server
// start).
func (s *Server) startAttempt(obj *planner.Object, u unit, failed int) {
	name := obj.Name
	fail := func(err error) {
		s.log.Error("pipeline failed to start", u.logArgs("error", err)...)
		s.setState(name, catalog.Failed, u.failure(err))
		if s.cfg.FailFast != nil {
			s.cfg.FailFast(u.name, err, false)
		}
	}
	owner, mine, err := s.claim(u, false)
	if err != nil {
		fail(err)
		return
	}
	if !mine {
		s.log.Info("pipeline runs on another server", u.logArgs()...)
		return
	}
	opts := s.options(u)
	opts.Store = s.cfg.Checkpoints
	opts.CheckpointInterval = checkpointInterval(obj.Pipeline.Options, s.cfg.CheckpointInterval)
	opts.Owner = owner
	g, release := u.graph, func() {}
	if u.stage == "" {
		// A tail shows what the pipeline writes, not what its stages pass
		// on to it.
		g, release = s.taps.wrap(u.graph, name)
	}
	p, err := runtime.NewPipeline(g, opts)
	if err != nil {
		release()
		fail(err)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &run{name: name, u: u, def: obj.Pipeline.Graph, graph: u.graph, p: p, cancel: cancel, done: make(chan struct{}), started: time.Now(), owner: owner}
	s.mu.Lock()
	s.runs[u.key] = r
	s.last[u.key] = r
	failing := s.failingLocked(name)
	s.mu.Unlock()
	if !failing {
		// While another unit of the pipeline waits to be retried, the
		// pipeline stays failed with its error.
		s.setState(name, catalog.Running, "")
	}
	s.log.Info("pipeline started", u.logArgs()...)
	go func() {
		defer close(r.done)
		defer cancel()
		defer release()
		err := p.Run(ctx)
		if r.stopping.Load() {
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("pipeline stopped with an error", u.logArgs("error", err)...)
				if s.cfg.FailFast != nil {
					// Its last rows or checkpoint may be lost: the
					// caller exits with the error.
					s.cfg.FailFast(u.name, err, true)
				}
			}
			return
		}
		s.mu.Lock()
		if s.runs[u.key] == r {
			delete(s.runs, u.key)
		}
		s.mu.Unlock()
		if s.fenced(r, err) {
			return
		}
		if err != nil {
			// A run that got as far as a checkpoint made progress: its
			// failure starts a new series of retries.
			if p.Stats().Checkpoints > 0 {
				failed = 0
			}
			s.log.Error("pipeline failed", u.logArgs("error", err)...)
			s.setState(name, catalog.Failed, u.failure(err))
			if s.cfg.FailFast != nil {
				s.cfg.FailFast(u.name, err, true)
				return
			}
			s.scheduleRetry(u, failed+1)
			return
		}
		// Bounded sources (datagen with rows) end by themselves.
		s.log.Info("pipeline finished: its sources ended", u.logArgs()...)
		if len(s.runsOf(name)) == 0 {
			s.setState(name, catalog.Stopped, "")
		}
		s.release(u.key, r.owner.Fence)
	}()
}

// failingLocked reports whether a unit of the pipeline waits to be
// retried. The caller holds mu.
func (s *Server) failingLocked(pipeline string) bool {
	for _, rt := range s.retries {
		if sameKey(rt.u.pipeline, pipeline) {
			return true
		}
	}
	return false
}

// scheduleRetry starts the failed unit again after a wait that doubles
// with each failure in a row: RetryMin, 2·RetryMin, … RetryMax.
func (s *Server) scheduleRetry(u unit, attempt int) {
	wait := s.cfg.RetryMin
	for i := 1; i < attempt && wait < s.cfg.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, s.cfg.RetryMax)
	rt := &retry{u: u, attempt: attempt, next: time.Now().Add(wait)}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	if old := s.retries[u.key]; old != nil {
		old.timer.Stop()
	}
	s.retries[u.key] = rt
	rt.timer = time.AfterFunc(wait, func() { s.runRetry(rt) })
	s.mu.Unlock()
	s.log.Info("pipeline will be started again", u.logArgs("attempt", attempt, "in", wait.String())...)
}

// runRetry starts a failed unit again, unless the retry was cancelled
// (stopped, dropped, replaced or started by a user) or the catalog no
// longer wants it running.
func (s *Server) runRetry(rt *retry) {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	key := rt.u.key
	s.mu.Lock()
	current := s.retries[key] == rt && s.runs[key] == nil && s.ctx.Err() == nil
	if current {
		delete(s.retries, key)
	}
	s.mu.Unlock()
	if !current {
		return
	}
	obj, ok := s.cat.Lookup(rt.u.pipeline)
	if !ok || obj.Pipeline == nil || !obj.Pipeline.Running {
		return
	}
	// The unit as the pipeline is planned now (a retry is cancelled when
	// the plan changes, so it is the same unit).
	i := slices.IndexFunc(unitsOf(obj), func(x unit) bool { return x.key == key })
	if i < 0 {
		return
	}
	s.log.Info("pipeline starting again after a failure", rt.u.logArgs("attempt", rt.attempt)...)
	s.startAttempt(obj, unitsOf(obj)[i], rt.attempt)
}

// cancelRetry forgets a failed unit's pending retry.
func (s *Server) cancelRetry(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.retries[key]; rt != nil {
		rt.timer.Stop()
		delete(s.retries, key)
	}
}

// retryOf returns a failed pipeline's pending retry: failures in a row and
// when it starts again (of its units, the most failures and the first
// start).
func (s *Server) retryOf(name string) (attempt int, next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.retries {
		if !sameKey(rt.u.pipeline, name) {
			continue
		}
		attempt = max(attempt, rt.attempt)
		if !ok || rt.next.Before(next) {
			next = rt.next
		}
		ok = true
	}
	return attempt, next, ok
}

// stopRun stops every unit of the pipeline running here and waits for
// their orderly ends; retries waiting for them are cancelled. It returns
// the runs stopped.
func (s *Server) stopRun(name string) []*run {
	s.mu.Lock()
	var runs []*run
	for k, rt := range s.retries {
		if sameKey(rt.u.pipeline, name) {
			rt.timer.Stop()
			delete(s.retries, k)
		}
	}
	for k, r := range s.runs {
		if sameKey(r.name, name) {
			runs = append(runs, r)
			delete(s.runs, k)
		}
	}
	s.mu.Unlock()
	// The units stop together: each writes, checkpoints and commits its
	// own share.
	for _, r := range runs {
		r.stopping.Store(true)
		r.cancel()
	}
	for _, r := range runs {
		<-r.done
		s.log.Info("pipeline stopped", r.u.logArgs()...)
	}
	return runs
}

// stopUnit stops one unit's run, if any, and waits for its orderly end; a
// retry waiting for it is cancelled.
func (s *Server) stopUnit(key string) *run {
	s.cancelRetry(key)
	s.mu.Lock()
	r := s.runs[key]
	delete(s.runs, key)
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.stopping.Store(true)
	r.cancel()
	<-r.done
	s.log.Info("pipeline stopped", r.u.logArgs()...)
	return r
}

func (s *Server) setState(name string, st catalog.State, msg string) {
	msg = secret.MaskText(msg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.cat.SetState(ctx, name, st, msg); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		s.log.Error("record pipeline state", "pipeline", name, "state", st, "error", err)
	}
	s.notes.stateChanged(name, st, msg)
}

// PipelineStats returns the counters of a pipeline's latest run, running
// or ended; ok is false when it has not run. For a pipeline split into
// tasks they are those of its main graph's tasks' latest runs here,
// merged (runtime.MergeStats).
func (s *Server) PipelineStats(name string) (st runtime.Stats, ok bool) {
	var units []unit
	if obj, found := s.cat.Lookup(name); found && obj.Pipeline != nil {
		units = unitsOf(obj)
	} else {
		units = unitsOfGraph(name, nil)
	}
	s.mu.Lock()
	var runs []*run
	for _, u := range units {
		if r := s.last[u.key]; r != nil && u.stage == "" {
			runs = append(runs, r)
		}
	}
	s.mu.Unlock()
	if len(runs) == 0 {
		return runtime.Stats{}, false
	}
	return mergedStats(runs), true
}

// setSecretKey chooses the key that seals secrets in the catalog:
// SLUICE_SECRET_KEY when set (servers sharing a PostgreSQL catalog must
// share it), else a random key kept in <state-dir>/secret.key, made on
// first start and readable only by its owner.
func setSecretKey(stateDir string) error {
	if k := os.Getenv("SLUICE_SECRET_KEY"); k != "" {
		secret.SetKey([]byte(k))
		return nil
	}
	path := filepath.Join(stateDir, "secret.key")
	k, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return fmt.Errorf("make secret key: %w", err)
		}
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return fmt.Errorf("server state directory: %w", err)
		}
		err = os.WriteFile(path, k, 0o600)
	}
	if err != nil {
		return fmt.Errorf("secret key %s: %w", path, err)
	}
	secret.SetKey(k)
	return nil
}
