// Package clickhouse is Sluice's ClickHouse sink. It writes batches over
// the native protocol with clickhouse-go, column by column, and registers
// itself as "clickhouse".
//
// It works with old servers (Debian's 18.16) and current ones, and decides
// what to use from the version the server reports at connect time (see
// features): DateTime64 and Bool columns in create_table, and insert
// deduplication tokens, so that a batch written again after a crash is
// dropped by the server instead of doubled.
package clickhouse

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var _ runtime.Sink = (*Sink)(nil)

// maxBackoff caps the wait between attempts while the server is away.
const maxBackoff = 5 * time.Second

// Sink writes rows to one ClickHouse table.
type Sink struct {
	name    string
	table   string // quoted `db`.`table`
	conn    driver.Conn
	feat    features
	insert  string
	writers []columnWriter
	token   bool // send insert_deduplication_token
	dedups  bool // and the table drops repeated tokens
}

// OpenSink opens a ClickHouse sink. Options:
//
//   - url: required; clickhouse://host:9000/database (the native protocol
//     port; database default "default"). Query parameters of clickhouse-go
//     DSNs are accepted (secure=true for TLS, dial_timeout=…).
//   - table: the table written: 'name' in the url's database, or
//     'database.name' (split at the first dot); default: the sink's name.
//   - user, password: credentials (default: the url's, else "default" with no
//     password); put the password in the environment: 'env:CH_PASSWORD'.
//   - batch_size: rows per insert (default 100000); read by the runtime.
//   - flush_interval: longest wait before a partial batch is written
//     (default 1s); read by the runtime.
//   - create_table: 'true' creates the table if it does not exist, as
//     MergeTree ORDER BY tuple() with the pipeline's output columns
//     (default 'false'). See columnDDL for the types used on old servers.
//
// At open the table's columns are checked against the pipeline's output:
// every output column must exist with a type that holds its values.
func OpenSink(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSink(ctx context.Context, cfg runtime.SinkConfig) (*Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	rawURL := o.Required("url", "clickhouse://localhost:9000/default")
	table := o.String("table")
	if table == "" {
		table = cfg.Spec.Name
	}
	// batch_size and flush_interval are checked here and used by the
	// runtime, which batches the writes.
	o.Count("batch_size")
	o.Duration("flush_interval")
	create := o.Bool("create_table")
	var opts *ch.Options
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
			o.Errorf("url", "want clickhouse://host:9000/database")
		} else if opts, err = ch.ParseDSN(rawURL); err != nil {
			o.Errorf("url", "%v", err)
		}
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if o.Has("user") {
		opts.Auth.Username = o.String("user")
	}
	if o.Has("password") {
		opts.Auth.Password = o.String("password")
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	opts.MaxOpenConns = 2
	opts.MaxIdleConns = 1
	db := opts.Auth.Database
	if d, t, ok := strings.Cut(table, "."); ok {
		db, table = d, t
	}

	conn, err := ch.Open(opts)
	if err != nil {
		return nil, err
	}
	s := &Sink{name: cfg.Spec.Name, table: quoteIdent(db) + "." + quoteIdent(table), conn: conn}
	if err := s.setup(ctx, cfg.Schema, db, table, create); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sink) setup(ctx context.Context, schema dag.Schema, db, table string, create bool) error {
	var err error
	if s.feat, err = detect(ctx, s.conn); err != nil {
		return err
	}
	if create {
		if err := s.createTable(ctx, schema); err != nil {
			return err
		}
	}
	cols, err := tableColumns(ctx, s.conn, db, table)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		return fmt.Errorf("table %s does not exist; create it, or set create_table = 'true'", s.table)
	}
	var names []string
	for _, c := range schema {
		if strings.ContainsAny(c.Name, declaration.ColumnNameRefuses) {
			return fmt.Errorf("column %q cannot be written to ClickHouse: %s; rename it with AS", c.Name, declaration.ColumnNameWhy)
		}
		t, ok := cols[c.Name]
		if !ok {
			return fmt.Errorf("column %q of the pipeline's output is not in table %s (its columns: %s)", c.Name, s.table, strings.Join(sortedKeys(cols), ", "))
		}
		if !fits(c.Type, t) {
			return fmt.Errorf("column %q: the pipeline writes %s but table %s has %s", c.Name, c.Type, s.table, t.text)
		}
		names = append(names, "`"+c.Name+"`")
		s.writers = append(s.writers, newWriter(c.Type, t))
	}
	// The column list holds each name as it is between backquotes: it
	// has none of the characters the declaration refuses, so the server
	// reads the name and clickhouse-go matches it.
	s.insert = "INSERT INTO " + s.table + " (" + strings.Join(names, ", ") + ")"
	s.token = s.feat.dedupToken
	if s.token {
		s.dedups = s.checkDedupWindow(ctx, db, table)
	}
	slog.Info("clickhouse sink opened", "sink", s.name, "table", s.table, "server", s.feat.version,
		"revision", s.feat.revision, "dedup_token", s.token)
	return nil
}

