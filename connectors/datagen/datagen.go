// Package datagen is Sluice's generator source: it makes JSON records from
// per-column settings, at a steady rate, with duplicates on demand, and
// registers itself as "datagen". Its records go through the same JSON
// decoding as Kafka's, and carry partitions and offsets so that
// checkpoints and resumes work as they do for Kafka.
//
// Row n (counted over all partitions) is a pure function of the seed and n,
// so a source resumed from a checkpoint produces exactly the rows it would
// have produced, and two runs with one seed produce the same data — except
// for columns of kind 'now', which follow the clock.
package datagen

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connectors/option"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

var _ runtime.Source = (*Source)(nil)

const (
	// duplicateWindow bounds how far back a duplicate's original is: a
	// duplicate repeats one of the previous 1000 rows.
	duplicateWindow = 1000
	// maxPollRows bounds one Poll's records.
	maxPollRows = 4096
)

// Source generates rows.
type Source struct {
	name     string
	rate     int64 // rows per second; 0: as fast as Poll is called
	dupRatio float64
	seed     uint64
	limit    int64 // total rows; 0: no end
	nparts   int64
	parts    []int32
	gens     []*generator
	tree     *node

	next    []int64 // next offset per partition
	g       int64   // next global row number to consider
	started time.Time
	startG  int64 // g at started

	pcg    *rand.PCG
	rng    *rand.Rand
	recs   []runtime.Record
	buf    []byte
	vals   [][]byte // per column, the JSON value of the current row
	tmp    []byte
	starts []int
	spans  []span
}

// span is where one record's value lies in Source.buf.
type span struct {
	start, end int
}

// OpenSource opens a datagen source. Options:
//
//   - rows_per_second: the rate (default 1000); '0' generates as fast as
//     the pipeline reads.
//   - duplicate_ratio: the fraction of rows, from 0 to 1, that repeat an
//     earlier row (one of the previous 1000) exactly, to exercise
//     DEDUPLICATE BY (default 0).
//   - seed: makes the data reproducible (default 0).
//   - rows: stop after this many rows (default 0: never).
//   - partitions: how many partitions rows are spread over, round-robin
//     (default 1).
//   - fields.<column>.<setting>: how a column's values are made; see
//     docs/connectors.md and newGenerator.
func OpenSource(_ context.Context, cfg runtime.SourceConfig) (runtime.Source, error) {
	s, err := openSource(cfg)
	if err != nil {
		return nil, fmt.Errorf("open datagen source %q: %w", cfg.Spec.Name, err)
	}
	return s, nil
}

