package catalog

// Leases: which process runs each pipeline of a PostgreSQL catalog.
//
// A lease row names the owner of a pipeline, a fencing epoch (fence) and
// when the lease runs out. It is taken with one conditional statement —
// only when it is free, ran out, or is already the taker's — and every
// taking adds one to the fence. The owner renews it on an interval; a
// checkpoint or write intent is stored only in a transaction that finds
// the saver's lease current (same owner, same fence, not run out), holding
// the row with FOR SHARE so a takeover waits for that save to commit. So
// once a takeover has committed, nothing the old owner saves is stored,
// and the new owner loads the last checkpoint the old one did store.
// Times are the database's (now()), so the owners' clocks need not agree.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-sql/sluice/runtime"
)

// Lease is one pipeline's lease as stored.
type Lease struct {
	Pipeline string // lower case
	Owner    string
	Fence    int64
	Expires  time.Time
	// Live reports whether it had not run out when it was read (by the
	// database's clock).
	Live bool
}

// Leases takes, renews and lists the leases of a PostgreSQL catalog.
type Leases struct {
	b *pgBackend
}

// Leases returns the leases of a PostgreSQL catalog; ok is false for the
// embedded and in-memory catalogs, which one process holds alone (the
// embedded one with a lock on its directory).
func (s *Store) Leases() (*Leases, bool) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		return nil, false
	}
	return &Leases{b: b}, true
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Acquire takes the lease on pipeline for owner for ttl, when it is free,
// ran out or is owner's already — or, with force, whoever holds it: the
// holder is fenced at once (a script applied on one server takes over
// the pipelines it changes). It returns the new fence; ok is false when
// another owner holds a live lease.
func (l *Leases) Acquire(ctx context.Context, pipeline, owner string, ttl time.Duration, force bool) (fence int64, ok bool, err error) {
	err = l.b.pool.QueryRow(ctx, `INSERT INTO `+l.b.schema+`.leases AS l (pipeline_key, owner, fence, expires_at, acquired_at)
		VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now())
		ON CONFLICT (pipeline_key) DO UPDATE SET owner = $2, fence = l.fence + 1, expires_at = EXCLUDED.expires_at, acquired_at = now()
		WHERE l.expires_at <= now() OR l.owner = $2 OR $4
		RETURNING fence`, key(pipeline), owner, millis(ttl), force).Scan(&fence)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("take the lease on pipeline %s: %w", pipeline, err)
	}
	l.b.notify(ctx)
	return fence, true, nil
}

// Renew extends by ttl the leases owner holds at the given fences (by
// lower-case pipeline name) that have not run out, and returns those it
// extended: a lease missing from the result is lost.
func (l *Leases) Renew(ctx context.Context, owner string, held map[string]int64, ttl time.Duration) (map[string]bool, error) {
	names := make([]string, 0, len(held))
	fences := make([]int64, 0, len(held))
	for n, f := range held {
		names = append(names, key(n))
		fences = append(fences, f)
	}
	rows, err := l.b.pool.Query(ctx, `UPDATE `+l.b.schema+`.leases l SET expires_at = now() + $2 * interval '1 millisecond'
		FROM unnest($3::text[], $4::bigint[]) AS h(pipeline_key, fence)
		WHERE l.pipeline_key = h.pipeline_key AND l.fence = h.fence AND l.owner = $1 AND l.expires_at > now()
		RETURNING l.pipeline_key`, owner, millis(ttl), names, fences)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	out := make(map[string]bool, len(kept))
	for _, k := range kept {
		out[k] = true
	}
	return out, nil
}

// Release gives up owner's lease on pipeline at fence, if it still holds
// it: it runs out now, so another process takes it without waiting, and
// a save under it is refused from now on.
func (l *Leases) Release(ctx context.Context, pipeline, owner string, fence int64) error {
	_, err := l.b.pool.Exec(ctx, `UPDATE `+l.b.schema+`.leases SET expires_at = now()
		WHERE pipeline_key = $1 AND owner = $2 AND fence = $3 AND expires_at > now()`, key(pipeline), owner, fence)
	if err != nil {
		return fmt.Errorf("release the lease on pipeline %s: %w", pipeline, err)
	}
	l.b.notify(ctx)
	return nil
}

// List returns every lease, live or not.
func (l *Leases) List(ctx context.Context) ([]Lease, error) {
	rows, err := l.b.pool.Query(ctx, `SELECT pipeline_key, owner, fence, expires_at, expires_at > now() FROM `+l.b.schema+`.leases ORDER BY pipeline_key`)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lease, error) {
		var x Lease
		err := r.Scan(&x.Pipeline, &x.Owner, &x.Fence, &x.Expires, &x.Live)
		x.Expires = x.Expires.UTC()
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	return out, nil
}

// FencedError is the refusal of a save under a lease that is no longer
// current. It wraps runtime.ErrFenced.
type FencedError struct {
	Pipeline string
	Owner    string
	Fence    int64
	// Holder and HolderFence are the lease as found ("" when there is
	// none); Live whether it had not run out.
	Holder      string
	HolderFence int64
	Live        bool
}

