package bench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkBaselineCopy is the ceiling Sluice is measured against: the
// least a program can do to move the events topic into ClickHouse — a bare
// franz-go consumer in a consumer group, a minimal decoder for the same
// four fields Sluice reads, columnar appends of 100 k-row batches, and an
// offset commit after each insert (the at-least-once Sluice also keeps).
// No dedup: every event is written.
func BenchmarkBaselineCopy(b *testing.B) {
	url := clickhouseURL(b)
	n := numEvents(b)
	d := eventsTopic(b, n)
	conn := checkConn(b, url)
	m := newMeter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		table, group := uniqueName("baseline"), uniqueName("group")
		b.StartTimer()
		m.begin()
		if err := baselineCopy(context.Background(), d.addr, group, url, table, n); err != nil {
			b.Fatal(err)
		}
		m.end(n)
		b.StopTimer()
		finishTable(b, conn, table, int64(n), 0)
		b.StartTimer()
	}
	m.report()
}

// baselineCopy copies the first n records of the events topic into a new
// table.
func baselineCopy(ctx context.Context, addr, group, chURL, table string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	conn, err := openClickHouse(ctx, chURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The table Sluice's create_table makes for the same columns on this
	// server (DateTime64(3) becomes DateTime on servers without it).
	if err := conn.Exec(ctx, "CREATE TABLE "+table+
		" (event_id String, seq UInt64, user_id UInt64, ts DateTime) ENGINE = MergeTree ORDER BY tuple()"); err != nil {
		return fmt.Errorf("create table: %w", err)
	}

	var (
		ids   = make([]string, 0, batchRows)
		seqs  = make([]uint64, 0, batchRows)
		users = make([]uint64, 0, batchRows)
		times = make([]time.Time, 0, batchRows)
		next  = map[int32]kgo.EpochOffset{} // offsets to commit after the insert
	)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (event_id, seq, user_id, ts)")
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		for i, col := range []any{ids, seqs, users, times} {
			if err := batch.Column(i).Append(col); err != nil {
				batch.Abort()
				return fmt.Errorf("append column %d: %w", i, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		var cerr error
		cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{"events": next},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				cerr = err
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if cerr == nil {
							cerr = kerr.ErrorForCode(p.ErrorCode)
						}
					}
				}
			})
		if cerr != nil {
			return fmt.Errorf("commit: %w", cerr)
		}
		ids, seqs, users, times = ids[:0], seqs[:0], users[:0], times[:0]
		return nil
	}

	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		var derr error
		for it := fs.RecordIter(); !it.Done() && got < n; {
			r := it.Next()
			var e event
			if err := e.decode(r.Value); err != nil {
				derr = errors.Join(derr, fmt.Errorf("offset %d: %w", r.Offset, err))
				continue
			}
			ids = append(ids, e.id)
			seqs = append(seqs, e.seq)
			users = append(users, e.user)
			times = append(times, e.ts)
			next[r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset + 1}
			got++
			if len(ids) == batchRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if derr != nil {
			return derr
		}
	}
	return flush()
}

// event is the four fields the benchmarks read from an events record.
type event struct {
	id        string
	seq, user uint64
	ts        time.Time
}

// decode reads e from a flat JSON object, skipping unknown members.
func (e *event) decode(b []byte) error {
	var seen int
	err := scanObject(b, func(key, val []byte, str bool) error {
		var err error
		switch string(key) {
		case "event_id":
			e.id = string(val)
			seen |= 1
		case "seq":
			e.seq, err = parseUint(val)
			seen |= 2
		case "user_id":
			e.user, err = parseUint(val)
			seen |= 4
		case "ts":
			e.ts, err = parseTime(val)
			seen |= 8
		}
		return err
	})
	if err == nil && seen != 15 {
		err = errors.New("missing field")
	}
	return err
}
