// Package postgres is Sluice's PostgreSQL sink: it writes batches with
// COPY (pgx CopyFrom) and registers itself as "postgres".
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var _ runtime.Sink = (*Sink)(nil)

const maxBackoff = 5 * time.Second

// Sink copies rows into one table.
type Sink struct {
	name   string
	url    string
	ident  pgx.Identifier
	cols   []string
	schema dag.Schema
	conn   *pgx.Conn
	row    []any
}

// OpenSink opens a PostgreSQL sink. Options:
//
//   - url: required; a libpq URL or key=value string
//     (postgres://user@host:5432/db?sslmode=disable); put passwords in
//     the environment: url = 'env:SLUICE_PG_URL'.
//   - table: 'name' or 'schema.name' (split at the first dot); default: the
//     sink's name.
//   - batch_size: rows per COPY (default 10000); read by the runtime.
//   - flush_interval: longest wait before a partial batch is written
//     (default 1s); read by the runtime.
//   - create_table: 'true' creates the table if it does not exist from the
//     pipeline's output columns (default 'false').
//
// At open, every output column must exist in the table with a type that
// holds its values. Write returns once the COPY is committed. PostgreSQL
// has no insert deduplication: a batch replayed after a crash is copied
// again.
func OpenSink(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSink(ctx context.Context, cfg runtime.SinkConfig) (*Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	url := o.Required("url", "postgres://postgres@localhost:5432/postgres")
	table := o.String("table")
	if table == "" {
		table = cfg.Spec.Name
	}
	// batch_size and flush_interval are checked here and used by the
	// runtime, which batches the writes.
	o.Count("batch_size")
	o.Duration("flush_interval")
	create := o.Bool("create_table")
	if url != "" {
		if _, err := pgx.ParseConfig(url); err != nil {
			o.Errorf("url", "not a PostgreSQL connection string (postgres://user@host:5432/db)")
		}
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	s := &Sink{name: cfg.Spec.Name, url: url, schema: cfg.Schema, row: make([]any, len(cfg.Schema))}
	if sch, name, ok := strings.Cut(table, "."); ok {
		s.ident = pgx.Identifier{sch, name}
	} else {
		s.ident = pgx.Identifier{table}
	}
	for _, c := range cfg.Schema {
		s.cols = append(s.cols, c.Name)
	}
	if s.conn, err = pgx.Connect(ctx, url); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := s.setup(ctx, create); err != nil {
		s.conn.Close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *Sink) setup(ctx context.Context, create bool) error {
	if create {
		var b strings.Builder
		b.WriteString("CREATE TABLE IF NOT EXISTS ")
		b.WriteString(s.ident.Sanitize())
		b.WriteString(" (")
		for i, c := range s.schema {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pgx.Identifier{c.Name}.Sanitize())
			b.WriteByte(' ')
			b.WriteString(pgType(c.Type))
			if !c.Type.Nullable {
				b.WriteString(" NOT NULL")
			}
		}
		b.WriteString(")")
		if _, err := s.conn.Exec(ctx, b.String()); err != nil {
			return fmt.Errorf("create table %s: %w", s.ident.Sanitize(), err)
		}
	}
	// to_regclass resolves the name as the COPY will (search_path included).
	rows, err := s.conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, s.ident.Sanitize())
	if err != nil {
		return fmt.Errorf("columns of table %s: %w", s.ident.Sanitize(), err)
	}
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		cols[name] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(cols) == 0 {
		return fmt.Errorf("table %s does not exist; create it, or set create_table = 'true'", s.ident.Sanitize())
	}
	for _, c := range s.schema {
		typ, ok := cols[c.Name]
		if !ok {
			var names []string
			for n := range cols {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("column %q of the pipeline's output is not in table %s (its columns: %s)", c.Name, s.ident.Sanitize(), strings.Join(names, ", "))
		}
		if !fits(c.Type, typ) {
			return fmt.Errorf("column %q: the pipeline writes %s but table %s has %s", c.Name, c.Type, s.ident.Sanitize(), typ)
		}
	}
	return nil
}

// pgType is the column type create_table uses for t: one that holds every
// value of t (UInt64 needs numeric).
func pgType(t dag.Type) string {
	switch t.Kind {
	case dag.String:
		return "text"
	case dag.Int8, dag.Int16, dag.UInt8:
		return "smallint"
	case dag.Int32, dag.UInt16:
		return "integer"
	case dag.Int64, dag.UInt32:
		return "bigint"
	case dag.UInt64:
		return "numeric(20, 0)"
	case dag.Float32:
		return "real"
	case dag.Float64:
		return "double precision"
	case dag.Bool:
		return "boolean"
	case dag.Date:
		return "date"
	case dag.DateTime, dag.DateTime64:
		return "timestamp with time zone"
	case dag.Decimal:
		return fmt.Sprintf("numeric(%d, %d)", t.Precision, t.Scale)
	}
	return "text"
}

// fits reports whether a column of the PostgreSQL type typ (as format_type
// renders it) holds every value of t.
func fits(t dag.Type, typ string) bool {
	base, _, _ := strings.Cut(typ, "(")
	base = strings.TrimSpace(base)
	ok := func(names ...string) bool {
		for _, n := range names {
			if base == n {
				return true
			}
		}
		return false
	}
	switch t.Kind {
	case dag.String:
		return ok("text", "character varying", "character")
	case dag.Int8, dag.Int16, dag.UInt8:
		return ok("smallint", "integer", "bigint", "numeric")
	case dag.Int32, dag.UInt16:
		return ok("integer", "bigint", "numeric")
	case dag.Int64, dag.UInt32:
		return ok("bigint", "numeric")
	case dag.UInt64:
		return ok("numeric")
	case dag.Float32:
		return ok("real", "double precision")
	case dag.Float64:
		return ok("double precision")
	case dag.Bool:
		return ok("boolean")
	case dag.Date:
		return ok("date", "timestamp with time zone", "timestamp without time zone")
	case dag.DateTime, dag.DateTime64:
		return ok("timestamp with time zone", "timestamp without time zone")
	case dag.Decimal:
		return ok("numeric")
	}
	return false
}

// Write copies b into the table. While PostgreSQL is unreachable or
// answers with a transient error it reconnects and retries, waiting twice
// as long each time up to 5 s, until ctx ends.
func (s *Sink) Write(ctx context.Context, b *runtime.Batch, _ string) error {
	if b.Len == 0 {
		return nil
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.copy(ctx, b)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !transient(err) {
			return fmt.Errorf("postgres sink %q: copy into %s: %w", s.name, s.ident.Sanitize(), err)
		}
		slog.Warn("postgres sink: write failed; retrying", "sink", s.name, "table", s.ident.Sanitize(),
			"rows", b.Len, "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres sink %q: copy into %s: %w (then %w)", s.name, s.ident.Sanitize(), err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (s *Sink) copy(ctx context.Context, b *runtime.Batch) error {
	if s.conn == nil || s.conn.IsClosed() {
		conn, err := pgx.Connect(ctx, s.url)
		if err != nil {
			return err
		}
		s.conn = conn
	}
	src := &rows{s: s, b: b, i: -1}
	_, err := s.conn.CopyFrom(ctx, s.ident, s.cols, src)
	if err != nil && s.conn.PgConn().IsBusy() {
		s.conn.Close(ctx)
	}
	return err
}

// rows feeds one batch to CopyFrom, reusing one []any for every row.
type rows struct {
	s *Sink
	b *runtime.Batch
	i int
}

func (r *rows) Next() bool { r.i++; return r.i < r.b.Len }
func (r *rows) Err() error { return nil }

func (r *rows) Values() ([]any, error) {
	i := r.i
	for c := range r.s.row {
		r.s.row[c] = value(&r.b.Vecs[c], r.s.schema[c].Type, i)
	}
	return r.s.row, nil
}

func value(v *runtime.Vector, t dag.Type, i int) any {
	if len(v.Nulls) != 0 && v.Nulls[i] {
		return nil
	}
	switch t.Kind {
	case dag.String:
		return string(v.Data[v.Offs[i]:v.Offs[i+1]])
	case dag.UInt64:
		return pgtype.Numeric{Int: new(big.Int).SetUint64(v.U64[i]), Valid: true}
	case dag.UInt8, dag.UInt16, dag.UInt32:
		return int64(v.U64[i])
	case dag.Float32, dag.Float64:
		return v.F64[i]
	case dag.Bool:
		return v.I64[i] != 0
	case dag.Date:
		return time.Unix(v.I64[i]*86400, 0).UTC()
	case dag.DateTime, dag.DateTime64:
		return time.Unix(0, v.I64[i]).UTC()
	case dag.Decimal:
		return pgtype.Numeric{Int: big.NewInt(v.I64[i]), Exp: -int32(t.Scale), Valid: true}
	}
	return v.I64[i]
}

// transient reports whether err may go away by retrying: connection
// failures and the server classes for connection trouble (08), rollbacks
// (40), resources (53), operator intervention (57) and system errors (58).
// Data and schema errors are returned to the runtime.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "40", "53", "57", "58":
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "EOF")
}

// Close closes the connection.
func (s *Sink) Close() error {
	if s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.conn.Close(ctx)
}
