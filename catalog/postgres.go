package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sluice-sql/sluice/sql"
)

// migrations create and evolve the catalog schema. Each runs once, in its
// own transaction, recorded in schema_migrations; append, never edit, so
// that every deployed catalog follows the same path.
var migrations = []string{
	// 1: objects and what each pipeline uses.
	`CREATE TABLE objects (
		name_key   text PRIMARY KEY,
		kind       text NOT NULL CHECK (kind IN ('SOURCE', 'SINK', 'PIPELINE')),
		name       text NOT NULL,
		sql        text NOT NULL,
		canonical  text NOT NULL,
		running    boolean NOT NULL DEFAULT false,
		state      text NOT NULL DEFAULT '',
		error      text NOT NULL DEFAULT '',
		created_at timestamptz NOT NULL,
		updated_at timestamptz NOT NULL
	);
	CREATE TABLE pipeline_uses (
		pipeline_key text NOT NULL REFERENCES objects (name_key) ON DELETE CASCADE,
		object_key   text NOT NULL,
		role         text NOT NULL CHECK (role IN ('source', 'sink')),
		position     integer NOT NULL,
		PRIMARY KEY (pipeline_key, object_key, role)
	);
	CREATE INDEX pipeline_uses_object ON pipeline_uses (object_key);`,
	// 2: pipeline checkpoints, so a server with a PostgreSQL catalog keeps
	// all its state there.
	`CREATE TABLE checkpoints (
		pipeline_key    text NOT NULL,
		epoch           bigint NOT NULL,
		full_checkpoint boolean NOT NULL,
		data            bytea NOT NULL,
		saved_at        timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (pipeline_key, epoch)
	);
	CREATE TABLE checkpoint_intents (
		pipeline_key text PRIMARY KEY,
		data         bytea NOT NULL,
		saved_at     timestamptz NOT NULL DEFAULT now()
	);`,
	// 3: leases, so that each pipeline runs in one process at a time, and
	// the owner and lease fence that stored each checkpoint and intent.
	`CREATE TABLE leases (
		pipeline_key text PRIMARY KEY,
		owner        text NOT NULL,
		fence        bigint NOT NULL,
		expires_at   timestamptz NOT NULL,
		acquired_at  timestamptz NOT NULL
	);
	ALTER TABLE checkpoints ADD COLUMN owner text NOT NULL DEFAULT '', ADD COLUMN fence bigint NOT NULL DEFAULT 0;
	ALTER TABLE checkpoint_intents ADD COLUMN owner text NOT NULL DEFAULT '', ADD COLUMN fence bigint NOT NULL DEFAULT 0;`,
	// 4: the servers of the catalog, each renewing its row as a heartbeat,
	// so that they share the pipelines out evenly.
	`CREATE TABLE nodes (
		node_id    text PRIMARY KEY,
		started_at timestamptz NOT NULL,
		seen_at    timestamptz NOT NULL,
		expires_at timestamptz NOT NULL
	);`,
}

type pgBackend struct {
	pool   *pgxpool.Pool
	schema string // quoted
}

