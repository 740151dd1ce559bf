package runtime

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Record is one raw input record, as a source reads it. Its byte slices
// stay valid only until the next Poll of the source that returned it,
// unless the source implements StableRecords.
type Record struct {
	Key, Value []byte
	Topic      string
	Partition  int32
	Offset     int64
	Timestamp  int64 // nanoseconds since the Unix epoch
}

// Offsets maps a partition to the next offset to read in it.
type Offsets map[int32]int64

// Source reads one input stream. A Source is used by one goroutine.
type Source interface {
	// Poll blocks until records are available or ctx ends, and returns
	// them in per-partition offset order. The slice is reused by the next
	// Poll.
	Poll(ctx context.Context) ([]Record, error)
	// Partitions lists the partitions this source reads, including ones
	// that have no records yet: each holds the watermark back until idle.
	Partitions() []int32
	// Commit records that every record before offs has been fully
	// processed and its results durably written.
	Commit(ctx context.Context, offs Offsets) error
	// DeadLetter stores a record that could not be decoded, with the reason.
	DeadLetter(ctx context.Context, rec *Record, reason string) error
	Close() error
}

// StableRecords is an optional Source interface. A source whose
// RecordsStable returns true promises that the Key and Value byte slices of
// the records Poll returns stay valid and unmodified after the next Poll
// (and after Commit, DeadLetter and Close): only the []Record slice itself
// is reused. The runtime then keeps those slices instead of copying every
// key and value out of each Poll. It is asked once, right after the source
// is opened.
type StableRecords interface {
	RecordsStable() bool
}

// SourceConfig is what a source is opened with.
type SourceConfig struct {
	Spec *dag.SourceSpec
	// Pipeline names the pipeline that reads; "" for a preview, which
	// reads without a consumer group and commits nothing.
	Pipeline string
	// GroupID is the default prefix of consumer groups (the server's, by
	// default "sluice"): a pipeline's group is <group_id>.<pipeline>, with
	// the source's own group_id option where it has one, else GroupID.
	GroupID string
	// Resume, when not nil, is where to start reading (from a checkpoint);
	// otherwise the group's committed offsets, else the start option.
	Resume Offsets
	// Task is the share of the pipeline the run executes (Options.Task):
	// a source reads only the partitions the task Owns, also those created
	// later. Zero: every partition.
	Task Task
}

// Sink writes the rows of a pipeline. A Sink is used by one goroutine.
type Sink interface {
	// Write durably writes b. It retries transient failures with backoff
	// until ctx ends, so a slow or absent destination holds the pipeline
	// back. token identifies the batch: a retry, or a replay after a crash,
	// of the same rows carries the same token, for destinations that
	// deduplicate inserts. b is reused once Write returns: a sink that
	// needs the rows later copies them.
	Write(ctx context.Context, b *Batch, token string) error
	Close() error
}

// Committer is an optional Sink interface for sinks whose writes become
// visible only when committed, such as a table format's transaction log
// (two-phase: Write stages rows, Commit publishes them). Commit is called
// once the rows of checkpoint epoch are all written, before the checkpoint
// is stored. After a crash the runtime replays the same rows under the
// same epoch (see Intent), so a sink that finds epoch already committed
// must drop what it staged instead of publishing it twice. Staged rows that
// are never committed must never become visible.
type Committer interface {
	Commit(ctx context.Context, epoch uint64) error
}

// SinkConfig is what a sink is opened with.
type SinkConfig struct {
	Spec   *dag.SinkSpec
	Schema dag.Schema // the rows written: the pipeline's output schema
	// Pipeline names the pipeline that writes, and GroupID is the prefix
	// of its consumer groups (Options.GroupID): a sink that needs a name
	// of its own outside Sluice derives it from them (the Kafka sink's
	// transactional id).
	Pipeline string
	GroupID  string
	// CheckpointInterval is the pipeline's (Options.CheckpointInterval).
	CheckpointInterval time.Duration
	// Restored is the epoch of the checkpoint the run resumes from (0 for
	// none), and Pending the epoch of a write intent stored after it
	// (0 for none): that epoch's rows may have been written, and a
	// Committer may have committed it, before a crash kept its checkpoint
	// from being stored. The run replays the same input under the same
	// epoch. A Committer that finds epoch Pending already committed drops
	// it; an epoch it finds committed that is neither Pending nor at most
	// Restored belongs to another history (a pipeline dropped and created
	// again, a checkpoint removed) and must not be trusted.
	Restored, Pending uint64
	// Task is the share of the pipeline the run executes (Options.Task):
	// a sink that names something of its own outside Sluice (a
	// transactional id, an application id, a file) gives each task of a
	// split pipeline its own, so that tasks never fence or overwrite each
	// other. Zero: the whole pipeline.
	Task Task
}

// SourceOpener opens a source of one connector.
type SourceOpener func(ctx context.Context, cfg SourceConfig) (Source, error)

// SinkOpener opens a sink of one connector.
type SinkOpener func(ctx context.Context, cfg SinkConfig) (Sink, error)

