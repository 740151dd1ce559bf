package runtime

// Records become rows in two steps: the source's record format (package
// format; format/json) decodes a record's value into the declared columns,
// and the runtime fills the pseudo-columns from the record's metadata and
// refuses event times too far ahead of the clock (max_future), the same
// for every format.

import (
	"fmt"
	"math"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/format"
	"github.com/sluice-sql/sluice/planner/dag"
)

type pseudoKind uint8

const (
	pseudoKey pseudoKind = iota
	pseudoTopic
	pseudoPartition
	pseudoOffset
	pseudoTimestamp
)

type pseudoCol struct {
	out  int
	kind pseudoKind
}

// recordDecoder turns one source's records into rows of its node's schema.
type recordDecoder struct {
	dec    format.Decoder
	pseudo []pseudoCol
	// Event times after future (ns) are refused (max_future) when
	// maxFuture > 0: those of output column timeCol, or the record's
	// timestamp when timePseudo (the time column is _timestamp).
	timeCol    int
	timePseudo bool
	maxFuture  time.Duration
	future     int64
}

// futureError is the reason of a record whose event time is too far
// ahead of the clock.
type futureError struct{ reason string }

func (e *futureError) Error() string { return e.reason }

// sourceFormat returns the format a source's records are in: its format
// option, or else the first its connector declares.
func sourceFormat(spec *dag.SourceSpec) (format.Format, error) {
	name := spec.Options["format"]
	if name == "" {
		if d, ok := connector.Lookup(spec.Connector); ok && len(d.Formats) > 0 {
			name = d.Formats[0]
		} else {
			name = "json"
		}
	}
	f, ok := format.Lookup(name)
	if !ok {
		return format.Format{}, fmt.Errorf("format %q is not registered (registered: %v)", name, format.Names())
	}
	return f, nil
}

// newRecordDecoder builds the decoder of a source node: schema is the
// node's, spec.Declared the source's full declared schema.
func newRecordDecoder(schema dag.Schema, spec *dag.SourceSpec) (*recordDecoder, error) {
	f, err := sourceFormat(spec)
	if err != nil {
		return nil, err
	}
	d := &recordDecoder{timeCol: -1}
	for i, c := range schema {
		if !c.Pseudo {
			continue
		}
		var k pseudoKind
		switch c.Name {
		case "_key":
			k = pseudoKey
		case "_topic":
			k = pseudoTopic
		case "_partition":
			k = pseudoPartition
		case "_offset":
			k = pseudoOffset
		case "_timestamp":
			k = pseudoTimestamp
		default:
			return nil, fmt.Errorf("unknown pseudo-column %q", c.Name)
		}
		d.pseudo = append(d.pseudo, pseudoCol{out: i, kind: k})
	}
	if d.dec, err = f.NewDecoder(format.Spec{Schema: schema, Declared: spec.Declared, Options: spec.Options}); err != nil {
		return nil, fmt.Errorf("format %s: %w", f.Name, err)
	}
	return d, nil
}

// limitFuture makes decode refuse records whose event time, column
// timeCol of the output, is later than now + maxFuture; maxFuture ≤ 0
// turns the check off. setNow moves now.
func (d *recordDecoder) limitFuture(schema dag.Schema, timeCol int, maxFuture time.Duration) {
	d.timeCol, d.timePseudo, d.maxFuture = -1, false, 0
	if maxFuture <= 0 || timeCol < 0 || timeCol >= len(schema) || !schema[timeCol].Type.Kind.IsTime() {
		return
	}
	d.timeCol, d.maxFuture = timeCol, maxFuture
	d.timePseudo = schema[timeCol].Pseudo && schema[timeCol].Name == "_timestamp"
	if schema[timeCol].Pseudo && !d.timePseudo {
		d.timeCol, d.maxFuture = -1, 0
	}
}

func (d *recordDecoder) setNow(now time.Time) {
	if d.maxFuture > 0 {
		d.future = now.UnixNano() + int64(d.maxFuture)
		if d.future < now.UnixNano() {
			d.future = math.MaxInt64
		}
	}
}

// decode appends rec as one row of out, or returns why it cannot (a
// *futureError when its event time is too far ahead); out is unchanged on
// error.
func (d *recordDecoder) decode(rec *Record, out *Batch) error {
	if err := d.dec.Decode(rec.Value, out); err != nil {
		return err
	}
	if d.maxFuture > 0 {
		var ns int64
		set := false
		if d.timePseudo {
			ns, set = rec.Timestamp, true
		} else if v := &out.Vecs[d.timeCol]; !v.IsNull(out.Len) {
			ns, set = timeNanos(v, out.Len), true
		}
		if set && ns > d.future {
			for i := range out.Vecs {
				out.Vecs[i].Truncate(out.Len)
			}
			return &futureError{fmt.Sprintf("event time %s is more than max_future (%s) ahead of the clock",
				appendTime(nil, ns, 3), d.maxFuture)}
		}
	}
	for _, p := range d.pseudo {
		v := &out.Vecs[p.out]
		switch p.kind {
		case pseudoKey:
			if rec.Key == nil {
				v.AppendNull()
			} else {
				v.AppendBytes(rec.Key)
			}
		case pseudoTopic:
			v.AppendString(rec.Topic)
		case pseudoPartition:
			putInt(v, int64(rec.Partition))
		case pseudoOffset:
			putInt(v, rec.Offset)
		case pseudoTimestamp:
			v.AppendInt(toTimeKind(rec.Timestamp, v.Type))
		}
	}
	out.Len++
	return nil
}
