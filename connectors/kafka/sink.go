package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var (
	_ runtime.Sink              = (*Sink)(nil)
	_ runtime.Flusher           = (*Sink)(nil)
	_ runtime.Sink              = (*TxnSink)(nil)
	_ runtime.Committer         = (*TxnSink)(nil)
	_ runtime.TokenDeduplicator = (*TxnSink)(nil)
)

// linger is how long the producer waits to fill a batch of records.
const linger = time.Millisecond

// Sink writes each row as one JSON object record. It writes continuously
// (the connector declares it): Write hands the records to the producer
// and returns; Flush, which the runtime calls at each checkpoint, waits
// until every record is acknowledged. This is delivery = 'at_least_once'.
type Sink struct {
	name   string
	topic  string
	cl     *kgo.Client
	enc    *jsonformat.Encoder
	schema dag.Schema
	// keyCols are the columns that key each record: none for records
	// without key, one for its value's text, several for the JSON array
	// of their values.
	keyCols []int

	errMu sync.Mutex
	err   error // the first failed record since the last Flush
	done  func(*kgo.Record, error)
}

// TxnSink is the Kafka sink with delivery = 'exactly_once': the records of
// one checkpoint interval form one Kafka transaction, committed (Commit)
// before the checkpoint is stored. Readers with isolation.level =
// read_committed see each row once.
//
// The transactional id is <group_id>.<pipeline>.sink (the runtime's group
// prefix, the server's --group-id), with .<index> appended for a task of
// a split pipeline, stable across restarts and processes: a new producer's InitProducerID fences a zombie one and
// aborts its open transaction. Inside each transaction the sink also
// commits, for the consumer group of the same name, the offset <epoch> of
// partition 0 of its topic with metadata naming the epoch, the rows and a
// hash of the records. After a crash between the Kafka commit and the
// checkpoint, the runtime replays the same input under the same epoch
// (runtime.SinkConfig.Pending); the sink finds that epoch committed with
// the same rows and aborts the replayed transaction instead of committing
// the rows twice.
type TxnSink struct {
	*Sink
	txnID   string
	topicID [16]byte
	inTxn   bool
	rows    int64
	hash    uint64
	// pending is the epoch a crash may have left committed without its
	// checkpoint, and committed the marker found for it ("" for none).
	pending   uint64
	committed string
}