// Connector is one connector: its declaration and its typed factories, one
// for each role it declares. A connector package exports one as its
// Connector variable, and connectors/all registers it with Register.
type Connector struct {
	Declaration connector.Connector
	OpenSource  SourceOpener
	OpenSink    SinkOpener
	// ForgetSource, when not nil, deletes what a pipeline's source keeps
	// outside Sluice about where it read to (a Kafka consumer group's
	// committed offsets), so that a pipeline created again under the same
	// name starts afresh. The server calls it when a pipeline is dropped.
	ForgetSource func(ctx context.Context, cfg SourceConfig) error
	// DeadLetters, when not nil, reads the last dead letters a source
	// has stored (see ReadDeadLetters).
	DeadLetters func(ctx context.Context, spec *dag.SourceSpec, n int) ([]DeadLetter, error)
	// DiscardStage, when not nil, deletes what the sink of a repartition
	// stage wrote, and where (a Kafka sink deletes its topic). The server
	// calls it only for the stages of a dropped pipeline, whose internal
	// topics are Sluice's own: a pipeline created again under the same
	// name must not read the old one's records. A user's sink is never
	// discarded.
	DiscardStage func(ctx context.Context, cfg SinkConfig) error
}

// Register makes a connector available: its declaration to the planner,
// the API and the docs (package connector), its factories to OpenSource
// and OpenSink. It panics when a declared role has no factory or a factory
// no declared role, or when the name is taken.
func Register(c Connector) {
	d := c.Declaration
	if d.Plays(connector.Source) != (c.OpenSource != nil) || d.Plays(connector.Sink) != (c.OpenSink != nil) {
		panic(fmt.Sprintf("runtime: connector %s declares kinds %v but has factories source=%v sink=%v", d.Name, d.Kinds, c.OpenSource != nil, c.OpenSink != nil))
	}
	connector.Register(d)
	if c.OpenSource != nil {
		RegisterSource(d.Name, c.OpenSource)
	}
	if c.ForgetSource != nil {
		registry.Lock()
		if registry.forget == nil {
			registry.forget = map[string]func(context.Context, SourceConfig) error{}
		}
		registry.forget[d.Name] = c.ForgetSource
		registry.Unlock()
	}
	if c.OpenSink != nil {
		RegisterSink(d.Name, c.OpenSink)
	}
	if c.DeadLetters != nil {
		registerDeadLetters(d.Name, c.DeadLetters)
	}
	if c.DiscardStage != nil {
		registry.Lock()
		if registry.discard == nil {
			registry.discard = map[string]func(context.Context, SinkConfig) error{}
		}
		registry.discard[d.Name] = c.DiscardStage
		registry.Unlock()
	}
}

var registry struct {
	sync.RWMutex
	sources map[string]SourceOpener
	sinks   map[string]SinkOpener
	forget  map[string]func(context.Context, SourceConfig) error
	discard map[string]func(context.Context, SinkConfig) error
}

// DiscardStage deletes what the sink of a dropped pipeline's repartition
// stage wrote (see Connector.DiscardStage); a connector that cannot has
// nothing to delete.
func DiscardStage(ctx context.Context, cfg SinkConfig) error {
	registry.RLock()
	discard := registry.discard[cfg.Spec.Connector]
	registry.RUnlock()
	if discard == nil {
		return nil
	}
	return discard(ctx, cfg)
}

// ForgetSource deletes what the source of a dropped pipeline keeps outside
// Sluice about where it read to (see Connector.ForgetSource); a connector
// that keeps nothing there has nothing to forget.
func ForgetSource(ctx context.Context, cfg SourceConfig) error {
	registry.RLock()
	forget := registry.forget[cfg.Spec.Connector]
	registry.RUnlock()
	if forget == nil {
		return nil
	}
	return forget(ctx, cfg)
}

// RegisterSource makes a source factory available by name, without a
// declaration: for sources that are not written in SQL. Connectors use
// Register.
func RegisterSource(connector string, open SourceOpener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.sources == nil {
		registry.sources = map[string]SourceOpener{}
	}
	registry.sources[connector] = open
}

// RegisterSink makes a sink factory available by name, without a
// declaration: for sinks the server puts in front of declared ones (the
// tail's tap). Connectors use Register.
func RegisterSink(connector string, open SinkOpener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.sinks == nil {
		registry.sinks = map[string]SinkOpener{}
	}
	registry.sinks[connector] = open
}

// OpenSource opens a source through its registered connector.
func OpenSource(ctx context.Context, cfg SourceConfig) (Source, error) {
	registry.RLock()
	open := registry.sources[cfg.Spec.Connector]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("source %q: no source connector %q (known: %v)", cfg.Spec.Name, cfg.Spec.Connector, connectorNames(true))
	}
	return open(ctx, cfg)
}

// OpenSink opens a sink through its registered connector.
func OpenSink(ctx context.Context, cfg SinkConfig) (Sink, error) {
	registry.RLock()
	open := registry.sinks[cfg.Spec.Connector]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("sink %q: no sink connector %q (known: %v)", cfg.Spec.Name, cfg.Spec.Connector, connectorNames(false))
	}
	return open(ctx, cfg)
}

func connectorNames(sources bool) []string {
	registry.RLock()
	defer registry.RUnlock()
	var names []string
	if sources {
		for n := range registry.sources {
			names = append(names, n)
		}
	} else {
		for n := range registry.sinks {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
