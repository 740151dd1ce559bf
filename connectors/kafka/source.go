package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/runtime"
)

var (
	_ runtime.Source           = (*Source)(nil)
	_ runtime.StableRecords    = (*Source)(nil)
	_ runtime.PartitionCounter = (*Source)(nil)
)

// partitionCheckEvery is how often a source looks for partitions added to
// its topic after it opened.
var partitionCheckEvery = 30 * time.Second

// pollMax bounds the records one Poll returns, so a large fetch does not
// pin a long []Record (and the fetch buffers behind it) at once; the rest
// stays buffered in the client for the next Poll.
const pollMax = 8192

// The headers of a dead-letter record. Its key and value are the original
// record's bytes, unchanged.
const (
	HeaderError     = "sluice.error"     // why the record could not be used
	HeaderTopic     = "sluice.topic"     // where it was read
	HeaderPartition = "sluice.partition" // decimal
	HeaderOffset    = "sluice.offset"    // decimal
)

// Source reads one topic. Offsets are committed only by Commit: the runtime
// calls it once the rows derived from the records are durably written, so a
// crash replays instead of losing records.
type Source struct {
	name     string
	topic    string
	dlqTopic string
	group    string
	cl       *kgo.Client

	// task is the share of the pipeline the source reads: parts are the
	// partitions it owns, total counts all of the topic's.
	task  runtime.Task
	parts []int32
	total atomic.Int32
	recs  []runtime.Record

	// added are the owned partitions found after open (by watch), with
	// the offset each starts at, not yet in parts.
	addMu sync.Mutex
	added map[int32]int64
	stop  context.CancelFunc
	done  chan struct{}

	// hwm and next are, per partition, the end of the log as the last
	// fetch saw it and the next offset to read, for Lag; next is -1 where
	// it is not known yet (start = 'latest' before the first record).
	hwm  map[int32]int64
	next map[int32]int64

	adm *kadm.Client

	dlqOnce sync.Once
}

