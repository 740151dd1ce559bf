package runtime

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

func TestFileCheckpointStoreChain(t *testing.T) {
	for _, store := range []CheckpointStore{&FileCheckpointStore{Dir: t.TempDir()}, &MemoryCheckpointStore{}} {
		chain, err := store.Load(context.Background(), "p")
		if err != nil || len(chain) != 0 {
			t.Fatalf("empty store: %v %v", chain, err)
		}
		save := func(epoch uint64, delta bool) {
			cp := &Checkpoint{Epoch: epoch, Offsets: map[string]Offsets{"1:s": {0: int64(epoch)}}, State: map[int][]byte{2: {byte(epoch)}}}
			if delta {
				cp.Delta = map[int]bool{2: true}
			}
			if err := store.Save(context.Background(), "p", cp); err != nil {
				t.Fatal(err)
			}
		}
		epochs := func() []uint64 {
			chain, err := store.Load(context.Background(), "p")
			if err != nil {
				t.Fatal(err)
			}
			var es []uint64
			for _, cp := range chain {
				es = append(es, cp.Epoch)
			}
			return es
		}
		save(1, false)
		save(2, true)
		save(3, true)
		if got := epochs(); len(got) != 3 || got[2] != 3 {
			t.Fatalf("%T chain %v, want [1 2 3]", store, got)
		}
		save(4, false)
		save(5, true)
		if got := epochs(); len(got) != 2 || got[0] != 4 || got[1] != 5 {
			t.Fatalf("%T chain %v, want [4 5]", store, got)
		}
		if err := store.SaveIntent(context.Background(), "p", &Intent{Epoch: 6, Token: "t", Rows: 10}); err != nil {
			t.Fatal(err)
		}
		if in, err := store.LoadIntent(context.Background(), "p"); err != nil || in.Rows != 10 {
			t.Fatalf("intent %+v %v", in, err)
		}
	}
	// A crash between a full save and the removal of old deltas leaves
	// deltas that Load must ignore.
	dir := t.TempDir()
	fs := &FileCheckpointStore{Dir: dir}
	fs.Save(context.Background(), "q", &Checkpoint{Epoch: 1})
	fs.Save(context.Background(), "q", &Checkpoint{Epoch: 2, Delta: map[int]bool{1: true}})
	stale, _ := os.ReadFile(filepath.Join(dir, "q", "q.deltas", "00000000000000000002"))
	fs.Save(context.Background(), "q", &Checkpoint{Epoch: 3})
	os.WriteFile(filepath.Join(dir, "q", "q.deltas", "00000000000000000002"), stale, 0o644)
	chain, err := fs.Load(context.Background(), "q")
	if err != nil || len(chain) != 1 || chain[0].Epoch != 3 {
		t.Fatalf("stale delta not ignored: %v %v", chain, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestDedupIncrementalSnapshots(t *testing.T) {
	var col collector
	d := newDedup(dedupNode(10*time.Second), kvSchema, col.emit, &operatorStats{})
	d.trackChanges()
	d.process(0, kvBatch("a@100", "b@100"))
	var full stateWriter
	d.snapshot(&full)
	d.process(0, kvBatch("c@100", "a@101", "a@120")) // c new, a@120 opens a new window
	var delta stateWriter
	d.snapshotDelta(&delta)
	if len(d.changes) != 0 {
		t.Fatal("changes not reset by the snapshot")
	}
	col.take()

	d2 := newDedup(dedupNode(10*time.Second), kvSchema, col.emit, &operatorStats{})
	if err := d2.restore(&stateReader{buf: full.buf}); err != nil {
		t.Fatal(err)
	}
	if err := d2.restoreDelta(&stateReader{buf: delta.buf}); err != nil {
		t.Fatal(err)
	}
	d2.process(0, kvBatch("a@121", "b@105", "c@109", "a@110"))
	// a's window is [120,130): a@121 dropped, a@110 kept (exactly d before).
	if got := kOnly(col.take()); got != "a@110" {
		t.Errorf("after full + delta restore: got %q", got)
	}
}

func TestJoinIncrementalSnapshots(t *testing.T) {
	node := joinNode(kvSchema, kvSchema, dag.Left, 10*time.Second, 1, 1, 0, 0)
	var col collector
	j := newJoin(node, kvSchema, kvSchema, col.emit, &operatorStats{})
	j.trackChanges()
	j.process(0, kvBatch("a@100", "b@100", "c@100"))
	var full stateWriter
	j.snapshot(&full)
	// After the full snapshot: a matches (a stored row), d arrives and
	// matches at once, e arrives unmatched, the watermark moves.
	j.process(1, kvBatch("a@105"))
	j.process(0, kvBatch("d@101", "e@102"))
	j.process(1, kvBatch("d@103"))
	j.watermark(105 * sec)
	var delta stateWriter
	j.snapshotDelta(&delta)
	if len(j.matchLog) != 0 {
		t.Fatal("match log not reset by the snapshot")
	}
	col.take()

	var col2 collector
	j2 := newJoin(node, kvSchema, kvSchema, col2.emit, &operatorStats{})
	if err := j2.restore(&stateReader{buf: full.buf}); err != nil {
		t.Fatal(err)
	}
	if err := j2.restoreDelta(&stateReader{buf: delta.buf}); err != nil {
		t.Fatal(err)
	}
	j2.watermark(200 * sec)
	got := strings.Fields(pairs(col2.take()))
	slices.Sort(got)
	if want := []string{"b@100|NULL@NULL", "c@100|NULL@NULL", "e@102|NULL@NULL"}; !slices.Equal(got, want) {
		t.Errorf("after full + delta restore, unmatched: %v, want %v", got, want)
	}
	// A partner for b arriving after the restore (b@100 is still within
	// reach at a watermark of 105) — checked on a second restore.
	j3 := newJoin(node, kvSchema, kvSchema, col2.emit, &operatorStats{})
	j3.restore(&stateReader{buf: full.buf})
	j3.restoreDelta(&stateReader{buf: delta.buf})
	j3.process(1, kvBatch("b@108"))
	if got := pairs(col2.take()); got != "b@100|b@108" {
		t.Errorf("restored rows do not match: %q", got)
	}
}

// A state directory of an earlier `sluice run` (files directly in Dir) is
// read until the first full checkpoint in the pipeline's directory
// replaces it; Remove deletes both.
func TestFileStoreLegacyLayoutAndRemove(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := &FileCheckpointStore{Dir: dir}
	b, err := encodeGob(&Checkpoint{Epoch: 4})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "Copy.checkpoint"), b, 0o644)
	ib, _ := encodeGob(&Intent{Epoch: 4, Token: "t4"})
	os.WriteFile(filepath.Join(dir, "Copy.intent"), ib, 0o644)
	if chain, err := old.Load(ctx, "Copy"); err != nil || len(chain) != 1 || chain[0].Epoch != 4 {
		t.Fatalf("legacy chain: %v %v", chain, err)
	}
	if in, err := old.LoadIntent(ctx, "Copy"); err != nil || in == nil || in.Token != "t4" {
		t.Fatalf("legacy intent: %v %v", in, err)
	}
	if err := old.Save(ctx, "Copy", &Checkpoint{Epoch: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Copy.checkpoint")); err == nil {
		t.Error("the superseded legacy checkpoint is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, "copy", "Copy.checkpoint")); err != nil {
		t.Errorf("new checkpoint not in the pipeline's directory: %v", err)
	}
	if chain, _ := old.Load(ctx, "Copy"); len(chain) != 1 || chain[0].Epoch != 5 {
		t.Errorf("after a full save: %v", chain)
	}
	if err := old.Remove(ctx, "Copy"); err != nil {
		t.Fatal(err)
	}
	if chain, _ := old.Load(ctx, "Copy"); len(chain) != 0 {
		t.Errorf("after Remove: %v", chain)
	}
	if in, _ := old.LoadIntent(ctx, "Copy"); in != nil {
		t.Errorf("intent after Remove: %+v", in)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left after Remove: %v", ents)
	}
}
