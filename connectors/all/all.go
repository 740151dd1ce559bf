// Package all registers every connector with the runtime. Binaries import
// it for its side effects; the runtime finds connectors by name.
package all

import (
	_ "github.com/sluice-sql/sluice/connectors/clickhouse" // sink "clickhouse"
	_ "github.com/sluice-sql/sluice/connectors/datagen"    // source "datagen"
	_ "github.com/sluice-sql/sluice/connectors/file"       // sink "file"
	_ "github.com/sluice-sql/sluice/connectors/kafka"      // source and sink "kafka"
	_ "github.com/sluice-sql/sluice/connectors/postgres"   // sink "postgres"
)
