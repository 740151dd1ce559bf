package postgres

import (
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the postgres connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

var declaration = connector.Connector{
	Name:  "postgres",
	Doc:   "Writes to a PostgreSQL table with COPY.",
	Kinds: []connector.Kind{connector.Sink},
	Options: []connector.Option{
		{Name: "url", Type: connector.String, Required: true,
			Doc: "`postgres://user@host:5432/db?sslmode=disable` (or libpq key=value); put passwords in the environment: `url = 'env:SLUICE_PG_URL'`"},
		{Name: "table", Type: connector.String, DefaultText: "the sink's name",
			Doc: "`name` or `schema.name` (split at the first dot)"},
		{Name: "batch_size", Type: connector.Count, Default: "10000", Min: 1, Max: 100_000_000,
			Doc: "rows per COPY"},
		{Name: "flush_interval", Type: connector.Duration, Default: "1s",
			Doc: "longest wait before a partial batch is written"},
		{Name: "create_table", Type: connector.Bool, Default: "false",
			Doc: "`true` creates the table if it does not exist"},
	},
}
