package planner

import (
	"os"
	"testing"

	"github.com/sluice-sql/sluice/connector/connectortest"
)

// The planner checks WITH lists against the connectors' declarations,
// which cmd/sluice registers; its tests register the same declarations
// without importing any connector.
func TestMain(m *testing.M) {
	connectortest.Register()
	os.Exit(m.Run())
}