// OpenPostgres opens the catalog in schema (created when missing) of the
// database at url, and migrates it to the current version.
func OpenPostgres(ctx context.Context, url, schema string) (*Store, error) {
	if schema == "" {
		schema = "sluice"
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to the catalog database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the catalog database: %w", err)
	}
	b := &pgBackend{pool: pool, schema: pgx.Identifier{schema}.Sanitize()}
	if err := b.migrate(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate the catalog schema %s: %w", schema, err)
	}
	s, err := open(ctx, b)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate brings the schema up to date. An advisory lock, keyed by the
// schema name, serialises servers starting at the same time against one
// database.
func (b *pgBackend) migrate(ctx context.Context, schema string) error {
	h := fnv.New64a()
	h.Write([]byte("sluice catalog " + schema))
	lockKey := int64(h.Sum64())
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey)
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + b.schema,
		`CREATE TABLE IF NOT EXISTS ` + b.schema + `.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+b.schema+`.schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("the catalog is at version %d; this sluice knows up to %d", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+b.schema); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *pgBackend) load(ctx context.Context) ([]Entry, error) {
	rows, err := b.pool.Query(ctx, `SELECT kind, name, sql, canonical, running, state, error, created_at, updated_at FROM `+b.schema+`.objects`)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	ents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		var kind, state string
		err := r.Scan(&kind, &e.Name, &e.SQL, &e.Canonical, &e.Running, &state, &e.Error, &e.Created, &e.Updated)
		e.Kind, e.State = sql.ObjectKind(kind), State(state)
		e.Created, e.Updated = e.Created.UTC(), e.Updated.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	uses, err := b.pool.Query(ctx, `SELECT o.name_key, u.object_key, u.role FROM `+b.schema+`.pipeline_uses u JOIN `+b.schema+`.objects o ON o.name_key = u.pipeline_key ORDER BY u.pipeline_key, u.role, u.position`)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	byKey := map[string]*Entry{}
	for i := range ents {
		byKey[key(ents[i].Name)] = &ents[i]
	}
	for uses.Next() {
		var p, o, role string
		if err := uses.Scan(&p, &o, &role); err != nil {
			uses.Close()
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		e := byKey[p]
		if e == nil {
			continue
		}
		// The names as spelled at creation live on the objects.
		name := o
		if oe := byKey[o]; oe != nil {
			name = oe.Name
		}
		if role == "sink" {
			e.Sink = name
		} else {
			e.Sources = append(e.Sources, name)
		}
	}
	uses.Close()
	if err := uses.Err(); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return ents, nil
}

func (b *pgBackend) write(ctx context.Context, puts []Entry, dels []string) error {
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		// Delivered at commit: the other servers on this catalog reload.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, b.channel()); err != nil {
			return err
		}
		for _, k := range dels {
			if _, err := tx.Exec(ctx, `DELETE FROM `+b.schema+`.objects WHERE name_key = $1`, k); err != nil {
				return err
			}
		}
		for _, e := range puts {
			k := key(e.Name)
			_, err := tx.Exec(ctx, `INSERT INTO `+b.schema+`.objects (name_key, kind, name, sql, canonical, running, state, error, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (name_key) DO UPDATE SET kind = $2, name = $3, sql = $4, canonical = $5, running = $6, state = $7, error = $8, created_at = $9, updated_at = $10`,
				k, string(e.Kind), e.Name, e.SQL, e.Canonical, e.Running, string(e.State), e.Error, e.Created, e.Updated)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM `+b.schema+`.pipeline_uses WHERE pipeline_key = $1`, k); err != nil {
				return err
			}
			if e.Kind != sql.ObjPipeline {
				continue
			}
			for i, src := range e.Sources {
				if _, err := tx.Exec(ctx, `INSERT INTO `+b.schema+`.pipeline_uses VALUES ($1, $2, 'source', $3) ON CONFLICT DO NOTHING`, k, key(src), i); err != nil {
					return err
				}
			}
			if e.Sink != "" {
				if _, err := tx.Exec(ctx, `INSERT INTO `+b.schema+`.pipeline_uses VALUES ($1, $2, 'sink', 0)`, k, key(e.Sink)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (b *pgBackend) setState(ctx context.Context, name string, st State, msg string, at time.Time) error {
	tag, err := b.pool.Exec(ctx, `UPDATE `+b.schema+`.objects SET state = $2, error = $3, updated_at = $4 WHERE name_key = $1`, key(name), string(st), msg, at)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	b.notify(ctx)
	return nil
}

func (b *pgBackend) close() error {
	b.pool.Close()
	return nil
}

// DropSchema removes a catalog schema and everything in it. Tests use it
// to clean up their own schema.
func DropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("drop schema %s: %w", strings.TrimSpace(schema), err)
	}
	return err
}