// detect reads what the server supports from the version it reported at
// connect time, then confirms the two deduplication settings in the
// server's own tables when it can: vendors backport settings, and a
// setting that is missing makes every insert fail.
func detect(ctx context.Context, conn driver.Conn) (features, error) {
	v, err := conn.ServerVersion()
	if err != nil {
		return features{}, fmt.Errorf("connect: %w", err)
	}
	maj, minor := v.Version.Major, v.Version.Minor
	f := features{
		version:      fmt.Sprintf("%d.%d.%d", maj, minor, v.Version.Patch),
		revision:     v.Revision,
		dateTime64:   atLeast(maj, minor, 20, 1),
		boolType:     atLeast(maj, minor, 21, 12),
		dedupToken:   atLeast(maj, minor, 22, 2),
		nonReplDedup: atLeast(maj, minor, 21, 5),
	}
	if n, err := count(ctx, conn, "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'"); err == nil {
		f.dedupToken = n > 0
	}
	if n, err := count(ctx, conn, "SELECT count() FROM system.merge_tree_settings WHERE name = 'non_replicated_deduplication_window'"); err == nil {
		f.nonReplDedup = n > 0
	}
	return f, nil
}

func count(ctx context.Context, conn driver.Conn, q string) (uint64, error) {
	var n uint64
	err := conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// createTable creates the table from the output schema when it does not
// exist. On servers with non_replicated_deduplication_window the table
// remembers the last 1000 inserts' tokens: without it a plain MergeTree
// ignores insert_deduplication_token.
func (s *Sink) createTable(ctx context.Context, schema dag.Schema) error {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(s.table)
	b.WriteString(" (")
	for i, c := range schema {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c.Name))
		b.WriteByte(' ')
		b.WriteString(columnDDL(c.Type, s.feat))
	}
	b.WriteString(") ENGINE = MergeTree ORDER BY tuple()")
	if s.feat.nonReplDedup {
		b.WriteString(" SETTINGS non_replicated_deduplication_window = 1000")
	}
	if err := s.conn.Exec(ctx, b.String()); err != nil {
		return fmt.Errorf("create table %s: %w", s.table, err)
	}
	return nil
}

// checkDedupWindow reports whether the table drops an insert whose
// deduplication token it has seen: Replicated*MergeTree tables do, a plain
// MergeTree only with non_replicated_deduplication_window set. It warns
// when a MergeTree does not, since a replay after a crash then doubles a
// batch.
func (s *Sink) checkDedupWindow(ctx context.Context, db, table string) bool {
	var engine, ddl string
	err := s.conn.QueryRow(ctx, "SELECT engine, create_table_query FROM system.tables WHERE database = "+
		quoteString(db)+" AND name = "+quoteString(table)).Scan(&engine, &ddl)
	switch {
	case err != nil || !strings.HasSuffix(engine, "MergeTree"):
		return false
	case strings.HasPrefix(engine, "Replicated") || strings.Contains(ddl, "non_replicated_deduplication_window"):
		return true
	}
	slog.Warn("clickhouse sink: the table does not deduplicate inserts, so a batch replayed after a crash is written twice; "+
		"to fix: ALTER TABLE "+s.table+" MODIFY SETTING non_replicated_deduplication_window = 1000",
		"sink", s.name, "engine", engine)
	return false
}

