#!/usr/bin/env bash
# Runs every test: starts a ClickHouse server for the integration tests from
# the project's own config (data in a temp dir), then go test, then the race
# detector over the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; then
	eval "$(bash scripts/clickhouse.sh start)"
	trap 'bash scripts/clickhouse.sh stop' EXIT
fi
export SLUICE_TEST_POSTGRES="${SLUICE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

go test -count=1 ./...
go test -count=1 -race ./runtime/...
