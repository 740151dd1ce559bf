// Package bench holds Sluice's end-to-end throughput benchmarks: Kafka
// (an in-process kfake broker) → Sluice → a real ClickHouse server, next to
// a bare franz-go → clickhouse-go copy that marks the ceiling of this
// machine. The package has no code of its own beyond its tests; see
// docs/benchmarks.md for what is measured and how to run it.
package bench
