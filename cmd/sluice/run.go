package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-sql/sluice/confine"
	_ "github.com/sluice-sql/sluice/connectors/all" // every connector
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	src, err := readScript(*file)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runScript(ctx, src, *file, runConfig{
		stateDir: *stateDir, progress: *progress, groupID: *groupID, filesDir: *filesDir,
		stdout: stdout, stderr: stderr,
	})
}

type runConfig struct {
	stateDir string
	progress time.Duration
	groupID  string
	filesDir string // the files root; "" confines nothing
	stdout   io.Writer
	stderr   io.Writer
}

// runScript applies src to an in-memory catalog and runs every pipeline it
// leaves running, and every preview SELECT it contains, until ctx ends or
// one fails.
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
	cat := planner.NewMem()
	steps, errs := planner.ApplyScript(src, cat)
	if len(errs) == 0 {
		if script, perrs := sql.Parse(src); len(perrs) == 0 {
			errs = server.ConfineFiles(script.Stmts)
		}
	}
	if len(errs) > 0 {
		fmt.Fprint(cfg.stderr, errs.Render(src))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d error(s)", name, len(errs))}
	}
	log := slog.New(secret.LogHandler(slog.NewTextHandler(cfg.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	var store runtime.CheckpointStore
	if cfg.stateDir != "" {
		if err := os.MkdirAll(cfg.stateDir, 0o755); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		store = &runtime.FileCheckpointStore{Dir: cfg.stateDir}
	}
	opts := func(key, name string) runtime.Options {
		l := log.With(key, name)
		return runtime.Options{
			Store:   store,
			GroupID: cfg.groupID,
			Logf:    func(format string, args ...any) { l.Info(fmt.Sprintf(format, args...)) },
		}
	}

	type running struct {
		name string
		p    *runtime.Pipeline
	}
	var pipes []running
	for _, obj := range cat.List(sql.ObjPipeline) {
		if !obj.Pipeline.Running {
			continue
		}
		p, err := runtime.NewPipeline(obj.Pipeline.Graph, opts("pipeline", obj.Name))
		if err != nil {
			return err
		}
		pipes = append(pipes, running{obj.Name, p})
	}
	var previews []*dag.Graph
	for _, st := range steps {
		if st.Preview != nil {
			previews = append(previews, st.Preview)
		}
	}
	if len(pipes) == 0 && len(previews) == 0 {
		fmt.Fprintf(cfg.stderr, "%s: nothing to run: the script has no running pipeline and no SELECT\n", name)
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(pipes)+len(previews))
	for _, r := range pipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("pipeline started", "pipeline", r.name)
			if err := r.p.Run(ctx); err != nil {
				if re := (*runtime.RestoreError)(nil); errors.As(err, &re) && cfg.stateDir != "" {
					err = fmt.Errorf("%w\n  the checkpoint in %s cannot be used; remove this pipeline's checkpoint there (%s/, or %s.* of an earlier version) to start it without state from the offsets last committed", err, cfg.stateDir, strings.ToLower(r.name), r.name)
				}
				errc <- fmt.Errorf("pipeline %s: %w", r.name, err)
				cancel()
			}
		}()
	}
	var out sync.Mutex
	previewsDone := make(chan struct{})
	var pwg sync.WaitGroup
	for _, g := range previews {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			enc := jsonformat.NewEncoder(g.Nodes[len(g.Nodes)-1].Schema)
			var buf []byte
			err := runtime.Preview(ctx, g, opts("preview", "select"), func(b *runtime.Batch) error {
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
		for _, r := range pipes {
			s := r.p.Stats()
			fmt.Fprintln(cfg.stderr, progressLine(r.name, s, last[r.name], now.Sub(lastAt)))
			last[r.name] = s
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
	wg.Wait()
	pwg.Wait()
	report()
	close(errc)
	var all []error
	for err := range errc {
		all = append(all, err)
	}
	if len(all) > 0 {
		return errors.Join(all...)
	}
	log.Info("stopped: rows written, state checkpointed, offsets committed")
	return nil
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
