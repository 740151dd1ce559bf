// Package planner turns parsed Sluice SQL into changes to the catalog and
// into dag.Graphs: it binds names against the catalog, checks types, builds
// the logical plan of a pipeline or preview, applies the rewrite rules and
// lowers the result to the DAG the runtime executes. It also renders
// EXPLAIN output and the results of SHOW and DESCRIBE.
//
// Entry points: Check plans a parsed script against a Catalog without
// changing it; Mem (or any Store) applies the resulting changes;
// ApplyScript does both from text; PlanPreview and PlanPreviewSQL plan a
// preview SELECT; Explain renders a graph and ExplainScript a whole file.
//
// Choices where SQL.md is silent, which the user docs should repeat:
//
//   - Sources, sinks and pipelines share one namespace; names compare
//     case-insensitively.
//   - CREATE PIPELINE starts the pipeline; STOP and START change its
//     desired state; CREATE OR REPLACE keeps a stopped pipeline stopped.
//   - CREATE OR REPLACE of a source or sink plans every pipeline using it
//     again; if one no longer plans, the statement is an error.
//   - The WATERMARK column is NOT NULL whatever its declaration: a record
//     without a time goes to the dead-letter destination.
//   - WATERMARK FOR _timestamp AS _timestamp - INTERVAL … gives Kafka
//     record times a delay.
//   - A datagen source has the pseudo-column _timestamp (the time it made
//     the row) only; its per-column settings are options named
//     'fields.<column>.<setting>'.
//   - Windows (TUMBLE, HOP) must be on a source's time attribute. A joined
//     row carries the left row's time; after a window, window_end is the
//     time.
//   - Integer literals take the smallest type that holds them, as in
//     ClickHouse, and a constant compared with or combined with a column
//     takes the column's type when its value fits: user_id = 7 compares
//     UInt64s, created_at > '2024-01-01' compares times (the string is
//     parsed at plan time).
//   - A signed and an unsigned integer meet in a wider signed type;
//     UInt64 and a signed type have none (an error asking for a CAST), as
//     in ClickHouse. An integer and a float meet in Float64.
//   - Integer +, - and * widen to the next size as in ClickHouse (Int32 *
//     Int32 is Int64); integer / and % keep the operands' type and are
//     NULL on division by zero.
//   - Output columns without an alias are named by their column name, or
//     else by the expression's canonical text (COUNT(*)).
//   - HAVING may name a SELECT alias; GROUP BY may not.
//   - INSERT INTO sink without a column list maps by position onto the
//     sink's declared columns; values widen implicitly (Int32 into Float64,
//     DateTime into DateTime64), anything else needs a CAST; a nullable
//     value into a NOT NULL sink column needs COALESCE.
package planner
