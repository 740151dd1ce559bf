// Package connectortest registers the declarations of Sluice's connectors
// for tests of packages that must not import the connectors themselves
// (the planner, the web API). The declarations are a snapshot,
// connectors.json, that connectors/all writes from the connectors' own
// declarations (go test ./connectors/all -update) and whose test fails when
// the two differ.
package connectortest

import (
	_ "embed"
	"encoding/json"
	"sync"

	"github.com/sluice-sql/sluice/connector"
)

//go:embed connectors.json
var snapshot []byte

var once sync.Once

// Snapshot returns the declarations of the snapshot, sorted by name.
func Snapshot() []connector.Connector {
	var out []connector.Connector
	if err := json.Unmarshal(snapshot, &out); err != nil {
		panic("connectortest: connectors.json: " + err.Error())
	}
	return out
}

// Register registers the snapshot's declarations that are not registered
// yet. It may be called any number of times.
func Register() {
	once.Do(func() {
		for _, c := range Snapshot() {
			if _, ok := connector.Lookup(c.Name); !ok {
				connector.Register(c)
			}
		}
	})
}
