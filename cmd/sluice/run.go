package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/confine"
	_ "github.com/sluice-sql/sluice/connectors/all" // every connector
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/sql"
)

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	file := fs.String("f", "", "the SQL script to run (- for standard input)")
	stateDir := fs.String("state-dir", ".sluice/state", "where checkpoints are kept, so that a later run resumes where this one stopped; empty keeps no state")
	progress := fs.Duration("progress", 5*time.Second, "how often to print progress")
	filesDir := fs.String("files-dir", ".", "the only directory file sinks may write in; a relative sink path is taken under it")
	groupID := fs.String("group-id", "sluice", "default prefix of the pipelines' Kafka consumer groups, <group-id>.<pipeline>, for sources without a group_id option")
	checkpointEvery := fs.Duration("checkpoint-interval", runtime.DefaultCheckpointInterval, "how often a pipeline whose sink writes continuously (Kafka, file, stdout) checkpoints, unless its checkpoint_interval option says otherwise")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *checkpointEvery <= 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("-checkpoint-interval %s: want a positive duration such as 5s or 500ms", *checkpointEvery)}
	}
	src, err := readScript(*file)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runScript(ctx, src, *file, runConfig{
		stateDir: *stateDir, progress: *progress, groupID: *groupID, filesDir: *filesDir,
		checkpointEvery: *checkpointEvery, stdout: stdout, stderr: stderr,
	})
}

type runConfig struct {
	stateDir string
	progress time.Duration
	groupID  string
	filesDir string // the files root; "" confines nothing
	// checkpointEvery is the default checkpoint interval of pipelines
	// with a continuous sink (zero: the runtime's default).
	checkpointEvery time.Duration
	stdout          io.Writer
	stderr          io.Writer
}