func openSource(cfg runtime.SourceConfig) (*Source, error) {
	o, err := option.Resolve(cfg.Spec.Options, &declaration, connector.Source)
	if err != nil {
		return nil, err
	}
	s := &Source{name: cfg.Spec.Name}
	s.rate = o.Count("rows_per_second")
	s.dupRatio = o.Ratio("duplicate_ratio")
	s.seed = uint64(o.Count("seed"))
	s.limit = o.Count("rows")
	s.nparts = o.Count("partitions")
	// idle_timeout is used by the planner, max_future by the runtime;
	// both are checked here too.
	o.Duration("idle_timeout")
	o.Duration("max_future")

	// Per-column settings come parsed from the planner (ColumnOptions) or, when
	// a source is opened without it, as fields.<column>.<setting> options.
	settings := map[string]map[string]string{}
	for col, m := range cfg.Spec.ColumnOptions {
		settings[col] = m
	}
	for _, k := range o.Names("fields.") {
		col, key, ok := strings.Cut(strings.TrimPrefix(k, "fields."), ".")
		if !ok {
			o.Errorf(k, "write fields.<column>.<setting>")
			continue
		}
		if i := cfg.Spec.Declared.Index(col); i >= 0 {
			col = cfg.Spec.Declared[i].Name
		}
		if settings[col] == nil {
			settings[col] = map[string]string{}
		}
		settings[col][key] = o.Value(k)
	}
	if err := o.Err(); err != nil {
		return nil, err
	}

	var cols dag.Schema
	for _, c := range cfg.Spec.Declared {
		if !c.Pseudo {
			cols = append(cols, c)
		}
	}
	var errs []string
	for col := range settings {
		if cols.Index(col) < 0 {
			errs = append(errs, fmt.Sprintf("fields.%s: no such column (columns: %s)", col, strings.Join(cols.Names(), ", ")))
		}
	}
	for _, c := range cols {
		g, err := newGenerator(c, lowerKeys(settings[c.Name]))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s.gens = append(s.gens, g)
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	s.tree = buildTree(cols)
	s.vals = make([][]byte, len(cols))

	s.parts = make([]int32, s.nparts)
	s.next = make([]int64, s.nparts)
	for p := range s.parts {
		s.parts[p] = int32(p)
		s.next[p] = cfg.Resume[int32(p)]
	}
	// Resume at the first row any partition still needs.
	s.g = math.MaxInt64
	for p, off := range s.next {
		s.g = min(s.g, off*s.nparts+int64(p))
	}
	s.pcg = rand.NewPCG(0, 0)
	s.rng = rand.New(s.pcg)
	return s, nil
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// Poll returns the rows that are due at the configured rate, waiting for
// the next one when none is.
func (s *Source) Poll(ctx context.Context) ([]runtime.Record, error) {
	if s.started.IsZero() {
		s.started, s.startG = time.Now(), s.g
	}
	for {
		if s.limit > 0 && s.g >= s.limit {
			<-ctx.Done() // exhausted: a stream that has ended stays open
			return nil, ctx.Err()
		}
		n := int64(maxPollRows)
		now := time.Now()
		if s.rate > 0 {
			due := s.startG + int64(now.Sub(s.started).Seconds()*float64(s.rate)) + 1
			n = min(n, due-s.g)
		}
		if s.limit > 0 {
			n = min(n, s.limit-s.g)
		}
		if n > 0 {
			return s.generate(n, now), nil
		}
		wait := time.Until(s.scheduled(s.g))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(max(wait, time.Millisecond)):
		}
	}
}

// scheduled is when row g is due; rows of kind 'now' carry it.
func (s *Source) scheduled(g int64) time.Time {
	if s.rate == 0 {
		return time.Now()
	}
	return s.started.Add(time.Duration(float64(g-s.startG) / float64(s.rate) * float64(time.Second)))
}

func (s *Source) generate(n int64, now time.Time) []runtime.Record {
	s.recs = s.recs[:0]
	s.buf = s.buf[:0]
	spans := s.spans[:0]
	for end := s.g + n; s.g < end; s.g++ {
		p := s.g % s.nparts
		off := s.g / s.nparts
		if off < s.next[p] {
			continue // already produced before the resume
		}
		s.next[p] = off + 1
		start := len(s.buf)
		s.buf = s.row(s.buf, s.g)
		spans = append(spans, span{start, len(s.buf)})
		ts := now
		if s.rate > 0 {
			ts = s.scheduled(s.g)
		}
		s.recs = append(s.recs, runtime.Record{
			Topic: s.name, Partition: int32(p), Offset: off, Timestamp: ts.UnixNano(),
		})
	}
	// Values are sliced only now: buf may have moved while it grew.
	for i := range s.recs {
		s.recs[i].Value = s.buf[spans[i].start:spans[i].end:spans[i].end]
	}
	s.spans = spans
	return s.recs
}

// origin returns the row whose values row g repeats: g itself unless g is a
// duplicate, in which case an earlier row that is not one.
func (s *Source) origin(g int64) int64 {
	for g > 0 {
		s.pcg.Seed(s.seed, uint64(g))
		if s.rng.Float64() >= s.dupRatio {
			return g
		}
		g -= 1 + s.rng.Int64N(min(g, duplicateWindow))
	}
	return g
}

// row appends the JSON object of row g.
func (s *Source) row(dst []byte, g int64) []byte {
	o := g
	if s.dupRatio > 0 {
		o = s.origin(g)
	}
	s.pcg.Seed(s.seed, uint64(o))
	s.rng.Float64() // the draw origin made, so rows do not depend on the ratio
	at := s.scheduled(o)
	s.tmp = s.tmp[:0]
	s.starts = s.starts[:0]
	for _, gen := range s.gens {
		s.starts = append(s.starts, len(s.tmp))
		s.tmp = gen.appendValue(s.tmp, s.rng, o, at)
	}
	s.starts = append(s.starts, len(s.tmp))
	for i := range s.gens {
		s.vals[i] = s.tmp[s.starts[i]:s.starts[i+1]]
	}
	return s.tree.appendJSON(dst, s.vals)
}

// Partitions lists the partitions 0..partitions-1.
func (s *Source) Partitions() []int32 { return s.parts }

// Commit does nothing: the rows are regenerated from the checkpoint's
// offsets (SourceConfig.Resume), which is all a generator needs.
func (s *Source) Commit(context.Context, runtime.Offsets) error { return nil }

// DeadLetter logs the record: a generator has no dead-letter topic, and a
// generated row that does not decode means its settings do not fit its
// column, which the log says.
func (s *Source) DeadLetter(_ context.Context, rec *runtime.Record, reason string) error {
	slog.Warn("datagen record dead-lettered", "source", s.name, "partition", rec.Partition,
		"offset", rec.Offset, "reason", reason, "value", string(rec.Value))
	return nil
}

// Close does nothing.
func (s *Source) Close() error { return nil }