// OpenSink opens a Kafka sink. Besides the options of the package:
//
//   - key: a column whose value becomes each record's key (strings as their
//     bytes, other values as their JSON text), so that rows with one key land
//     in one partition; several comma-separated columns key each record with
//     the JSON array of their values (equal values, equal bytes). Default:
//     no key (records are spread over partitions).
//   - delivery: 'at_least_once' (default) or 'exactly_once' (see TxnSink).
//   - partitions: when set, a missing topic is created with this many
//     partitions (and the broker's default replication); an existing topic
//     with another count is an error. Unset, the topic must exist.
//
// Records are produced with acks from all in-sync replicas by an idempotent
// producer with a 1 ms linger.
func OpenSink(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open kafka sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

// TransactionalID is the transactional id of a pipeline's exactly-once
// Kafka sink, and the consumer group its epochs are recorded in. Each task
// of a split pipeline has its own ("." and the task's index appended), so
// that the tasks' producers do not fence each other.
func TransactionalID(groupID, pipeline string, t runtime.Task) string {
	if groupID == "" {
		groupID = "sluice"
	}
	id := groupID + "." + strings.ToLower(pipeline) + ".sink"
	if t.Split() {
		id += "." + strconv.Itoa(t.Index)
	}
	return id
}

func openSink(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	conn := readConnection(o)
	s := &Sink{name: cfg.Spec.Name, topic: conn.topic, schema: cfg.Schema}
	s.done = s.recordDone
	if k := o.String("key"); k != "" {
		for _, name := range strings.Split(k, ",") {
			name = strings.TrimSpace(name)
			i := cfg.Schema.Index(name)
			if i < 0 {
				o.Errorf("key", "no column %q (columns: %v)", name, cfg.Schema.Names())
				continue
			}
			s.keyCols = append(s.keyCols, i)
		}
	}
	var partitions int64
	if o.Has("partitions") {
		partitions = o.Count("partitions")
	}
	// Read by the runtime, which hands the rows over.
	o.Count("batch_size")
	o.Duration("flush_interval")
	exactly := o.Enum("delivery") == "exactly_once"
	if exactly && cfg.Pipeline == "" {
		o.Errorf("delivery", "'exactly_once' needs a pipeline (its transactional id is derived from the pipeline's name)")
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	opts := append(conn.opts,
		kgo.DefaultProduceTopic(s.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchCompression(kgo.SnappyCompression(), kgo.NoCompression()),
	)
	var ts *TxnSink
	if exactly {
		ts = &TxnSink{Sink: s, txnID: TransactionalID(cfg.GroupID, cfg.Pipeline, cfg.Task)}
		// A transaction spans one checkpoint interval; the broker aborts
		// one that lasts longer than this.
		opts = append(opts, kgo.TransactionalID(ts.txnID),
			kgo.TransactionTimeout(max(time.Minute, 4*cfg.CheckpointInterval)))
	}
	s.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	id, err := sinkTopic(ctx, s.cl, s.topic, int32(partitions))
	if err != nil {
		s.cl.Close()
		return nil, err
	}
	s.enc = jsonformat.NewEncoder(cfg.Schema)
	if ts == nil {
		return s, nil
	}
	ts.topicID = id
	if err := ts.init(ctx, cfg); err != nil {
		s.cl.Close()
		return nil, err
	}
	return ts, nil
}

// sinkTopic checks the topic a sink writes and returns its id. With
// partitions > 0 it creates the topic when missing, and refuses one with
// another number of partitions.
func sinkTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32) ([16]byte, error) {
	id, n, err := topicMeta(ctx, cl, topic)
	if partitions <= 0 {
		return id, err
	}
	if errors.Is(err, errNoTopic) {
		// The tasks of a split pipeline may race to create it: one wins,
		// the others find it there.
		_, err = kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return id, fmt.Errorf("create topic %q with %d partitions: %w", topic, partitions, err)
		}
		// A new topic's metadata may take a moment to reach every broker.
		for range 50 {
			if id, n, err = topicMeta(ctx, cl, topic); !errors.Is(err, errNoTopic) || ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err != nil {
		return id, err
	}
	if n != int(partitions) {
		return id, fmt.Errorf("topic %q has %d partitions, not the %d of option partitions: delete it, or set partitions = %d", topic, n, partitions, n)
	}
	return id, nil
}

var errNoTopic = errors.New("no such topic")

// topicMeta checks that topic exists and returns its id and number of
// partitions.
func topicMeta(ctx context.Context, cl *kgo.Client, topic string) ([16]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return [16]byte{}, 0, fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return [16]byte{}, 0, fmt.Errorf("metadata of topic %q: the broker answered for %d topics", topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return [16]byte{}, 0, fmt.Errorf("topic %q does not exist: %w", topic, errNoTopic)
		}
		return [16]byte{}, 0, fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	return t.TopicID, len(t.Partitions), nil
}

func (s *Sink) recordDone(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *Sink) takeErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// Write hands one record per row to the producer and returns without
// waiting for them (Flush does). It blocks while the producer's buffer is
// full, which holds the pipeline back.
func (s *Sink) Write(ctx context.Context, b *runtime.Batch, _ string) error {
	_, err := s.write(ctx, b, nil)
	return err
}

// write encodes b into records that live until they are acknowledged
// (each Write has its own buffer) and produces them; sum, when not nil,
// is given every record.
func (s *Sink) write(ctx context.Context, b *runtime.Batch, sum func(*kgo.Record)) (int, error) {
	if b.Len == 0 {
		return 0, nil
	}
	recs := s.encode(b)
	for i := range recs {
		if sum != nil {
			sum(&recs[i])
		}
		s.cl.Produce(ctx, &recs[i], s.done)
	}
	s.errMu.Lock()
	err := s.err
	s.errMu.Unlock()
	if err != nil {
		return len(recs), s.produceErr(err)
	}
	return len(recs), nil
}

func (s *Sink) produceErr(err error) error {
	return fmt.Errorf("kafka sink %q: produce to %q: %w", s.name, s.topic, err)
}

// Flush waits until every record produced so far is acknowledged, and
// returns the first that failed (the producer retries transient failures
// itself; a record fails for good only on a non-retriable error).
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink %q: flush: %w", s.name, err)
	}
	if err := s.takeErr(); err != nil {
		return s.produceErr(err)
	}
	return nil
}

// encode renders every row into one new buffer and returns its records.
func (s *Sink) encode(b *runtime.Batch) []kgo.Record {
	var buf, keys []byte
	ends := make([]int, 0, b.Len)
	var kend []int
	for i := 0; i < b.Len; i++ {
		buf = s.enc.AppendRow(buf, b, i)
		ends = append(ends, len(buf))
		switch len(s.keyCols) {
		case 0:
		case 1:
			c := s.keyCols[0]
			v := &b.Vecs[c]
			switch {
			case len(v.Nulls) != 0 && v.Nulls[i]:
				kend = append(kend, -1)
				continue
			case s.schema[c].Type.Kind == dag.String:
				keys = append(keys, v.Data[v.Offs[i]:v.Offs[i+1]]...)
			default:
				keys = jsonformat.AppendValue(keys, v, s.schema[c].Type, i)
			}
			kend = append(kend, len(keys))
		default:
			// A JSON array: NULLs are null, so every row has a key.
			keys = append(keys, '[')
			for j, c := range s.keyCols {
				if j > 0 {
					keys = append(keys, ',')
				}
				keys = jsonformat.AppendValue(keys, &b.Vecs[c], s.schema[c].Type, i)
			}
			keys = append(keys, ']')
			kend = append(kend, len(keys))
		}
	}
	recs := make([]kgo.Record, b.Len)
	start, kstart := 0, 0
	for i := range recs {
		recs[i].Value = buf[start:ends[i]:ends[i]]
		start = ends[i]
		if len(s.keyCols) > 0 {
			if end := kend[i]; end >= 0 {
				recs[i].Key = keys[kstart:end:end]
				kstart = end
			}
		}
	}
	return recs
}

// Close closes the client. Records not flushed are abandoned: the run
// that wrote them did not checkpoint them, and the next one writes them
// again (an open transaction is aborted by the next producer).
func (s *Sink) Close() error {
	s.cl.Close()
	return nil
}

// init fences earlier producers of the transactional id (their open
// transaction is aborted) and, when a crash may have left an epoch
// committed without its checkpoint, reads what was committed for it.
func (t *TxnSink) init(ctx context.Context, cfg runtime.SinkConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := t.cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("initialize transactional producer %q: %w", t.txnID, err)
	}
	if cfg.Pending == 0 || cfg.Pending <= cfg.Restored {
		return nil
	}
	t.pending = cfg.Pending
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = t.txnID
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = t.topic
	rt.Partitions = []int32{0}
	req.Topics = append(req.Topics, rt)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = t.txnID
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: t.topic, TopicID: t.topicID, Partitions: []int32{0}}}
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, t.cl)
	if err != nil {
		return fmt.Errorf("read the epochs committed by %q: %w", t.txnID, err)
	}
	var off int64 = -1
	var meta string
	check := func(code int16, offset int64, m *string) error {
		if err := kerr.ErrorForCode(code); err != nil {
			return err
		}
		off = offset
		if m != nil {
			meta = *m
		}
		return nil
	}
	err = kerr.ErrorForCode(resp.ErrorCode)
	for _, g := range resp.Groups {
		if err == nil {
			err = kerr.ErrorForCode(g.ErrorCode)
		}
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				if e := check(p.ErrorCode, p.Offset, p.Metadata); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if e := check(p.ErrorCode, p.Offset, p.Metadata); e != nil && err == nil {
				err = e
			}
		}
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		// The transactional id never committed an epoch (a task killed
		// before its first commit): there is nothing to find. Some
		// brokers say so with this error rather than with no offset.
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the epochs committed by %q: %w", t.txnID, err)
	}
	if off == int64(t.pending) && strings.HasPrefix(meta, epochMarker(t.pending, -1, 0)) {
		t.committed = meta
		slog.Info("kafka sink: the epoch replayed after a crash was committed before it; its replay will be aborted if it holds the same records",
			"sink", t.name, "transactional_id", t.txnID, "epoch", t.pending)
	}
	return nil
}

