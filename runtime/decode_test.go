package runtime

import (
	"testing"

	"github.com/sluice-sql/sluice/format"
	"github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
)

// The runtime's tests read JSON records, as cmd/sluice's connectors do.
func init() { format.Register(json.Format) }

// The pseudo-columns come from the record's metadata, whatever the value
// holds; a nil key is NULL.
func TestDecodePseudoColumns(t *testing.T) {
	schema := dag.Schema{
		{Name: "id", Type: dag.T(dag.String)},
		{Name: "_key", Type: tStr, Pseudo: true},
		{Name: "_partition", Type: dag.T(dag.Int32), Pseudo: true},
		{Name: "_offset", Type: dag.T(dag.Int64), Pseudo: true},
		{Name: "_topic", Type: dag.T(dag.String), Pseudo: true},
		{Name: "_timestamp", Type: dag.Timestamp, Pseudo: true},
	}
	d, err := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem", Declared: schema[:1]})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(schema)
	recs := []Record{
		{Key: []byte("k1"), Topic: "orders", Partition: 3, Offset: 42, Timestamp: 1700000000123456789,
			Value: []byte(`{"id":"a","_key":"not the key","_topic":"t"}`)},
		{Topic: "orders", Partition: 0, Offset: 7, Value: []byte(`{"id":"b"}`)},
	}
	for i := range recs {
		if err := d.decode(&recs[i], b); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{
		{"a", "k1", "3", "42", "orders", "2023-11-14 22:13:20.123"},
		{"b", "NULL", "0", "7", "orders", "1970-01-01 00:00:00.000"},
	}
	if b.Len != 2 {
		t.Fatalf("%d rows", b.Len)
	}
	for r, row := range want {
		for i, w := range row {
			if got := render(&b.Vecs[i], r); got != w {
				t.Errorf("row %d column %s: got %q, want %q", r, schema[i].Name, got, w)
			}
		}
	}
	// A record the format refuses leaves no value in any column.
	if err := d.decode(&Record{Key: []byte("k"), Value: []byte(`{"id":null}`)}, b); err == nil || err.Error() != "column id: NOT NULL column is null" {
		t.Errorf("refused record: %v", err)
	}
	for i := range b.Vecs {
		if n := b.Vecs[i].Len(); n != 2 {
			t.Errorf("column %s: %d values after a refused record", schema[i].Name, n)
		}
	}
}

// A source whose format is not registered is refused when the pipeline
// is built.
func TestDecodeUnknownFormat(t *testing.T) {
	schema := dag.Schema{{Name: "id", Type: dag.T(dag.String)}}
	_, err := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem", Options: map[string]string{"format": "avro"}})
	if err == nil || err.Error() != `format "avro" is not registered (registered: [json])` {
		t.Errorf("got %v", err)
	}
}