// OpenSource opens a Kafka source. Besides the options of the package:
//
//   - group_id: the consumer group prefix: a pipeline's group is
//     <group_id>.<pipeline>, with SourceConfig.GroupID (the server's
//     default, else "sluice") when the option is not given. A preview (no
//     SourceConfig.Pipeline) reads without a consumer group and Commit
//     does nothing.
//   - start: where a group without committed offsets starts: 'earliest'
//     (default: a new pipeline processes the topic's whole history) or
//     'latest' (only records produced from now on). A checkpoint
//     (SourceConfig.Resume) wins over committed offsets, which win over start.
//   - idle_timeout: how long a partition without records may hold the
//     watermark back (default 5s). The planner reads it; it is checked here.
//   - max_future: how far ahead of the wall clock an event time may be
//     (default 24h, '0': no limit); the runtime reads it.
//   - dlq_topic: where DeadLetter writes records that cannot be decoded
//     (default '<topic>.dlq'); created with the broker's defaults if missing.
//   - isolation_level: 'read_committed' (default: records of transactions
//     appear once committed, never when aborted) or 'read_uncommitted'.
//   - partitions: when set, a missing topic is created with this many
//     partitions, as by the sink.
//
// A task of a split pipeline (SourceConfig.Task) reads only the partitions
// it owns, also those added to the topic later; one that owns none fails.
func OpenSource(ctx context.Context, cfg runtime.SourceConfig) (runtime.Source, error) {
	s, err := openSource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open kafka source %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSource(ctx context.Context, cfg runtime.SourceConfig) (*Source, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Source)
	if err != nil {
		return nil, err
	}
	conn := readConnection(o)
	group := groupOf(o, cfg)
	start := o.Enum("start")
	// idle_timeout is used by the planner, max_future by the runtime;
	// both are checked here too.
	o.Duration("idle_timeout")
	o.Duration("max_future")
	var create int32
	if o.Has("partitions") {
		create = int32(o.Count("partitions"))
	}
	isolation := kgo.ReadCommitted()
	if o.Enum("isolation_level") == "read_uncommitted" {
		isolation = kgo.ReadUncommitted()
	}
	s := &Source{name: cfg.Spec.Name, topic: conn.topic, group: group, task: cfg.Task}
	if s.dlqTopic = o.String("dlq_topic"); s.dlqTopic == "" {
		s.dlqTopic = s.topic + ".dlq"
	}
	if err := o.Err(); err != nil {
		return nil, err
	}

	// The partitions are needed before the consumer exists, and for
	// Partitions, which includes empty ones.
	meta, err := kgo.NewClient(conn.opts...)
	if err != nil {
		return nil, err
	}
	defer meta.Close()
	if create > 0 {
		// An internal topic of a repartition stage: the stage's tasks and
		// the pipeline's may start in any order, on any server.
		if _, err := sinkTopic(ctx, meta, s.topic, create); err != nil {
			return nil, err
		}
	}
	all, err := topicPartitions(ctx, meta, s.topic)
	if err != nil {
		return nil, err
	}
	s.total.Store(int32(len(all)))
	for _, p := range all {
		if s.task.Owns(p) {
			s.parts = append(s.parts, p)
		}
	}
	if len(s.parts) == 0 {
		return nil, fmt.Errorf("parallelism %d is more than the %d partitions of topic %q: task %d has none to read", s.task.Count, len(all), s.topic, s.task.Index)
	}

	reset := kgo.NewOffset().AtStart()
	if start == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	// The source assigns itself every partition rather than joining the
	// group as a member: the pipeline's state is checkpointed with the
	// offsets of all partitions together, so partitions must not move
	// between processes behind its back, and a restarted process must not
	// wait for the broker to expire its dead predecessor's membership. The
	// group still holds the committed offsets, so lag tools see them.
	var committed kadm.OffsetResponses
	if s.group != "" {
		committed, err = kadm.NewClient(meta).FetchOffsets(ctx, s.group)
		if err == nil {
			err = committed.Error()
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			// A group that never committed: some brokers say so rather
			// than answering with no offsets.
			committed, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets of group %q: %w", s.group, err)
		}
	}
	offs := make(map[int32]kgo.Offset, len(s.parts))
	s.hwm = make(map[int32]int64, len(s.parts))
	s.next = make(map[int32]int64, len(s.parts))
	for _, p := range s.parts {
		switch c, ok := committed.Lookup(s.topic, p); {
		case hasKey(cfg.Resume, p):
			// A checkpoint holds the state that matches its offsets;
			// committed offsets may be behind it (the commit follows the
			// checkpoint).
			offs[p] = kgo.NewOffset().At(cfg.Resume[p])
			s.next[p] = cfg.Resume[p]
		case ok && c.At >= 0:
			offs[p] = kgo.NewOffset().At(c.At)
			s.next[p] = c.At
		default:
			offs[p] = reset
			s.next[p] = 0
			if start == "latest" {
				s.next[p] = -1
			}
		}
	}
	// The end offsets make Lag known before the first fetch: the runtime
	// counts no partition idle while the source is behind (or does not
	// know), so a restarted source whose first fetch is slow does not
	// have its partitions, which have records waiting, taken for idle.
	if ends, err := kadm.NewClient(meta).ListEndOffsets(ctx, s.topic); err == nil {
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && o.Offset >= 0 && s.task.Owns(o.Partition) {
				s.hwm[o.Partition] = o.Offset
			}
		})
	} else {
		slog.Warn("kafka end offsets not listed; the source's lag is unknown until its first fetch", "source", s.name, "topic", s.topic, "err", err)
	}
	opts := append(conn.opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: offs}),
		// Records are handed to the runtime as they are; the runtime does
		// its own batching, so there is no reason to wait for more.
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchIsolationLevel(isolation),
		// The markers that end transactions take an offset each, the
		// last one of a partition written by transactions included: the
		// source sees them only to know it has read past them (Lag 0), and
		// hands none on.
		kgo.KeepControlRecords(),
		kgo.ProducerLinger(0),
	)
	s.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	s.adm = kadm.NewClient(s.cl)
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	go s.watch(wctx, all)
	return s, nil
}

// watch looks for partitions added to the topic after open, every
// partitionCheckEvery, and has the client consume those the task owns:
// from the group's committed offset, else from their start (every record
// of a partition created while the pipeline runs is new to it, whatever
// the start option).
func (s *Source) watch(ctx context.Context, known []int32) {
	defer close(s.done)
	seen := make(map[int32]bool, len(known))
	for _, p := range known {
		seen[p] = true
	}
	tick := time.NewTicker(partitionCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		all, err := topicPartitions(ctx, s.cl, s.topic)
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("kafka source: looking for new partitions", "source", s.name, "topic", s.topic, "err", err)
			}
			continue
		}
		var fresh []int32
		for _, p := range all {
			if !seen[p] && s.task.Owns(p) {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) > 0 {
			offs, err := s.startOfNew(ctx, fresh)
			if err != nil {
				if ctx.Err() == nil {
					slog.Warn("kafka source: new partitions", "source", s.name, "topic", s.topic, "partitions", fresh, "err", err)
				}
				continue // tried again at the next tick
			}
			assign := make(map[int32]kgo.Offset, len(offs))
			s.addMu.Lock()
			if s.added == nil {
				s.added = map[int32]int64{}
			}
			for p, at := range offs {
				assign[p] = kgo.NewOffset().At(at)
				s.added[p] = at
			}
			s.addMu.Unlock()
			s.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: assign})
			slog.Info("kafka source: reading new partitions", "source", s.name, "topic", s.topic, "partitions", fresh)
		}
		for _, p := range all {
			seen[p] = true
		}
		s.total.Store(int32(len(all)))
	}
}

