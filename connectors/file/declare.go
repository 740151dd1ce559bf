package file

import (
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the file connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

var declaration = connector.Connector{
	Name:    "file",
	Doc:     "Appends rows to a file as JSON lines.",
	Kinds:   []connector.Kind{connector.Sink},
	Formats: []string{"json"},
	// Rows are appended as they are produced; the file is synced at each
	// checkpoint.
	Continuous: true,
	Options: []connector.Option{
		{Name: "path", Type: connector.String, Required: true,
			Doc: "the file, created with its directory if missing; existing content is kept"},
		connector.ContinuousBatchSize,
		connector.ContinuousFlushInterval,
	},
}
