package clickhouse

import (
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the clickhouse connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

var declaration = connector.Connector{
	Name:  "clickhouse",
	Doc:   "Writes to a ClickHouse table over the native protocol, column by column.",
	Kinds: []connector.Kind{connector.Sink},
	// clickhouse-go reads an INSERT's column list with a regular
	// expression (one level of balanced parentheses) and matches it to the
	// server's columns by the quoted names with every backquote removed
	// and escapes left as written; ClickHouse 18.16 answers an INSERT
	// without a column list with an empty header. A name with one of these
	// characters could be created but never written.
	ColumnNameRefuses: "`\\()",
	ColumnNameWhy:     "the ClickHouse client matches inserted columns by name with backquotes removed and escapes kept, and reads the column list without nested parentheses, so such a column could be created but never written",
	Options: []connector.Option{
		{Name: "url", Type: connector.String, Required: true,
			Doc: "`clickhouse://host:9000/database` (the native port; database `default` if omitted); clickhouse-go DSN parameters work too: `secure=true` for TLS, `dial_timeout=10s`"},
		{Name: "table", Type: connector.String, DefaultText: "the sink's name",
			Doc: "`name` in the url's database, or `database.name` (split at the first dot)"},
		{Name: "user", Type: connector.String, DefaultText: "the url's, else `default`",
			Doc: "overrides the url's user"},
		{Name: "password", Type: connector.String, Secret: true, DefaultText: "the url's, else empty",
			Doc: "overrides the url's password; use `env:NAME`"},
		{Name: "batch_size", Type: connector.Count, Default: "100000", Min: 1, Max: 100_000_000,
			Doc: "rows per INSERT"},
		{Name: "flush_interval", Type: connector.Duration, Default: "1s",
			Doc: "longest wait before a partial batch is written"},
		{Name: "create_table", Type: connector.Bool, Default: "false",
			Doc: "`true` creates the table if it does not exist"},
	},
}
