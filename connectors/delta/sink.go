// Package delta is Sluice's Delta Lake sink: it appends Parquet files to
// a Delta table and publishes them with one log entry per checkpoint
// epoch, exactly once across crashes, and registers itself as "delta".
//
// No Go library for Delta's log was a good fit (delta-go of rivian
// brings the arrow and cloud SDK stacks and is little maintained), so
// the log is written here, following PROTOCOL.md of delta-io/delta; the
// comments cite its sections.
package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var (
	_ runtime.Sink              = (*Sink)(nil)
	_ runtime.Committer         = (*Sink)(nil)
	_ runtime.TokenDeduplicator = (*Sink)(nil)
)

// Sink stages the rows of each checkpoint epoch in Parquet files (Write)
// and publishes them with one log entry holding their add actions and a
// txn action {appId, version = epoch} (Commit). Until committed, a file is
// referenced by no log entry, so no reader sees it.
type Sink struct {
	name      string
	path      string
	st        Storage
	schema    dag.Schema
	ps        *parquet.Schema
	codec     compress.Codec
	codecName string
	target    int64
	every     int64
	appID     string

	// pending is the epoch of the write intent the run replays (0 for
	// none): the only epoch this run may find committed already.
	pending uint64

	snap   *snapshot
	cur    *dataFile
	staged []*addFile
	token  string
	scr    scratch
	// Dropped counts the commits found already in the log (replays after
	// a crash) whose staged files were deleted instead.
	Dropped int
}

