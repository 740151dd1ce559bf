package all

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// Every connector of SQL.md's table is registered in its roles: opening
// one with no options reaches the connector (its own error), not the
// registry's "no connector".
func TestRegistered(t *testing.T) {
	for _, c := range []string{"kafka", "datagen"} {
		_, err := runtime.OpenSource(context.Background(), runtime.SourceConfig{Spec: &dag.SourceSpec{Name: "x", Connector: c}})
		if err != nil && strings.Contains(err.Error(), "no source connector") {
			t.Errorf("source %s: %v", c, err)
		}
	}
	for _, c := range []string{"kafka", "clickhouse", "postgres", "file"} {
		_, err := runtime.OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "x", Connector: c}})
		if err == nil || strings.Contains(err.Error(), "no sink connector") {
			t.Errorf("sink %s: %v", c, err)
		}
	}
}
