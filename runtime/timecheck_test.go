package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// CAST of an out-of-range time is NULL, never a wrapped time.
func TestCastTimeRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		typ  dag.Type
		null bool
	}{
		{"9999-12-31 23:59:59", tTS, true},
		{"2200-01-01 00:00:00", tTS, false},
		{"2200-01-01 00:00:00", dag.T(dag.DateTime), true},
		{"2100-01-01 00:00:00", dag.T(dag.DateTime), false},
		{"2150-01-01", dag.T(dag.Date), true},
	} {
		src := NewVector(dag.T(dag.String))
		src.AppendString(c.in)
		out := NewVector(c.typ)
		castRow(&src, 0, &out)
		if out.IsNull(0) != c.null {
			t.Errorf("CAST(%q AS %s): got %s, want NULL %v", c.in, c.typ, render(&out, 0), c.null)
		}
	}
}

// A record dated beyond max_future is a dead letter naming the limit,
// whichever column type holds the event time; without the option it is
// decoded.
func TestDecodeMaxFuture(t *testing.T) {
	now := time.Now()
	for _, typ := range []dag.Type{tTS, dag.T(dag.DateTime), dag.T(dag.Date)} {
		schema := dag.Schema{{Name: "id", Type: dag.T(dag.String)}, {Name: "ts", Type: typ}}
		d, err := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem", Declared: schema})
		if err != nil {
			t.Fatal(err)
		}
		d.limitFuture(schema, 1, 24*time.Hour)
		d.setNow(now)
		b := NewBatch(schema)
		in := func(at time.Time) error {
			rec := Record{Value: fmt.Appendf(nil, `{"id":"a","ts":%q}`, at.UTC().Format("2006-01-02 15:04:05"))}
			return d.decode(&rec, b)
		}
		if err := in(now.Add(20 * time.Hour)); err != nil && typ.Kind != dag.Date {
			t.Errorf("%s: 20h ahead: %v", typ, err)
		}
		err = in(now.Add(72 * time.Hour))
		if _, ok := err.(*futureError); !ok || !strings.Contains(err.Error(), "is more than max_future (24h0m0s) ahead of the clock") {
			t.Errorf("%s: 72h ahead: got %v, want a max_future dead letter", typ, err)
		}
		for i := range b.Vecs {
			if b.Vecs[i].Len() != b.Len {
				t.Errorf("%s: a refused record left column %d with %d values for %d rows", typ, i, b.Vecs[i].Len(), b.Len)
			}
		}
		d.limitFuture(schema, 1, 0)
		if err := in(now.Add(72 * time.Hour)); err != nil {
			t.Errorf("%s: without max_future: %v", typ, err)
		}
	}
	// The pseudo-column _timestamp as event time.
	schema := dag.Schema{{Name: "_timestamp", Type: tTS, Pseudo: true}}
	d, _ := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem"})
	d.limitFuture(schema, 0, time.Hour)
	d.setNow(now)
	rec := Record{Value: []byte(`{}`), Timestamp: now.Add(2 * time.Hour).UnixNano()}
	if _, ok := d.decode(&rec, NewBatch(schema)).(*futureError); !ok {
		t.Errorf("_timestamp 2h ahead with max_future 1h was decoded")
	}
}
