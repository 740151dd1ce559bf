// Package stdout is Sluice's stdout sink: it writes rows to the process's
// standard output as JSON lines, for trying pipelines without a database.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the stdout connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

var declaration = connector.Connector{
	Name:    "stdout",
	Doc:     "Writes rows to the process's standard output as JSON lines, for trying pipelines.",
	Kinds:   []connector.Kind{connector.Sink},
	Formats: []string{"json"},
	// Rows are written as they are produced.
	Continuous: true,
	Options:    []connector.Option{connector.ContinuousBatchSize, connector.ContinuousFlushInterval},
}

// out is where every stdout sink writes; one lock keeps the lines of
// concurrent pipelines whole.
var out struct {
	sync.Mutex
	w io.Writer
}

func init() { out.w = os.Stdout }

var _ runtime.Sink = (*Sink)(nil)

// Sink writes one JSON object per row and line.
type Sink struct {
	name string
	enc  *jsonformat.Encoder
	buf  []byte
}

// OpenSink opens a stdout sink. Its only options are batch_size and
// flush_interval, read by the runtime.
func OpenSink(_ context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err == nil {
		o.Count("batch_size")
		o.Duration("flush_interval")
		err = o.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("open stdout sink %q: %w", cfg.Spec.Name, err)
	}
	return &Sink{name: cfg.Spec.Name, enc: jsonformat.NewEncoder(cfg.Schema)}, nil
}

// Write writes b's rows with one write call. Standard output keeps nothing
// durably: rows replayed after a crash are written again.
func (s *Sink) Write(_ context.Context, b *runtime.Batch, _ string) error {
	if b.Len == 0 {
		return nil
	}
	s.buf = s.buf[:0]
	for i := 0; i < b.Len; i++ {
		s.buf = s.enc.AppendRow(s.buf, b, i)
		s.buf = append(s.buf, '\n')
	}
	out.Lock()
	defer out.Unlock()
	if _, err := out.w.Write(s.buf); err != nil {
		return fmt.Errorf("stdout sink %q: %w", s.name, err)
	}
	return nil
}

// Close does nothing: standard output stays open.
func (s *Sink) Close() error { return nil }