// OpenSink opens the table at the path option, creating it when missing.
func OpenSink(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(cfg)
	if err != nil {
		return nil, fmt.Errorf("open delta sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSink(cfg runtime.SinkConfig) (*Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	p := o.Required("path", "lake/events")
	target := o.Count("target_file_size")
	every := o.Count("log_checkpoint_interval")
	codecName := o.Enum("compression")
	appID := o.String("app_id")
	// Read by the runtime; checked here with the rest.
	o.Count("batch_size")
	o.Duration("flush_interval")
	if err := o.Err(); err != nil {
		return nil, err
	}
	if appID == "" {
		appID = "sluice." + cfg.Pipeline
	}
	if cfg.Task.Split() {
		// The tasks of a split pipeline are writers of their own: each
		// commits its own epochs.
		appID += "." + strconv.Itoa(cfg.Task.Index)
	}
	for _, c := range cfg.Schema {
		if _, err := deltaType(c.Type); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	st, err := openDir(p)
	if err != nil {
		return nil, err
	}
	s := &Sink{name: cfg.Spec.Name, path: p, st: st, schema: cfg.Schema, target: target, every: every, appID: appID, codecName: codecName, pending: cfg.Pending}
	s.codec = &parquet.Zstd
	if codecName == "snappy" {
		s.codec = &parquet.Snappy
	}
	s.ps = parquetSchema(cfg.Schema, s.codec)
	if err := s.openTable(); err != nil {
		st.Close()
		return nil, fmt.Errorf("table %s: %w", localPath(p), err)
	}
	return s, nil
}

// openTable reads the table's log, or creates the table: version 0 with
// the protocol and metaData actions ("Creation of a New Table" is the
// first commit of the log).
func (s *Sink) openTable() error {
	for {
		snap, err := loadSnapshot(s.st)
		if err != nil {
			return err
		}
		if snap.version >= 0 {
			if err := checkWritable(snap); err != nil {
				return err
			}
			if err := checkSchema(s.schema, snap.meta.SchemaString); err != nil {
				return err
			}
			s.snap = snap
			return nil
		}
		schema, err := schemaString(s.schema)
		if err != nil {
			return err
		}
		now := time.Now().UnixMilli()
		acts := []action{
			{CommitInfo: map[string]any{"timestamp": now, "operation": "CREATE TABLE", "operationParameters": map[string]any{},
				"isBlindAppend": true, "engineInfo": "Sluice"}},
			{Protocol: &protocol{MinReaderVersion: newReaderVersion, MinWriterVersion: newWriterVersion}},
			{MetaData: &metaData{ID: uuid.NewString(), Format: format{Provider: "parquet", Options: map[string]string{}},
				SchemaString: schema, PartitionColumns: []string{}, Configuration: map[string]string{}, CreatedTime: &now}},
		}
		err = s.st.PutIfAbsent(logName(0), encodeEntry(acts))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create the table: %w", err)
		}
		// Created, or created by another writer at the same time: read
		// it either way.
	}
}

func encodeEntry(acts []action) []byte {
	var out []byte
	for _, a := range acts {
		b, _ := json.Marshal(a)
		out = append(out, b...)
		out = append(out, '\n')
	}
	return out
}

// Write stages b's rows in Parquet files: the current file, then new
// ones whenever it reaches target_file_size. Nothing is visible before
// Commit.
func (s *Sink) Write(_ context.Context, b *runtime.Batch, token string) error {
	if b.Len == 0 {
		return nil
	}
	s.token = token
	crashPoint("before-files")
	const chunk = 16384
	for from := 0; from < b.Len; from += chunk {
		to := min(from+chunk, b.Len)
		if s.cur == nil {
			name := fmt.Sprintf("part-00000-%s-c000.%s.parquet", uuid.NewString(), s.codecName)
			out, err := s.st.Create(name)
			if err != nil {
				return fmt.Errorf("delta sink %q: create %s: %w", s.name, name, err)
			}
			s.cur = newDataFile(name, out, s.schema, s.ps, parquet.Compression(s.codec), &s.scr)
		}
		if err := s.cur.write(b, from, to); err != nil {
			return fmt.Errorf("delta sink %q: write %s: %w", s.name, s.cur.name, err)
		}
		if s.cur.size() >= s.target {
			if err := s.closeFile(); err != nil {
				return err
			}
		}
	}
	// One row group per write: the rows of a checkpoint that went into
	// this file.
	if s.cur != nil {
		if err := s.cur.w.Flush(); err != nil {
			return fmt.Errorf("delta sink %q: write %s: %w", s.name, s.cur.name, err)
		}
	}
	return nil
}

// closeFile finishes the current file and stages its add action.
func (s *Sink) closeFile() error {
	f := s.cur
	s.cur = nil
	size, stats, err := f.close()
	if err != nil {
		s.st.Delete(f.name)
		return fmt.Errorf("delta sink %q: finish %s: %w", s.name, f.name, err)
	}
	s.staged = append(s.staged, &addFile{Path: f.name, PartitionValues: map[string]string{}, Size: size,
		ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: stats})
	return nil
}

// DeduplicatesTokens reports that a batch replayed after a crash is not
// written twice: its epoch is found in the log (see Commit).
func (s *Sink) DeduplicatesTokens() bool { return true }

// Commit publishes the files staged for epoch in one log entry: their add
// actions and txn {appId, version: epoch} ("Transaction Identifiers"),
// written with put-if-absent on the next version. When another writer
// took that version, its entries are read and the commit retried on the
// version after ("Optimistic concurrency" of the protocol's "Delta Log
// Entries"). When epoch is the one the run replays after a crash
// (SinkConfig.Pending) and the log already holds a txn of this appId at
// that version with the same write token, the epoch was committed before
// the crash: the staged files are deleted, never referenced.
func (s *Sink) Commit(ctx context.Context, epoch uint64) error {
	if s.cur != nil {
		if err := s.closeFile(); err != nil {
			return err
		}
	}
	if len(s.staged) == 0 {
		return nil
	}
	crashPoint("before-commit")
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		meta := s.snap.meta
		if err := s.snap.catchUp(s.st); err != nil {
			return fmt.Errorf("delta sink %q: read the log: %w", s.name, err)
		}
		if s.snap.meta != meta {
			if err := checkWritable(s.snap); err != nil {
				return fmt.Errorf("delta sink %q: table changed: %w", s.name, err)
			}
			if err := checkSchema(s.schema, s.snap.meta.SchemaString); err != nil {
				return fmt.Errorf("delta sink %q: table changed: %w", s.name, err)
			}
		}
		if v, ok := s.snap.txns[s.appID]; ok && v == int64(epoch) && epoch == s.pending {
			if tok := s.snap.tokens[s.appID]; tok == "" || tok == s.token {
				s.drop()
				return nil
			}
			// The same epoch with other rows: the replay after a crash
			// could not reproduce the batch, and the runtime counts its
			// rows as possible duplicates. Writing them loses nothing.
		}
		// Any other epoch found committed belongs to another history of
		// the pipeline (dropped and created again, run without a
		// checkpoint store, its checkpoints removed): its rows are new.
		version := s.snap.version + 1
		now := time.Now().UnixMilli()
		acts := []action{{CommitInfo: map[string]any{
			"timestamp": now, "operation": "STREAMING UPDATE",
			"operationParameters": map[string]any{"outputMode": "Append", "queryId": s.appID, "epochId": fmt.Sprint(epoch)},
			"isBlindAppend":       true, "engineInfo": "Sluice", tokenKey: s.token,
		}}}
		for _, a := range s.staged {
			acts = append(acts, action{Add: a})
		}
		acts = append(acts, action{Txn: &txn{AppID: s.appID, Version: int64(epoch), LastUpdated: &now}})
		err := s.st.PutIfAbsent(logName(version), encodeEntry(acts))
		if errors.Is(err, fs.ErrExist) {
			continue // another writer committed this version: read it, retry
		}
		if err != nil {
			return fmt.Errorf("delta sink %q: commit version %d: %w", s.name, version, err)
		}
		s.snap.apply(acts)
		s.snap.version = version
		s.staged = s.staged[:0]
		crashPoint("after-commit")
		if version%s.every == 0 || version-max(s.snap.checkpoint, 0) > s.every {
			// A checkpoint only speeds readers up: a failed one is tried
			// again at the next commit, and the table stays correct.
			_ = writeCheckpoint(s.st, s.snap)
		}
		return nil
	}
}

// drop deletes the staged files of an epoch already committed.
func (s *Sink) drop() {
	for _, a := range s.staged {
		s.st.Delete(a.Path)
	}
	s.staged = s.staged[:0]
	s.Dropped++
}

// Close deletes what was staged and not committed (a stop in the middle
// of an epoch: the epoch is written again after the restart).
func (s *Sink) Close() error {
	if s.cur != nil {
		s.cur.w.Close()
		s.cur.out.Close()
		s.st.Delete(s.cur.name)
		s.cur = nil
	}
	for _, a := range s.staged {
		s.st.Delete(a.Path)
	}
	s.staged = nil
	return s.st.Close()
}

// CrashEnv names the environment variable of the crash tests: when it is
// set to a point (before-files, before-commit, after-commit), optionally
// followed by :N, the process kills itself with SIGKILL the Nth time (the
// first by default) it reaches that point. For tests only.
const CrashEnv = "SLUICE_DELTA_TEST_CRASH"

var crash = struct {
	point string
	n     int
}{}

func init() {
	v := os.Getenv(CrashEnv)
	if v == "" {
		return
	}
	crash.point, crash.n = v, 1
	if i := strings.IndexByte(v, ':'); i >= 0 {
		crash.point = v[:i]
		fmt.Sscan(v[i+1:], &crash.n)
	}
}

func crashPoint(p string) {
	if crash.point != p {
		return
	}
	crash.n--
	if crash.n <= 0 {
		fmt.Fprintf(os.Stderr, "delta: %s=%s: killing the process\n", CrashEnv, p)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
