package all

import (
	"strconv"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// The options the runtime reads itself (a sink's batch_size and
// flush_interval, a source's max_future) are, when not written, exactly
// the defaults the connectors declare — and so document.
func TestRuntimeUsesDeclaredDefaults(t *testing.T) {
	checked := 0
	for _, c := range connector.All() {
		if c.Plays(connector.Sink) {
			rows, flush, err := runtime.SinkBatching(&dag.SinkSpec{Name: "s", Connector: c.Name})
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if o, ok := c.Option("batch_size", connector.Sink); ok {
				checked++
				if want, _ := strconv.Atoi(o.Default); rows != want {
					t.Errorf("%s: the runtime writes batches of %d rows, the declared default batch_size is %s", c.Name, rows, o.Default)
				}
			}
			if o, ok := c.Option("flush_interval", connector.Sink); ok {
				checked++
				if want, _ := time.ParseDuration(o.Default); flush != want {
					t.Errorf("%s: the runtime flushes after %v, the declared default flush_interval is %s", c.Name, flush, o.Default)
				}
			}
		}
		if c.Plays(connector.Source) {
			d, err := runtime.SourceMaxFuture(&dag.SourceSpec{Name: "s", Connector: c.Name})
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if o, ok := c.Option("max_future", connector.Source); ok {
				checked++
				if want, _ := time.ParseDuration(o.Default); d != want {
					t.Errorf("%s: the runtime's max_future is %v, the declared default is %s", c.Name, d, o.Default)
				}
			}
		}
	}
	if checked < 6 {
		t.Errorf("checked %d runtime defaults; the clickhouse and postgres sinks and the kafka and datagen sources declare 6", checked)
	}
	// The postgres sink writes batches of 10,000 rows, as documented.
	if rows, _, _ := runtime.SinkBatching(&dag.SinkSpec{Name: "s", Connector: "postgres"}); rows != 10_000 {
		t.Errorf("postgres batch_size in force %d, want 10000", rows)
	}
	// A written value wins over the default.
	if rows, _, _ := runtime.SinkBatching(&dag.SinkSpec{Name: "s", Connector: "postgres", Options: map[string]string{"batch_size": "77"}}); rows != 77 {
		t.Errorf("postgres batch_size '77' in force %d", rows)
	}
}

// Every literal default is a valid value of its option, and an option
// whose default is computed says how in the docs.
func TestDeclaredDefaultsAreValid(t *testing.T) {
	for _, c := range connector.All() {
		for _, o := range c.Options {
			if o.Default != "" {
				if msg, _ := o.Check(o.Default); msg != "" {
					t.Errorf("%s.%s: default %s", c.Name, o.Name, msg)
				}
			}
			if o.Default != "" && o.DefaultText != "" {
				t.Errorf("%s.%s: both a default and a computed default", c.Name, o.Name)
			}
		}
	}
}
