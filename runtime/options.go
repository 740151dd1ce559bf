package runtime

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
)

// The runtime reads a few options itself: a sink's batching and a
// source's max_future. Connectors that have them declare them (package
// connector), with their defaults; the runtime uses the declared default
// when the option is not written, and these fallbacks for connectors that
// do not declare the option (sinks that take no batching options, test
// connectors).
var (
	batchSizeOption     = connector.Option{Name: "batch_size", Type: connector.Count, Default: strconv.Itoa(DefaultBatchSize), Min: 1, Max: 100_000_000}
	flushIntervalOption = connector.Option{Name: "flush_interval", Type: connector.Duration, Default: DefaultFlushInterval.String()}
	maxFutureOption     = connector.Option{Name: "max_future", Type: connector.Duration, Default: DefaultMaxFuture.String(), ZeroOff: true}
)

// runtimeOption returns the declaration of a runtime option for a
// connector (fallback when it does not declare it) and its value in force.
func runtimeOption(conn string, k connector.Kind, opts map[string]string, fallback connector.Option) (*connector.Option, string) {
	o := &fallback
	if c, ok := connector.Lookup(conn); ok {
		if d, ok := c.Option(fallback.Name, k); ok {
			o = d
		}
	}
	if v, ok := opts[fallback.Name]; ok {
		return o, v
	}
	return o, o.Default
}

func countOption(conn string, k connector.Kind, opts map[string]string, fallback connector.Option) (int64, error) {
	o, v := runtimeOption(conn, k, opts, fallback)
	return o.ParseCount(v)
}

func durationOption(conn string, k connector.Kind, opts map[string]string, fallback connector.Option) (time.Duration, error) {
	o, v := runtimeOption(conn, k, opts, fallback)
	return o.ParseDuration(v)
}

// SinkBatching returns the batching of a sink as in force: batch_size, the
// most rows one write holds, and flush_interval, the longest rows wait for
// a write.
//
// For a continuous sink (SinkContinuous) batch_size is the most rows one
// Write holds and flush_interval the longest produced rows wait before
// they are written ('0', the default of the continuous connectors: after
// each input chunk and each watermark step).
func SinkBatching(sink *dag.SinkSpec) (rows int, flush time.Duration, err error) {
	name := sink.Name
	sink = declaredSink(sink)
	n, err := countOption(sink.Connector, connector.Sink, sink.Options, batchSizeOption)
	if err != nil {
		return 0, 0, fmt.Errorf("sink %q: %w", name, err)
	}
	d, err := durationOption(sink.Connector, connector.Sink, sink.Options, flushIntervalOption)
	if err != nil {
		return 0, 0, fmt.Errorf("sink %q: %w", name, err)
	}
	return int(n), d, nil
}
