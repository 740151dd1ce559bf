// Package file is Sluice's file sink: it appends rows to a file as JSON
// lines and registers itself as "file".
package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-sql/sluice/confine"
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/runtime"
)

var (
	_ runtime.Sink    = (*Sink)(nil)
	_ runtime.Flusher = (*Sink)(nil)
)

// Sink appends one JSON object per row and line.
type Sink struct {
	name string
	path string
	f    *os.File
	enc  *jsonformat.Encoder
	buf  []byte
	// unsynced is true when rows were written since the last Flush.
	unsynced bool
}

// OpenSink opens a file sink. Options:
//
//   - path: required; the file rows are appended to, created (with its
//     directory) if missing. Existing content is kept. Task i of a split
//     pipeline (SinkConfig.Task) writes <stem>.<i><ext> instead
//     (out.jsonl: out.0.jsonl, out.1.jsonl, …), so that tasks never
//     interleave their lines.
//
// The sink writes continuously: Write appends the rows as they come,
// and Flush, which the runtime calls at each checkpoint, syncs the file
// (fsync) before the offsets they came from are committed. Rows replayed
// after a crash are appended again: a file has no insert deduplication.
func OpenSink(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(cfg)
	if err != nil {
		return nil, fmt.Errorf("open file sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSink(cfg runtime.SinkConfig) (*Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	path := TaskPath(o.Required("path", "/var/lib/sluice/out.jsonl"), cfg.Task)
	// Read by the runtime, which hands the rows over.
	o.Count("batch_size")
	o.Duration("flush_interval")
	if err := o.Err(); err != nil {
		return nil, err
	}
	// Under the files root (package confine) the path is taken relative
	// to it, and nothing outside it is opened, through links neither.
	f, d, err := confine.OpenAppend(path)
	if err != nil {
		return nil, err
	}
	// The directory entry of a new file must be durable too, or a crash
	// can lose the whole file after Write said it was written.
	if d != nil {
		d.Sync()
		d.Close()
	}
	return &Sink{name: cfg.Spec.Name, path: path, f: f, enc: jsonformat.NewEncoder(cfg.Schema)}, nil
}

// TaskPath is the file task t of a pipeline writes for path: path itself
// unless the pipeline is split, else <stem>.<index><ext>.
func TaskPath(path string, t runtime.Task) string {
	if !t.Split() {
		return path
	}
	ext := filepath.Ext(path)
	if ext == filepath.Base(path) {
		ext = "" // a dot file, such as .out, has a stem and no extension
	}
	return strings.TrimSuffix(path, ext) + "." + strconv.Itoa(t.Index) + ext
}

// Write appends b's rows with one write call; Flush syncs them.
func (s *Sink) Write(_ context.Context, b *runtime.Batch, _ string) error {
	if b.Len == 0 {
		return nil
	}
	s.buf = s.buf[:0]
	for i := 0; i < b.Len; i++ {
		s.buf = s.enc.AppendRow(s.buf, b, i)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("file sink %q: write %s: %w", s.name, s.path, err)
	}
	s.unsynced = true
	return nil
}

// Flush syncs the rows written since the last Flush to disk.
func (s *Sink) Flush(context.Context) error {
	if !s.unsynced {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink %q: sync %s: %w", s.name, s.path, err)
	}
	s.unsynced = false
	return nil
}

// Close closes the file.
func (s *Sink) Close() error { return s.f.Close() }
