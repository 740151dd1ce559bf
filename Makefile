# Sluice. `make run` starts Sluice; `make test` runs every test.
GO      ?= go
BIN     := bin/sluice
PKGS    := ./...

.PHONY: run build test test-unit bench bench-e2e bench-delta lint fuzz clean web

build:
	$(GO) build -o $(BIN) ./cmd/sluice

run: build
	./$(BIN) dev $(ARGS)

# Unit, golden and integration tests. Integration tests use a ClickHouse
# server that scripts/test.sh starts from deploy/clickhouse (when
# clickhouse-server is installed), the local Postgres, and in-process kfake.
test:
	bash scripts/test.sh

test-unit:
	$(GO) test $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sql/... ./planner/... ./runtime/...

# Kafka → Sluice → ClickHouse throughput next to a bare client doing the
# same copy (docs/benchmarks.md); starts its own ClickHouse server.
bench-e2e:
	eval "$$(bash scripts/clickhouse.sh start)"; trap 'bash scripts/clickhouse.sh stop' EXIT; \
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 30m ./internal/bench/

# The dedup pipeline of bench-e2e into a Delta Lake table and into
# ClickHouse, side by side in one run, over 2 M events
# (docs/benchmarks.md); starts its own ClickHouse server.
bench-delta:
	eval "$$(bash scripts/clickhouse.sh start)"; trap 'bash scripts/clickhouse.sh stop' EXIT; \
	SLUICE_BENCH_EVENTS=$${SLUICE_BENCH_EVENTS:-2000000} $(GO) test -run '^$$' -bench 'SluiceDedup' -benchtime 1x -count 3 -timeout 30m ./internal/bench/

# Produce-to-visible latency at a fixed rate (docs/benchmarks.md): Kafka →
# dedup → Kafka (at least once, exactly once), Kafka → join → Kafka, Kafka
# → ClickHouse; starts its own ClickHouse server. SLUICE_LATENCY_RATE
# (events/s, default 20000) and SLUICE_LATENCY_SECONDS (default 10).
bench-latency:
	eval "$$(bash scripts/clickhouse.sh start)"; trap 'bash scripts/clickhouse.sh stop' EXIT; \
	$(GO) test -run '^$$' -bench Latency -benchtime 1x -timeout 30m ./internal/bench/

lint:
	gofmt -l . | (! grep .)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParsePlan -fuzztime 2m ./planner/

clean:
	rm -rf bin

# Rebuild the web editor's bundle (web/ui/dist, committed and embedded in
# the binary) from web/ui/src. Needs Node and npm; nothing else does.
web:
	cd web/ui && npm ci --no-audit --no-fund && node build.mjs