// DeduplicatesTokens reports whether a write repeated with the same token
// is dropped by the server, so the runtime need not count its rows as
// possible duplicates after a crash.
func (s *Sink) DeduplicatesTokens() bool { return s.dedups }

var _ runtime.TokenDeduplicator = (*Sink)(nil)

// tableColumns reads a table's columns and their types.
func tableColumns(ctx context.Context, conn driver.Conn, db, table string) (map[string]chType, error) {
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = "+quoteString(db)+" AND table = "+quoteString(table))
	if err != nil {
		return nil, fmt.Errorf("columns of table %s.%s: %w", quoteIdent(db), quoteIdent(table), err)
	}
	defer rows.Close()
	cols := map[string]chType{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		cols[name] = parseType(typ)
	}
	return cols, rows.Err()
}

func sortedKeys(m map[string]chType) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Write inserts b as one INSERT. While the server is unreachable or
// answers with a transient error it retries, waiting twice as long each
// time up to 5 s, until ctx ends: the pipeline is held back and the batch
// is never dropped. On servers that support it each attempt carries token
// as insert_deduplication_token, so an attempt that reached the server
// before the connection broke is not written twice.
func (s *Sink) Write(ctx context.Context, b *runtime.Batch, token string) error {
	if b.Len == 0 {
		return nil
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.write(ctx, b, token)
		if err == nil {
			if attempt > 1 {
				slog.Info("clickhouse sink: write succeeded", "sink", s.name, "table", s.table, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil || !transient(err) {
			return fmt.Errorf("clickhouse sink %q: insert into %s: %w", s.name, s.table, err)
		}
		slog.Warn("clickhouse sink: write failed; retrying", "sink", s.name, "table", s.table,
			"rows", b.Len, "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("clickhouse sink %q: insert into %s: %w (then %w)", s.name, s.table, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// errAppend marks a failure to convert values: retrying cannot help.
type errAppend struct{ err error }

func (e errAppend) Error() string { return e.err.Error() }
func (e errAppend) Unwrap() error { return e.err }

func (s *Sink) write(ctx context.Context, b *runtime.Batch, token string) error {
	if s.token && token != "" {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_deduplication_token": token}))
	}
	batch, err := s.conn.PrepareBatch(ctx, s.insert)
	if err != nil {
		return err
	}
	for i, w := range s.writers {
		if err := batch.Column(i).Append(w.values(&b.Vecs[i], b.Len)); err != nil {
			batch.Abort()
			return errAppend{fmt.Errorf("column %d: %w", i+1, err)}
		}
	}
	return batch.Send()
}

// transientCodes are server errors that go away by themselves.
var transientCodes = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	164: true, // READONLY (a replica catching up)
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	425: true, // SYSTEM_ERROR
	999: true, // KEEPER_EXCEPTION
}

// transient reports whether err may go away by retrying: connection
// failures (the server is restarting, the network broke) and the server
// errors above. Other server errors (a dropped table, a value that does not
// fit) and conversion errors are returned to the runtime, which stops the
// pipeline instead of retrying what cannot succeed.
func transient(err error) bool {
	var ae errAppend
	if errors.As(err, &ae) {
		return false
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return transientCodes[ex.Code]
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET,
		syscall.EPIPE, ch.ErrAcquireConnTimeout, ch.ErrConnectionClosed, sqldriver.ErrBadConn} {
		if errors.Is(err, e) {
			return true
		}
	}
	// The driver flattens some read and write failures into text.
	msg := err.Error()
	for _, s := range []string{"connection", "broken pipe", "EOF", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Close closes the connections.
func (s *Sink) Close() error { return s.conn.Close() }
