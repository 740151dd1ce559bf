package delta

import (
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the delta connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSink: OpenSink}

// DefaultTargetFileSize is target_file_size's default, 128 MiB.
const DefaultTargetFileSize = 128 << 20

var declaration = connector.Connector{
	Name:  "delta",
	Doc:   "Appends Parquet files to a Delta Lake table, one log entry per checkpoint, exactly once.",
	Kinds: []connector.Kind{connector.Sink},
	// Without column mapping, Delta refuses these characters in column
	// names (Spark: "Found invalid character(s) among ' ,;{}()\n\t=' in
	// the column names"), so other engines could not read such a table.
	ColumnNameRefuses: " ,;{}()\n\t=",
	ColumnNameWhy:     "Delta Lake tables without column mapping cannot hold these characters in column names (Spark and other readers refuse them)",
	Options: []connector.Option{
		{Name: "path", Type: connector.String, Required: true,
			Doc: "the table's directory (created with the table when missing); under the server's files directory, as the file sink's path"},
		{Name: "target_file_size", Type: connector.Count, Default: "134217728", Min: 1024, Max: 1 << 40,
			Doc: "bytes: a Parquet file is closed at every checkpoint, or sooner when it reaches this size"},
		{Name: "compression", Type: connector.Enum, Default: "zstd", Values: []string{"zstd", "snappy"},
			Doc: "the Parquet files' compression codec"},
		{Name: "log_checkpoint_interval", Type: connector.Count, Default: "10", Min: 1, Max: 1_000_000,
			Doc: "a Parquet checkpoint of the log (and `_last_checkpoint`) is written at every version that is a multiple of this, as Delta's `delta.checkpointInterval`"},
		{Name: "app_id", Type: connector.String, DefaultText: "`sluice.<pipeline>`",
			Doc: "the `appId` of the `txn` actions that make replays after a crash idempotent; unique per writer of the table (task `i` of a pipeline with `parallelism` above 1 appends `.<i>`)"},
		{Name: "batch_size", Type: connector.Count, Default: "1000000", Min: 1, Max: 100_000_000,
			Doc: "most rows per commit: a checkpoint (and a log entry) is taken when this many rows wait"},
		{Name: "flush_interval", Type: connector.Duration, Default: "10s",
			Doc: "longest wait before waiting rows are written and committed: each commit adds at least one file, so a longer interval makes fewer, larger files"},
	},
}
