package main

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/compose/demo.sql from the sluice dev demo's template")

// TestComposeDemo: the demo of docker compose is the `sluice dev` demo
// with every address and credential read from the sluice service's
// environment, rendered from the one template so that the two stay the
// same pipelines.
func TestComposeDemo(t *testing.T) {
	var got bytes.Buffer
	err := demoTemplate.Execute(&got, demoConfig{
		Compose:            true,
		Brokers:            "env:KAFKA_BROKERS",
		ClickHouse:         "env:CLICKHOUSE_URL",
		ClickHouseUser:     "env:CLICKHOUSE_USER",
		ClickHousePassword: "env:CLICKHOUSE_PASSWORD",
	})
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../deploy/compose/demo.sql"
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s differs from the sluice dev demo rendered for compose; run go test ./cmd/sluice -run TestComposeDemo -update", path)
	}
}