// startOfNew returns where to start reading partitions found after open:
// the group's committed offset, else the partition's start.
func (s *Source) startOfNew(ctx context.Context, parts []int32) (map[int32]int64, error) {
	var committed kadm.OffsetResponses
	if s.group != "" {
		var err error
		committed, err = s.adm.FetchOffsets(ctx, s.group)
		if err == nil {
			err = committed.Error()
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			committed, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets of group %q: %w", s.group, err)
		}
	}
	starts, err := s.adm.ListStartOffsets(ctx, s.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	offs := make(map[int32]int64, len(parts))
	for _, p := range parts {
		if c, ok := committed.Lookup(s.topic, p); ok && c.At >= 0 {
			offs[p] = c.At
		} else if st, ok := starts.Lookup(s.topic, p); ok {
			offs[p] = st.Offset
		} else {
			return nil, fmt.Errorf("no start offset listed for partition %d", p)
		}
	}
	return offs, nil
}

// takeAdded moves the partitions watch found into parts.
func (s *Source) takeAdded() {
	s.addMu.Lock()
	defer s.addMu.Unlock()
	for p, at := range s.added {
		if _, found := slices.BinarySearch(s.parts, p); !found {
			s.parts = append(s.parts, p)
			slices.Sort(s.parts)
		}
		if _, ok := s.next[p]; !ok {
			s.next[p] = at
		}
	}
	clear(s.added)
}

// TotalPartitions is the number of partitions of the topic, owned by the
// source's task or not.
func (s *Source) TotalPartitions() int { return int(s.total.Load()) }

// DefaultGroupID is the prefix of consumer groups when neither the source
// nor the server names one.
const DefaultGroupID = "sluice"

// groupOf returns the consumer group of a pipeline's source:
// <group_id>.<pipeline>, with the source's group_id option, else the
// server's default prefix; "" for a preview, which reads without a group.
func groupOf(o *option.Set, cfg runtime.SourceConfig) string {
	def := cfg.GroupID
	if def == "" {
		def = DefaultGroupID
	}
	prefix := def
	if o.Has("group_id") {
		prefix = o.String("group_id")
	}
	if strings.TrimSpace(prefix) == "" {
		o.Errorf("group_id", "want a consumer group prefix such as 'sluice'")
	}
	if cfg.Pipeline == "" {
		return ""
	}
	return prefix + "." + cfg.Pipeline
}

// ForgetSource deletes the committed offsets of the topic in the
// pipeline's consumer group, so that a pipeline created again under the
// same name starts where a new one does (the start option). Offsets of
// other topics in the group are kept. A group or topic with no committed
// offsets is nothing to forget.
func ForgetSource(ctx context.Context, cfg runtime.SourceConfig) error {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Source)
	if err != nil {
		return fmt.Errorf("kafka source %q: %w", cfg.Spec.Name, err)
	}
	conn := readConnection(o)
	group := groupOf(o, cfg)
	if err := o.Err(); err != nil {
		return fmt.Errorf("kafka source %q: %w", cfg.Spec.Name, err)
	}
	if group == "" {
		return nil
	}
	cl, err := kgo.NewClient(conn.opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kafka source %q: fetch committed offsets of group %q: %w", cfg.Spec.Name, group, err)
	}
	parts := kadm.TopicsSet{}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Topic == conn.topic {
			parts.Add(o.Topic, o.Partition)
		}
	})
	if len(parts) == 0 {
		return nil
	}
	resp, err := adm.DeleteOffsets(ctx, group, parts)
	if err == nil {
		for _, ps := range resp {
			for _, e := range ps {
				if e != nil && !errors.Is(e, kerr.UnknownTopicOrPartition) {
					err = e
				}
			}
		}
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("kafka source %q: delete committed offsets of topic %q in group %q: %w", cfg.Spec.Name, conn.topic, group, err)
	}
	return nil
}

func hasKey(m runtime.Offsets, p int32) bool {
	_, ok := m[p]
	return ok
}

