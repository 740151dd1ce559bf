package runtime

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Checkpoint is a consistent cut of a pipeline: operator state exactly as
// it was after processing every record before Offsets, and nothing after.
type Checkpoint struct {
	Epoch uint64
	// Offsets is, per source (by sourceKey), the next offset to read in each
	// partition. Resuming there with State restored continues the pipeline
	// as if it had never stopped.
	Offsets map[string]Offsets
	// Watermarks is, per source, the largest time seen in each partition
	// (key -1: the source watermark itself).
	Watermarks map[string]map[int32]int64
	// NodeWatermarks is each node's input watermark per port.
	NodeWatermarks map[int][]int64
	// State is each stateful operator's snapshot, by node ID; Kinds holds
	// a fingerprint of the node that wrote it ("dedup:<hash of its spec
	// and schemas>"), so state is never restored into a node that would
	// read it differently.
	State map[int][]byte
	Kinds map[int]string
	// Delta lists the nodes whose State holds only the changes since the
	// previous checkpoint (incremental checkpoints; see CheckpointStore).
	// Empty in a full checkpoint.
	Delta map[int]bool `json:",omitempty"`
	Time  time.Time
	// Final is true for the checkpoint a stop stores: the run ended there
	// cleanly, having written nothing after it. A restart from a checkpoint
	// that is not final follows a crash.
	Final bool `json:",omitempty"`
	// Owner is the run that took the checkpoint and the fence of its
	// lease (zero without a lease).
	Owner Owner
}

// Full reports whether cp stands alone (no node's state is a delta).
func (cp *Checkpoint) Full() bool { return len(cp.Delta) == 0 }

// Intent records a sink write about to happen. It is stored before the
// write and superseded by the checkpoint of the same epoch after it, so a
// restart that finds an intent newer than the checkpoint knows that up to
// Rows rows may have been written without their checkpoint.
type Intent struct {
	Epoch uint64
	Token string
	Rows  int
	// End is the offsets the batch ends at: a restart replays to exactly
	// there before its first write, to write the same rows with the same
	// token.
	End map[string]Offsets
	// Owner is the run about to write (see Checkpoint.Owner).
	Owner Owner
}

// CheckpointStore persists checkpoints and write intents per pipeline.
//
// Checkpoints form a chain: a full checkpoint, then incremental ones (some
// nodes' state is only what changed since the checkpoint before). Saving
// a full checkpoint starts a new chain and lets the store drop the old
// one. Each Save must be atomic: after a crash, Load returns the chain as
// it was before or after that Save, never a torn checkpoint.
//
// It is the one checkpoint store of Sluice: the server and `sluice run`
// keep checkpoints through it, in files (FileCheckpointStore) or in the
// catalog's PostgreSQL schema (package catalog). Every call takes a
// context that bounds it.
type CheckpointStore interface {
	// Load returns the chain to restore, oldest first: the last full
	// checkpoint and every incremental one saved after it. Empty when the
	// pipeline has none.
	Load(ctx context.Context, pipeline string) ([]*Checkpoint, error)
	Save(ctx context.Context, pipeline string, cp *Checkpoint) error
	// LoadIntent returns the last intent saved, or nil.
	LoadIntent(ctx context.Context, pipeline string) (*Intent, error)
	SaveIntent(ctx context.Context, pipeline string, in *Intent) error
	// Remove deletes the pipeline's checkpoints and intent: it was
	// dropped, or its new plan cannot restore them.
	Remove(ctx context.Context, pipeline string) error
}

// FileCheckpointStore keeps each pipeline's checkpoints in a directory of
// its own under Dir, <dir>/<name in lower case>/: <name>.checkpoint (the
// last full checkpoint), <name>.deltas/<epoch> (incremental ones after it)
// and <name>.intent, each replaced atomically: written to a temporary
// file, synced, renamed over the old one, and the directory synced.
// Removing a pipeline's checkpoints is removing its directory.
//
// Checkpoints of earlier `sluice run` versions, kept directly in Dir
// (<name>.checkpoint, …), are still read until the first full checkpoint
// in the new place replaces them.
type FileCheckpointStore struct {
	Dir string
}

var _ CheckpointStore = (*FileCheckpointStore)(nil)

func cleanName(pipeline string) string {
	// Pipeline names are identifiers, but a path separator must never
	// escape Dir.
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, pipeline)
}

// dir is the pipeline's directory. Names are case-insensitive; so is the
// directory, on every file system.
func (s *FileCheckpointStore) dir(pipeline string) string {
	d := strings.ToLower(cleanName(pipeline))
	if strings.HasPrefix(d, ".") {
		// "." and ".." are quotable identifiers, not directories to enter.
		d = "_" + d
	}
	return filepath.Join(s.Dir, d)
}

func (s *FileCheckpointStore) path(pipeline, ext string) string {
	return filepath.Join(s.dir(pipeline), cleanName(pipeline)+"."+ext)
}

// legacy is where earlier versions kept the file.
func (s *FileCheckpointStore) legacy(pipeline, ext string) string {
	return filepath.Join(s.Dir, cleanName(pipeline)+"."+ext)
}

// current returns the file store that holds the pipeline's checkpoint:
// the pipeline's directory, or Dir itself for a chain of an earlier
// version that has not been replaced yet.
func (s *FileCheckpointStore) current(pipeline string) (path func(string) string) {
	if _, err := os.Stat(s.path(pipeline, "checkpoint")); err != nil {
		if _, err := os.Stat(s.legacy(pipeline, "checkpoint")); err == nil {
			return func(ext string) string { return s.legacy(pipeline, ext) }
		}
	}
	return func(ext string) string { return s.path(pipeline, ext) }
}

