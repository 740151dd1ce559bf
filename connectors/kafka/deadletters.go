package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// maxDeadLetters bounds what one DeadLetters call reads.
const maxDeadLetters = 1000

// DeadLetters reads the last n records of the source's dead-letter topic
// (dlq_topic), newest first: at most n from the end of each partition,
// merged by time. A topic that does not exist yet holds none. It reads
// without a consumer group and commits nothing.
func DeadLetters(ctx context.Context, spec *dag.SourceSpec, n int) ([]runtime.DeadLetter, error) {
	n = min(max(n, 1), maxDeadLetters)
	o, err := option.Resolve(spec.Options, &declaration, connector.Source)
	if err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", spec.Name, err)
	}
	conn := readConnection(o)
	topic := o.String("dlq_topic")
	if topic == "" {
		topic = conn.topic + ".dlq"
	}
	if err := o.Err(); err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", spec.Name, err)
	}
	adm, err := kgo.NewClient(conn.opts...)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ac := kadm.NewClient(adm)
	starts, err := ac.ListStartOffsets(ctx, topic)
	if err == nil {
		var ends kadm.ListedOffsets
		ends, err = ac.ListEndOffsets(ctx, topic)
		if err == nil {
			return readDeadLetters(ctx, conn, topic, starts, ends, n)
		}
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, nil
	}
	return nil, fmt.Errorf("kafka source %q: dead-letter topic %q: %w", spec.Name, topic, err)
}

func readDeadLetters(ctx context.Context, conn connection, topic string, starts, ends kadm.ListedOffsets, n int) ([]runtime.DeadLetter, error) {
	from := map[int32]kgo.Offset{}
	want := map[int32]int64{} // partition → end offset still to reach
	var lerr error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			lerr = e.Err
			return
		}
		start := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Err == nil {
			start = s.Offset
		}
		at := max(start, e.Offset-int64(n))
		if at < e.Offset {
			from[e.Partition] = kgo.NewOffset().At(at)
			want[e.Partition] = e.Offset
		}
	})
	if errors.Is(lerr, kerr.UnknownTopicOrPartition) {
		return nil, nil
	}
	if lerr != nil {
		return nil, fmt.Errorf("dead-letter topic %q: %w", topic, lerr)
	}
	if len(from) == 0 {
		return nil, nil
	}
	opts := append(slices.Clone(conn.opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []runtime.DeadLetter
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			if len(out) > 0 {
				// What was read by the deadline (a partition whose last
				// offsets are no records, such as transaction markers,
				// is never reached).
				break
			}
			return nil, fmt.Errorf("dead-letter topic %q: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("dead-letter topic %q: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			out = append(out, deadLetterOf(r))
		})
	}
	slices.SortStableFunc(out, func(a, b runtime.DeadLetter) int { return b.Time.Compare(a.Time) })
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func deadLetterOf(r *kgo.Record) runtime.DeadLetter {
	d := runtime.DeadLetter{Time: r.Timestamp, Partition: -1, Offset: -1}
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderError:
			d.Reason = string(h.Value)
		case HeaderTopic:
			d.Topic = string(h.Value)
		case HeaderPartition:
			if p, err := strconv.ParseInt(string(h.Value), 10, 32); err == nil {
				d.Partition = int32(p)
			}
		case HeaderOffset:
			if o, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				d.Offset = o
			}
		}
	}
	cut := func(b []byte) []byte {
		if len(b) > runtime.MaxDeadLetterBytes {
			d.Truncated = true
			b = b[:runtime.MaxDeadLetterBytes]
		}
		return slices.Clone(b)
	}
	d.Key = cut(r.Key)
	d.Value = cut(r.Value)
	return d
}