// runScript applies src to an in-memory catalog of a pipeline supervisor,
// the one `sluice server` runs, and runs every pipeline it leaves running,
// and every preview SELECT it contains, until ctx ends or one fails: a
// failed pipeline is not retried, it ends the run with its error.
func runScript(ctx context.Context, src, name string, cfg runConfig) (err error) {
	defer func() {
		// Pipelines contain their own panics; this is for the rest.
		if r := recover(); r != nil {
			fmt.Fprintf(cfg.stderr, "panic: %v\n%s", r, debug.Stack())
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := confine.SetRoot(cfg.filesDir); err != nil {
		return err
	}
	// The state directory's lock is taken once the script is known to be
	// good, and held until every pipeline has stopped and checkpointed.
	var stateLock *os.File
	defer func() {
		if stateLock != nil {
			stateLock.Close()
		}
	}()
	log := slog.New(slog.NewTextHandler(cfg.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failMu sync.Mutex
	var failures []error
	srvCfg := server.Config{
		CheckpointInterval: cfg.checkpointEvery,
		GroupID:            cfg.groupID,
		Logger:             log,
		KeepDropped:        true,
		// The catalog lives as long as this run: its secrets are sealed
		// with a key that does too.
		SecretKey: randomKey(),
		// Every task of a pipeline split into tasks runs here: name is the
		// failed task's (runtime.TaskName), the pipeline's own name when it
		// is not split.
		FailFast: func(name string, err error, started bool) {
			what := "pipeline"
			if strings.Contains(name, "#") {
				what = "task"
			}
			if started {
				if re := (*runtime.RestoreError)(nil); errors.As(err, &re) && cfg.stateDir != "" {
					err = fmt.Errorf("%w\n  the checkpoint in %s cannot be used; remove this %s's checkpoint there (%s/, or %s.* of an earlier version) to start it without state from the offsets last committed", err, cfg.stateDir, what, strings.ToLower(name), name)
				}
				err = fmt.Errorf("%s %s: %w", what, name, err)
			}
			failMu.Lock()
			failures = append(failures, err)
			failMu.Unlock()
			cancel()
		},
	}
	if cfg.stateDir != "" {
		srvCfg.Checkpoints = &runtime.FileCheckpointStore{Dir: cfg.stateDir}
	} else {
		srvCfg.NoCheckpoints = true
	}
	cat, err := catalog.OpenMemory(ctx, nil)
	if err != nil {
		return err
	}
	srvCfg.Catalog = cat
	srv, err := server.New(srvCfg)
	if err != nil {
		return err
	}
	srv.Start()
	defer srv.Close()
	// A bad script changes nothing, not even the state directory: it is
	// checked before anything is made or started.
	_, errs, err := srv.Apply(ctx, src, server.ApplyOptions{DryRun: true})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		fmt.Fprint(cfg.stderr, errs.Render(src))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d error(s)", name, len(errs))}
	}
	if cfg.stateDir != "" {
		if err := os.MkdirAll(cfg.stateDir, 0o755); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if stateLock, err = lockStateDir(cfg.stateDir); err != nil {
			return err
		}
	}
	res, errs, err := srv.Apply(ctx, src, server.ApplyOptions{})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		fmt.Fprint(cfg.stderr, errs.Render(src))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d error(s)", name, len(errs))}
	}
	var pipes []string
	for _, obj := range cat.List(sql.ObjPipeline) {
		if obj.Pipeline.Running {
			pipes = append(pipes, obj.Name)
		}
	}
	previews := res.Previews
	if len(pipes) == 0 && len(previews) == 0 {
		fmt.Fprintf(cfg.stderr, "%s: nothing to run: the script has no running pipeline and no SELECT\n", name)
		return nil
	}

	errc := make(chan error, len(previews))
	var out sync.Mutex
	previewsDone := make(chan struct{})
	var pwg sync.WaitGroup
	plog := slog.New(secret.LogHandler(log.Handler())).With("preview", "select")
	for _, g := range previews {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			enc := jsonformat.NewEncoder(g.Nodes[len(g.Nodes)-1].Schema)
			var buf []byte
			opts := runtime.Options{GroupID: cfg.groupID, Logf: func(format string, args ...any) { plog.Info(fmt.Sprintf(format, args...)) }}
			err := runtime.Preview(ctx, g, opts, func(b *runtime.Batch) error {
				buf = buf[:0]
				for i := 0; i < b.Len; i++ {
					buf = enc.AppendRow(buf, b, i)
					buf = append(buf, '\n')
				}
				out.Lock()
				defer out.Unlock()
				_, err := cfg.stdout.Write(buf)
				return err
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("preview: %w", err)
				cancel()
			}
		}()
	}
	go func() { pwg.Wait(); close(previewsDone) }()
	if len(pipes) == 0 {
		// A script of previews ends when they do.
		go func() { <-previewsDone; cancel() }()
	}

	tick := time.NewTicker(cfg.progress)
	defer tick.Stop()
	last := map[string]runtime.Stats{}
	lastAt := time.Now()
	report := func() {
		now := time.Now()
		for _, p := range pipes {
			s, _ := srv.PipelineStats(p)
			fmt.Fprintln(cfg.stderr, progressLine(p, s, last[p], now.Sub(lastAt)))
			last[p] = s
		}
		lastAt = now
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			report()
		}
	}
	// Every pipeline stops in order: rows written, state checkpointed,
	// offsets committed.
	srv.Close()
	pwg.Wait()
	report()
	close(errc)
	failMu.Lock()
	all := slices.Clone(failures)
	failMu.Unlock()
	for err := range errc {
		all = append(all, err)
	}
	if len(all) > 0 {
		return errors.Join(all...)
	}
	log.Info("stopped: rows written, state checkpointed, offsets committed")
	return nil
}

// randomKey returns a new 32-byte key.
func randomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

// progressLine renders a pipeline's counters as key=value pairs, the form
// both people and scripts read.
func progressLine(name string, s, prev runtime.Stats, dt time.Duration) string {
	var dedup, late, matches, expired int64
	for _, op := range s.Operators {
		dedup += op.DedupDrops
		late += op.LateRows
		matches += op.JoinMatches
		expired += op.JoinExpired
	}
	lag := int64(0)
	for _, src := range s.Sources {
		if src.Lag < 0 {
			lag = -1
			break
		}
		lag += src.Lag
	}
	rate := 0.0
	if dt > 0 {
		rate = float64(s.RecordsIn-prev.RecordsIn) / dt.Seconds()
	}
	return fmt.Sprintf("progress pipeline=%s in=%d out=%d dedup_dropped=%d join_matches=%d join_expired=%d late=%d dlq=%d lag=%d replay_dups=%d checkpoints=%d rate=%.0f/s",
		name, s.RecordsIn, s.RowsWritten, dedup, matches, expired, late, s.DeadLettered, lag, s.PossibleDuplicates, s.Checkpoints, rate)
}