func (e *FencedError) Error() string {
	switch {
	case e.Holder == "":
		return fmt.Sprintf("owner %s (lease epoch %d) no longer holds pipeline %s: it has no lease", e.Owner, e.Fence, e.Pipeline)
	case e.Holder == e.Owner && e.HolderFence == e.Fence:
		return fmt.Sprintf("owner %s no longer holds pipeline %s: its lease (epoch %d) ran out", e.Owner, e.Pipeline, e.Fence)
	default:
		return fmt.Sprintf("owner %s (lease epoch %d) no longer holds pipeline %s: %s took it over at lease epoch %d", e.Owner, e.Fence, e.Pipeline, e.Holder, e.HolderFence)
	}
}

func (e *FencedError) Unwrap() error { return runtime.ErrFenced }

// checkLease, within tx, holds the lease row of pipeline with FOR SHARE
// when it is o's and current, so that no takeover commits before tx; it
// returns a FencedError otherwise. The zero owner (no lease) passes.
func (b *pgBackend) checkLease(ctx context.Context, tx pgx.Tx, pipeline string, o runtime.Owner) error {
	if o == (runtime.Owner{}) {
		return nil
	}
	var ok bool
	err := tx.QueryRow(ctx, `SELECT true FROM `+b.schema+`.leases
		WHERE pipeline_key = $1 AND owner = $2 AND fence = $3 AND expires_at > now() FOR SHARE`, key(pipeline), o.ID, o.Fence).Scan(&ok)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	fe := &FencedError{Pipeline: pipeline, Owner: o.ID, Fence: o.Fence}
	err = tx.QueryRow(ctx, `SELECT owner, fence, expires_at > now() FROM `+b.schema+`.leases WHERE pipeline_key = $1`, key(pipeline)).Scan(&fe.Holder, &fe.HolderFence, &fe.Live)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return fe
}

// channel is the LISTEN/NOTIFY channel of the catalog in this schema: a
// change to objects, pipeline states or leases is announced on it.
func (b *pgBackend) channel() string {
	h := fnv.New64a()
	h.Write([]byte(b.schema))
	return fmt.Sprintf("sluice_catalog_%016x", h.Sum64())
}

// notify announces a change; a failure only delays the others until their
// next poll.
func (b *pgBackend) notify(ctx context.Context) {
	b.pool.Exec(ctx, `SELECT pg_notify($1, '')`, b.channel())
}

// Watch calls changed, from one goroutine, whenever another process (or
// this one) changes the catalog, its pipeline states or its leases, until
// ctx ends. Notifications can be missed while the connection is down (it
// reconnects every second), so a watcher also polls. It returns at once
// for a catalog that is not in PostgreSQL.
func (s *Store) Watch(ctx context.Context, changed func()) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		return
	}
	for ctx.Err() == nil {
		err := b.listen(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		_ = err
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (b *pgBackend) listen(ctx context.Context, changed func()) error {
	pc, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection has a LISTEN on it: it is not given back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{b.channel()}.Sanitize()); err != nil {
		return err
	}
	// Changes while there was no listener are picked up now.
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		changed()
	}
}

// Node is a server of the catalog, as its heartbeat row says.
type Node struct {
	ID      string
	Started time.Time
	Seen    time.Time
	// Live reports whether its heartbeat had not run out when read.
	Live bool
}

// Heartbeat records that node is alive for ttl more. A node joining
// starts a new row, so Started is when it (re)joined.
func (l *Leases) Heartbeat(ctx context.Context, node string, ttl time.Duration) error {
	_, err := l.b.pool.Exec(ctx, `INSERT INTO `+l.b.schema+`.nodes AS n (node_id, started_at, seen_at, expires_at)
		VALUES ($1, now(), now(), now() + $2 * interval '1 millisecond')
		ON CONFLICT (node_id) DO UPDATE SET seen_at = now(), expires_at = EXCLUDED.expires_at,
			started_at = CASE WHEN n.expires_at <= now() THEN now() ELSE n.started_at END`, node, millis(ttl))
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", node, err)
	}
	return nil
}

// Leave marks node gone at once (an orderly shutdown), so that the others
// count it out without waiting for its heartbeat to run out.
func (l *Leases) Leave(ctx context.Context, node string) error {
	_, err := l.b.pool.Exec(ctx, `UPDATE `+l.b.schema+`.nodes SET expires_at = now() WHERE node_id = $1`, node)
	if err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	l.b.notify(ctx)
	return nil
}

// Nodes returns every node that ever joined, live or not.
func (l *Leases) Nodes(ctx context.Context) ([]Node, error) {
	rows, err := l.b.pool.Query(ctx, `SELECT node_id, started_at, seen_at, expires_at > now() FROM `+l.b.schema+`.nodes ORDER BY node_id`)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Node, error) {
		var n Node
		err := r.Scan(&n.ID, &n.Started, &n.Seen, &n.Live)
		n.Started, n.Seen = n.Started.UTC(), n.Seen.UTC()
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	return out, nil
}

// Get returns pipeline's lease; ok is false when it never had one.
func (l *Leases) Get(ctx context.Context, pipeline string) (x Lease, ok bool, err error) {
	err = l.b.pool.QueryRow(ctx, `SELECT pipeline_key, owner, fence, expires_at, expires_at > now() FROM `+l.b.schema+`.leases WHERE pipeline_key = $1`, key(pipeline)).
		Scan(&x.Pipeline, &x.Owner, &x.Fence, &x.Expires, &x.Live)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("read the lease on pipeline %s: %w", pipeline, err)
	}
	x.Expires = x.Expires.UTC()
	return x, true, nil
}