// Poll returns the next records, blocking until there are some or ctx ends.
// Records returned by the client are never dropped, even when ctx ends
// while they arrive: the client has moved past them.
func (s *Source) Poll(ctx context.Context) ([]runtime.Record, error) {
	s.takeAdded()
	for {
		fs := s.cl.PollRecords(ctx, pollMax)
		if fs.IsClientClosed() {
			return nil, fmt.Errorf("kafka source %q: closed", s.name)
		}
		s.recs = s.recs[:0]
		var fatal error
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				return
			}
			var ke *kerr.Error
			if errors.As(err, &ke) && !ke.Retriable && fatal == nil {
				fatal = fmt.Errorf("kafka source %q: topic %q partition %d: %w", s.name, topic, p, err)
				return
			}
			// The client retries everything else by itself.
			slog.Warn("kafka fetch", "source", s.name, "topic", topic, "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Partition < 0 {
				return // the client's own errors, not a partition's
			}
			if p.HighWatermark >= 0 {
				s.hwm[p.Partition] = p.HighWatermark
			}
			if n := len(p.Records); n > 0 {
				s.next[p.Partition] = p.Records[n-1].Offset + 1
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				return
			}
			s.recs = append(s.recs, runtime.Record{
				Key:       r.Key,
				Value:     r.Value,
				Topic:     r.Topic,
				Partition: r.Partition,
				Offset:    r.Offset,
				Timestamp: r.Timestamp.UnixNano(),
			})
		})
		if len(s.recs) > 0 {
			s.notePartitions()
			return s.recs, nil
		}
		if fatal != nil {
			return nil, fatal
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// RecordsStable reports that the keys and values Poll returns stay valid
// after the next Poll: franz-go allocates every fetch response (and every
// decompressed batch) afresh and never reuses record bytes unless the
// client is given memory pools (kgo.WithPools), which this source does not
// do. Only the []Record slice is reused between Polls.
func (s *Source) RecordsStable() bool { return true }

// notePartitions adds partitions created after open, which appear first as
// records.
func (s *Source) notePartitions() {
	for i := range s.recs {
		p := s.recs[i].Partition
		if _, found := slices.BinarySearch(s.parts, p); !found {
			s.parts = append(s.parts, p)
			slices.Sort(s.parts)
		}
	}
}

// Lag returns how many records the source is behind the end of its
// partitions, as of the last fetch (or of the end offsets listed at open),
// or -1 when neither told it.
func (s *Source) Lag() int64 {
	if len(s.hwm) == 0 {
		return -1
	}
	var lag int64
	for p, end := range s.hwm {
		if next := s.next[p]; next >= 0 && end > next {
			lag += end - next
		}
	}
	return lag
}

var _ runtime.LagReporter = (*Source)(nil)

// Partitions lists every partition of the topic the source reads (those
// its task owns), including empty ones.
func (s *Source) Partitions() []int32 { return s.parts }

// Commit commits exactly offs (the next offset to read per partition) for
// the consumer group, and waits for the broker's answer.
func (s *Source) Commit(ctx context.Context, offs runtime.Offsets) error {
	if s.group == "" || len(offs) == 0 {
		return nil
	}
	var req kadm.Offsets
	for p, off := range offs {
		req.Add(kadm.Offset{Topic: s.topic, Partition: p, At: off, LeaderEpoch: -1})
	}
	resp, err := s.adm.CommitOffsets(ctx, s.group, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka source %q: commit offsets of group %q: %w", s.name, s.group, err)
	}
	return nil
}

// DeadLetter produces rec's original key and value to the dead-letter topic,
// with the reason and where it was read in headers, and waits until the
// broker has it (acks from all in-sync replicas).
func (s *Source) DeadLetter(ctx context.Context, rec *runtime.Record, reason string) error {
	s.dlqOnce.Do(func() {
		// Brokers often disallow auto-creation; a dead letter must not be
		// lost because nobody created the topic.
		if err := createTopic(ctx, s.cl, s.dlqTopic); err != nil {
			slog.Warn("kafka dead-letter topic not created", "source", s.name, "topic", s.dlqTopic, "err", err)
		}
	})
	r := &kgo.Record{
		Topic: s.dlqTopic,
		Key:   rec.Key,
		Value: rec.Value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderError, Value: []byte(reason)},
			{Key: HeaderTopic, Value: []byte(rec.Topic)},
			{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		},
	}
	if err := s.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("kafka source %q: dead-letter to topic %q: %w", s.name, s.dlqTopic, err)
	}
	return nil
}

// Close leaves the group without committing: only Commit commits.
func (s *Source) Close() error {
	s.stop()
	<-s.done
	s.cl.Close()
	return nil
}
