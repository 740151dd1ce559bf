// Package all registers every connector and every record format: binaries
// import it for its side effects. Adding a connector or a format is one
// package and one line here.
package all

import (
	"github.com/sluice-sql/sluice/connectors/blackhole"
	"github.com/sluice-sql/sluice/connectors/clickhouse"
	"github.com/sluice-sql/sluice/connectors/datagen"
	"github.com/sluice-sql/sluice/connectors/delta"
	"github.com/sluice-sql/sluice/connectors/file"
	"github.com/sluice-sql/sluice/connectors/kafka"
	"github.com/sluice-sql/sluice/connectors/postgres"
	"github.com/sluice-sql/sluice/connectors/stdout"
	"github.com/sluice-sql/sluice/format"
	"github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/runtime"
)

func init() {
	runtime.Register(blackhole.Connector)
	runtime.Register(clickhouse.Connector)
	runtime.Register(datagen.Connector)
	runtime.Register(delta.Connector)
	runtime.Register(file.Connector)
	runtime.Register(kafka.Connector)
	runtime.Register(postgres.Connector)
	runtime.Register(stdout.Connector)

	format.Register(json.Format)
}
