package catalog

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-sql/sluice/runtime"
)

// Checkpoints keeps pipeline checkpoints in the catalog's PostgreSQL
// schema, so that a server whose catalog is in PostgreSQL keeps no state on
// its own disk and can be restarted on another machine.
//
// Each Save is one transaction, so after a crash Load returns the chain
// as it was before or after that Save. A Save or SaveIntent of a run that
// holds a lease (runtime.Options.Owner) is stored only if that lease is
// still current, checked in the same transaction; otherwise it fails with
// a *FencedError, which wraps runtime.ErrFenced.
type Checkpoints struct {
	b *pgBackend
	// Timeout bounds each call, within the caller's context.
	Timeout time.Duration
}

var _ runtime.CheckpointStore = (*Checkpoints)(nil)

// Checkpoints returns the checkpoint store of a PostgreSQL catalog; ok is
// false for the embedded catalog, whose server keeps checkpoints in its
// data directory.
func (s *Store) Checkpoints() (*Checkpoints, bool) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		return nil, false
	}
	return &Checkpoints{b: b, Timeout: 30 * time.Second}, true
}

func (c *Checkpoints) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.Timeout)
}

func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}

// Load implements runtime.CheckpointStore: the last full checkpoint and
// the incremental ones after it, oldest first.
func (c *Checkpoints) Load(ctx context.Context, pipeline string) ([]*runtime.Checkpoint, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	rows, err := c.b.pool.Query(ctx, `SELECT data FROM `+c.b.schema+`.checkpoints
		WHERE pipeline_key = $1 AND epoch >= (
			SELECT max(epoch) FROM `+c.b.schema+`.checkpoints WHERE pipeline_key = $1 AND full_checkpoint)
		ORDER BY epoch`, key(pipeline))
	if err != nil {
		return nil, fmt.Errorf("load checkpoints of %s: %w", pipeline, err)
	}
	chain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*runtime.Checkpoint, error) {
		var data []byte
		if err := r.Scan(&data); err != nil {
			return nil, err
		}
		var cp runtime.Checkpoint
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&cp); err != nil {
			return nil, fmt.Errorf("decode checkpoint: %w", err)
		}
		return &cp, nil
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoints of %s: %w", pipeline, err)
	}
	return chain, nil
}

// Save implements runtime.CheckpointStore. A full checkpoint replaces the
// chain in the same transaction that stores it.
func (c *Checkpoints) Save(ctx context.Context, pipeline string, cp *runtime.Checkpoint) error {
	data, err := encode(cp)
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	k := key(pipeline)
	insert := `INSERT INTO ` + c.b.schema + `.checkpoints (pipeline_key, epoch, full_checkpoint, data, owner, fence) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (pipeline_key, epoch) DO UPDATE SET full_checkpoint = $3, data = $4, owner = $5, fence = $6, saved_at = now()`
	err = pgx.BeginFunc(ctx, c.b.pool, func(tx pgx.Tx) error {
		if err := c.b.checkLease(ctx, tx, pipeline, cp.Owner); err != nil {
			return err
		}
		if cp.Full() {
			if _, err := tx.Exec(ctx, `DELETE FROM `+c.b.schema+`.checkpoints WHERE pipeline_key = $1 AND epoch <= $2`, k, int64(cp.Epoch)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, insert, k, int64(cp.Epoch), cp.Full(), data, cp.Owner.ID, cp.Owner.Fence)
		return err
	})
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", pipeline, err)
	}
	return nil
}

// LoadIntent implements runtime.CheckpointStore.
func (c *Checkpoints) LoadIntent(ctx context.Context, pipeline string) (*runtime.Intent, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	var data []byte
	err := c.b.pool.QueryRow(ctx, `SELECT data FROM `+c.b.schema+`.checkpoint_intents WHERE pipeline_key = $1`, key(pipeline)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load write intent of %s: %w", pipeline, err)
	}
	var in runtime.Intent
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&in); err != nil {
		return nil, fmt.Errorf("decode write intent of %s: %w", pipeline, err)
	}
	return &in, nil
}

// SaveIntent implements runtime.CheckpointStore.
func (c *Checkpoints) SaveIntent(ctx context.Context, pipeline string, in *runtime.Intent) error {
	data, err := encode(in)
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	err = pgx.BeginFunc(ctx, c.b.pool, func(tx pgx.Tx) error {
		if err := c.b.checkLease(ctx, tx, pipeline, in.Owner); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+c.b.schema+`.checkpoint_intents (pipeline_key, data, owner, fence) VALUES ($1, $2, $3, $4)
			ON CONFLICT (pipeline_key) DO UPDATE SET data = $2, owner = $3, fence = $4, saved_at = now()`, key(pipeline), data, in.Owner.ID, in.Owner.Fence)
		return err
	})
	if err != nil {
		return fmt.Errorf("save write intent of %s: %w", pipeline, err)
	}
	return nil
}

// Remove deletes a pipeline's checkpoints and intent.
func (c *Checkpoints) Remove(ctx context.Context, pipeline string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, c.b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+c.b.schema+`.checkpoints WHERE pipeline_key = $1`, key(pipeline)); err != nil {
			return fmt.Errorf("remove checkpoints of %s: %w", pipeline, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+c.b.schema+`.checkpoint_intents WHERE pipeline_key = $1`, key(pipeline)); err != nil {
			return fmt.Errorf("remove checkpoints of %s: %w", pipeline, err)
		}
		return nil
	})
}