// epochMarker is the metadata committed with an epoch; rows < 0 gives the
// prefix naming the epoch alone.
func epochMarker(epoch uint64, rows int64, hash uint64) string {
	if rows < 0 {
		return fmt.Sprintf("sluice epoch %d ", epoch)
	}
	return fmt.Sprintf("sluice epoch %d rows %d hash %016x", epoch, rows, hash)
}

// Write produces the rows inside the current transaction, beginning one
// if needed.
func (t *TxnSink) Write(ctx context.Context, b *runtime.Batch, _ string) error {
	if b.Len == 0 {
		return nil
	}
	if !t.inTxn {
		if err := t.cl.BeginTransaction(); err != nil {
			return fmt.Errorf("kafka sink %q: begin transaction: %w", t.name, err)
		}
		t.inTxn, t.rows, t.hash = true, 0, 0
	}
	n, err := t.write(ctx, b, t.sum)
	t.rows += int64(n)
	return err
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// sum adds a record's FNV-1a hash (key, separator, value) to the
// transaction's: a sum, so that it does not depend on the order of the
// records, which a replay may interleave differently across partitions.
func (t *TxnSink) sum(r *kgo.Record) {
	h := uint64(fnvOffset)
	for _, c := range r.Key {
		h ^= uint64(c)
		h *= fnvPrime
	}
	h ^= 0xff
	h *= fnvPrime
	for _, c := range r.Value {
		h ^= uint64(c)
		h *= fnvPrime
	}
	t.hash += h
}

// DeduplicatesTokens reports true: a batch replayed after a crash is
// either aborted (its epoch was committed) or was never visible.
func (t *TxnSink) DeduplicatesTokens() bool { return true }

// Commit commits the transaction of epoch, with the epoch's marker, or
// aborts it when it replays an epoch committed before a crash.
func (t *TxnSink) Commit(ctx context.Context, epoch uint64) error {
	if !t.inTxn {
		return nil
	}
	if err := t.Flush(ctx); err != nil {
		t.abort(ctx)
		return err
	}
	meta := epochMarker(epoch, t.rows, t.hash)
	if epoch == t.pending && t.committed != "" {
		t.pending = 0
		if t.committed == meta {
			slog.Info("kafka sink: aborting the replay of an epoch committed before a crash", "sink", t.name, "epoch", epoch, "rows", t.rows)
			return t.end(ctx, kgo.TryAbort)
		}
		slog.Warn("kafka sink: the epoch replayed after a crash differs from the one committed before it (windows or LEFT rows emitted at other times); committing it: rows may be duplicated",
			"sink", t.name, "epoch", epoch, "committed", t.committed, "replayed", meta)
	}
	if err := t.commitMarker(ctx, epoch, meta); err != nil {
		t.abort(ctx)
		return err
	}
	return t.end(ctx, kgo.TryCommit)
}

func (t *TxnSink) end(ctx context.Context, how kgo.TransactionEndTry) error {
	t.inTxn = false
	if err := t.cl.EndTransaction(ctx, how); err != nil {
		return fmt.Errorf("kafka sink %q: end transaction: %w", t.name, err)
	}
	return nil
}

func (t *TxnSink) abort(ctx context.Context) {
	if err := t.cl.AbortBufferedRecords(ctx); err == nil {
		t.end(ctx, kgo.TryAbort)
	}
	t.inTxn = false
}

// commitMarker adds the epoch's marker offset to the transaction.
func (t *TxnSink) commitMarker(ctx context.Context, epoch uint64, meta string) error {
	id, pe, err := t.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("kafka sink %q: producer id: %w", t.name, err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = t.txnID, id, pe, t.txnID
	ar, err := add.RequestWith(ctx, t.cl)
	if err == nil {
		err = kerr.ErrorForCode(ar.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("kafka sink %q: add the epoch marker to the transaction: %w", t.name, err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = t.txnID, t.txnID, id, pe
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = t.topic, t.topicID
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = 0, int64(epoch), -1, &meta
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, t.cl)
	if err == nil {
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("kafka sink %q: commit the epoch marker: %w", t.name, err)
	}
	return nil
}

// DiscardStage deletes the internal topic a dropped pipeline's repartition
// stage wrote (runtime.Connector.DiscardStage). A topic already gone is
// not an error.
func DiscardStage(ctx context.Context, cfg runtime.SinkConfig) error {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return fmt.Errorf("kafka sink %q: %w", cfg.Spec.Name, err)
	}
	conn := readConnection(o)
	if err := o.Err(); err != nil {
		return fmt.Errorf("kafka sink %q: %w", cfg.Spec.Name, err)
	}
	cl, err := kgo.NewClient(conn.opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).DeleteTopic(ctx, conn.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete internal topic %q: %w", conn.topic, err)
	}
	return nil
}
