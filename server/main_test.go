package server

import (
	"os"
	"testing"

	"github.com/sluice-sql/sluice/connector/connectortest"
	"github.com/sluice-sql/sluice/format"
	"github.com/sluice-sql/sluice/format/json"
)

// The server plans scripts against the connectors' declarations,
// which cmd/sluice registers; its tests register the same declarations
// without importing any connector, and the JSON format their test
// sources' records are in.
func TestMain(m *testing.M) {
	connectortest.Register()
	format.Register(json.Format)
	os.Exit(m.Run())
}