// Remove deletes the pipeline's directory (and files of an earlier
// version).
func (s *FileCheckpointStore) Remove(_ context.Context, pipeline string) error {
	for _, ext := range []string{"checkpoint", "intent", "deltas"} {
		if err := os.RemoveAll(s.legacy(pipeline, ext)); err != nil {
			return err
		}
	}
	return os.RemoveAll(s.dir(pipeline))
}

func (s *FileCheckpointStore) Load(_ context.Context, pipeline string) ([]*Checkpoint, error) {
	path := s.current(pipeline)
	var base Checkpoint
	ok, err := s.read(path("checkpoint"), &base)
	if !ok {
		return nil, err
	}
	chain := []*Checkpoint{&base}
	dir := path("deltas")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read checkpoint deltas: %w", err)
	}
	// Names are zero-padded epochs, so directory order is epoch order.
	for _, e := range ents {
		epoch, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || epoch <= base.Epoch {
			continue // a temporary file, or a delta the base already includes
		}
		var cp Checkpoint
		if _, err := s.read(filepath.Join(dir, e.Name()), &cp); err != nil {
			return nil, err
		}
		chain = append(chain, &cp)
	}
	return chain, nil
}

// Save writes a full checkpoint over <name>.checkpoint and then removes
// the deltas it supersedes (a crash in between leaves deltas that Load
// ignores by epoch); an incremental one goes to <name>.deltas/<epoch>.
func (s *FileCheckpointStore) Save(_ context.Context, pipeline string, cp *Checkpoint) error {
	if !cp.Full() {
		dir := s.current(pipeline)("deltas")
		return writeAtomic(dir, filepath.Join(dir, fmt.Sprintf("%020d", cp.Epoch)), cp)
	}
	if err := writeAtomic(s.dir(pipeline), s.path(pipeline, "checkpoint"), cp); err != nil {
		return err
	}
	// The chain of an earlier version is superseded.
	os.Remove(s.legacy(pipeline, "checkpoint"))
	os.RemoveAll(s.legacy(pipeline, "deltas"))
	dir := s.path(pipeline, "deltas")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if epoch, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && epoch <= cp.Epoch {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

func (s *FileCheckpointStore) LoadIntent(_ context.Context, pipeline string) (*Intent, error) {
	var in Intent
	ok, err := s.read(s.path(pipeline, "intent"), &in)
	if !ok && err == nil {
		ok, err = s.read(s.legacy(pipeline, "intent"), &in)
	}
	if !ok {
		return nil, err
	}
	return &in, nil
}

func (s *FileCheckpointStore) SaveIntent(_ context.Context, pipeline string, in *Intent) error {
	if err := writeAtomic(s.dir(pipeline), s.path(pipeline, "intent"), in); err != nil {
		return err
	}
	os.Remove(s.legacy(pipeline, "intent"))
	return nil
}

func (s *FileCheckpointStore) read(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	return true, nil
}

// writeAtomic replaces path (in dir) with v's encoding: temporary file,
// fsync, rename, fsync of the directory.
func writeAtomic(dir, path string, v any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	b, err := encodeGob(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// MemoryCheckpointStore keeps checkpoints in memory, encoded as the file
// store encodes them (so a test exercises the same round trip).
type MemoryCheckpointStore struct {
	mu      sync.Mutex
	chains  map[string][][]byte
	intents map[string][]byte
}

var _ CheckpointStore = (*MemoryCheckpointStore)(nil)

func (m *MemoryCheckpointStore) Load(_ context.Context, pipeline string) ([]*Checkpoint, error) {
	m.mu.Lock()
	enc := slices.Clone(m.chains[pipeline])
	m.mu.Unlock()
	var chain []*Checkpoint
	for _, b := range enc {
		var cp Checkpoint
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&cp); err != nil {
			return nil, err
		}
		chain = append(chain, &cp)
	}
	return chain, nil
}

func (m *MemoryCheckpointStore) Save(_ context.Context, pipeline string, cp *Checkpoint) error {
	b, err := encodeGob(cp)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chains == nil {
		m.chains = map[string][][]byte{}
	}
	if cp.Full() {
		m.chains[pipeline] = [][]byte{b}
	} else {
		m.chains[pipeline] = append(m.chains[pipeline], b)
	}
	return nil
}

func (m *MemoryCheckpointStore) LoadIntent(_ context.Context, pipeline string) (*Intent, error) {
	m.mu.Lock()
	b := m.intents[pipeline]
	m.mu.Unlock()
	if b == nil {
		return nil, nil
	}
	var in Intent
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&in); err != nil {
		return nil, err
	}
	return &in, nil
}

// Remove forgets the pipeline's checkpoints and intent.
func (m *MemoryCheckpointStore) Remove(_ context.Context, pipeline string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.chains, pipeline)
	delete(m.intents, pipeline)
	return nil
}

func (m *MemoryCheckpointStore) SaveIntent(_ context.Context, pipeline string, in *Intent) error {
	b, err := encodeGob(in)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.intents == nil {
		m.intents = map[string][]byte{}
	}
	m.intents[pipeline] = b
	return nil
}

func encodeGob(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}
