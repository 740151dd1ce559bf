package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var _ runtime.Sink = (*Sink)(nil)

// Sink writes each row as one JSON object record.
type Sink struct {
	name   string
	topic  string
	cl     *kgo.Client
	enc    *jsonformat.Encoder
	schema dag.Schema
	keyCol int // -1: records without key

	buf  []byte
	ends []int // end of row i's JSON in buf
	keys []byte
	kend []int
	recs []kgo.Record
	ptrs []*kgo.Record
}

// OpenSink opens a Kafka sink. Besides the options of the package:
//
//   - key: a column whose value becomes each record's key (strings as their
//     bytes, other values as their JSON text), so that rows with one key land
//     in one partition. Default: no key (records are spread over partitions).
//
// Records are produced with acks from all in-sync replicas by an idempotent
// producer; Write returns once every record of the batch is acknowledged.
// Kafka has no insert deduplication: a batch replayed after a crash is
// written again.
func OpenSink(ctx context.Context, cfg runtime.SinkConfig) (runtime.Sink, error) {
	s, err := openSink(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open kafka sink %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSink(ctx context.Context, cfg runtime.SinkConfig) (*Sink, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Sink)
	if err != nil {
		return nil, err
	}
	conn := readConnection(o)
	s := &Sink{name: cfg.Spec.Name, topic: conn.topic, schema: cfg.Schema, keyCol: -1}
	if k := o.String("key"); k != "" {
		if s.keyCol = cfg.Schema.Index(k); s.keyCol < 0 {
			o.Errorf("key", "no such column (columns: %v)", cfg.Schema.Names())
		}
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	opts := append(conn.opts,
		kgo.DefaultProduceTopic(s.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.SnappyCompression(), kgo.NoCompression()),
	)
	s.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := topicPartitions(ctx, s.cl, s.topic); err != nil {
		s.cl.Close()
		return nil, err
	}
	s.enc = jsonformat.NewEncoder(cfg.Schema)
	return s, nil
}

// Write produces one record per row and waits until all are acknowledged,
// retrying with backoff (up to 5 s apart) until ctx ends.
func (s *Sink) Write(ctx context.Context, b *runtime.Batch, _ string) error {
	if b.Len == 0 {
		return nil
	}
	s.encode(b)
	backoff := 100 * time.Millisecond
	for {
		err := s.produce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("kafka sink %q: %w", s.name, err)
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("kafka sink %q: produce to %q: %w", s.name, s.topic, err)
		}
		slog.Warn("kafka sink: produce failed; retrying", "sink", s.name, "topic", s.topic, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka sink %q: %w", s.name, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// encode renders every row first, so the records can slice one buffer that
// does not move afterwards.
func (s *Sink) encode(b *runtime.Batch) {
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	s.keys, s.kend = s.keys[:0], s.kend[:0]
	for i := 0; i < b.Len; i++ {
		s.buf = s.enc.AppendRow(s.buf, b, i)
		s.ends = append(s.ends, len(s.buf))
		if s.keyCol >= 0 {
			v := &b.Vecs[s.keyCol]
			switch {
			case len(v.Nulls) != 0 && v.Nulls[i]:
				s.kend = append(s.kend, -1)
				continue
			case s.schema[s.keyCol].Type.Kind == dag.String:
				s.keys = append(s.keys, v.Data[v.Offs[i]:v.Offs[i+1]]...)
			default:
				s.keys = jsonformat.AppendValue(s.keys, v, s.schema[s.keyCol].Type, i)
			}
			s.kend = append(s.kend, len(s.keys))
		}
	}
	if cap(s.recs) < b.Len {
		s.recs = make([]kgo.Record, b.Len)
		s.ptrs = make([]*kgo.Record, b.Len)
	}
	s.recs, s.ptrs = s.recs[:b.Len], s.ptrs[:b.Len]
	start, kstart := 0, 0
	for i := range s.recs {
		s.recs[i] = kgo.Record{Value: s.buf[start:s.ends[i]:s.ends[i]]}
		start = s.ends[i]
		if s.keyCol >= 0 {
			if end := s.kend[i]; end >= 0 {
				s.recs[i].Key = s.keys[kstart:end:end]
				kstart = end
			}
		}
		s.ptrs[i] = &s.recs[i]
	}
}

// produce sends the records and waits for all of them. After a failure the
// records are reset, so a retry produces them again as new records.
func (s *Sink) produce(ctx context.Context) error {
	err := s.cl.ProduceSync(ctx, s.ptrs...).FirstErr()
	if err != nil {
		for i := range s.recs {
			s.recs[i] = kgo.Record{Key: s.recs[i].Key, Value: s.recs[i].Value}
		}
	}
	return err
}

// Close flushes nothing (Write already waited) and closes the client.
func (s *Sink) Close() error {
	s.cl.Close()
	return nil
}
