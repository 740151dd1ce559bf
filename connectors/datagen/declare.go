package datagen

import (
	"math"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the datagen connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSource: OpenSource}

var declaration = connector.Connector{
	Name:            "datagen",
	Doc:             "Generates rows from per-column settings, reproducibly from a seed.",
	Kinds:           []connector.Kind{connector.Source},
	Formats:         []string{"json"},
	PerColumnPrefix: "fields.",
	Pseudo:          []string{"_timestamp"},
	Options: []connector.Option{
		{Name: "rows_per_second", Type: connector.Count, Default: "1000", Min: 0, Max: math.MaxInt32,
			Doc: "the rate; `0` generates as fast as the pipeline reads"},
		{Name: "duplicate_ratio", Type: connector.Ratio, Default: "0",
			Doc: "fraction (0–1) of rows that exactly repeat one of the previous 1000 rows, to exercise `DEDUPLICATE BY`"},
		{Name: "seed", Type: connector.Count, Default: "0", Min: 0,
			Doc: "makes the data reproducible"},
		{Name: "rows", Type: connector.Count, Default: "0", Min: 0,
			Doc: "stop after this many rows (0: never)"},
		{Name: "partitions", Type: connector.Count, Default: "1", Min: 1, Max: 1024,
			Doc: "partitions the rows are spread over, round-robin (row *n* is partition *n* mod *p*, offset *n* div *p*)"},
		{Name: "idle_timeout", Type: connector.Duration, Default: "5s",
			Doc: "how long a partition without records holds the watermark back"},
		{Name: "max_future", Type: connector.Duration, Default: "24h", ZeroOff: true,
			Doc: "rows whose event time is further ahead of the wall clock are dead letters (logged and counted) and never move the watermark; `0` turns the check off"},
	},
}
