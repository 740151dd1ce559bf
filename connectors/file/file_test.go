package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

func TestJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	schema := dag.Schema{
		{Name: "s", Type: dag.T(dag.String).WithNull(true)},
		{Name: "u", Type: dag.T(dag.UInt64)},
		{Name: "f", Type: dag.T(dag.Float64)},
		{Name: "b", Type: dag.T(dag.Bool)},
		{Name: "d", Type: dag.T(dag.Date)},
		{Name: "t", Type: dag.Type{Kind: dag.DateTime64, Precision: 6}},
		{Name: "dec", Type: dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}},
	}
	snk, err := OpenSink(context.Background(), runtime.SinkConfig{
		Spec: &dag.SinkSpec{Name: "out", Connector: "file", Options: map[string]string{"path": path}}, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	b := &runtime.Batch{Len: 2, Vecs: []runtime.Vector{
		{Data: []byte("a\"\n\x01é"), Offs: []uint32{0, 6, 6}, Nulls: []bool{false, true}},
		{U64: []uint64{18446744073709551615, 0}},
		{F64: []float64{0.1, 1e21}},
		{I64: []int64{1, 0}},
		{I64: []int64{19675, -1}},
		{I64: []int64{1_700_000_000_123_456_789, -1}},
		{I64: []int64{-5, 12345}},
	}}
	for range 2 {
		if err := snk.Write(context.Background(), b, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := snk.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s":"a\"\n\u0001é","u":18446744073709551615,"f":0.1,"b":true,"d":"2023-11-14","t":"2023-11-14 22:13:20.123456","dec":-0.05}
{"s":null,"u":0,"f":1e+21,"b":false,"d":"1969-12-31","t":"1969-12-31 23:59:59.999999","dec":123.45}
`
	if string(got) != want+want {
		t.Fatalf("got\n%s\nwant\n%s", got, want+want)
	}
}

// Each task of a split pipeline appends to a file of its own beside the
// path; a pipeline of one task writes the path itself.
func TestTaskPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		task runtime.Task
		want string
	}{
		{"out/events.jsonl", runtime.Task{}, "out/events.jsonl"},
		{"out/events.jsonl", runtime.Task{Index: 0, Count: 1}, "out/events.jsonl"},
		{"out/events.jsonl", runtime.Task{Index: 3, Count: 4}, "out/events.3.jsonl"},
		{"out.d/events", runtime.Task{Index: 1, Count: 2}, "out.d/events.1"},
		{"out/.events", runtime.Task{Index: 1, Count: 2}, "out/.events.1"},
		{"a.tar.gz", runtime.Task{Index: 0, Count: 2}, "a.tar.0.gz"},
	} {
		if got := TaskPath(tc.path, tc.task); got != tc.want {
			t.Errorf("TaskPath(%q, %+v) = %q, want %q", tc.path, tc.task, got, tc.want)
		}
	}
	dir := t.TempDir()
	schema := dag.Schema{{Name: "s", Type: dag.T(dag.String)}}
	for i := range 2 {
		snk, err := OpenSink(context.Background(), runtime.SinkConfig{
			Spec:   &dag.SinkSpec{Name: "out", Connector: "file", Options: map[string]string{"path": filepath.Join(dir, "out.jsonl")}},
			Schema: schema, Pipeline: "p", Task: runtime.Task{Index: i, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		b := runtime.NewBatch(schema)
		b.Vecs[0].AppendString(fmt.Sprintf("task %d", i))
		b.Len = 1
		if err := snk.Write(context.Background(), b, ""); err != nil {
			t.Fatal(err)
		}
		snk.Close()
	}
	for i := range 2 {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out.%d.jsonl", i)))
		if want := fmt.Sprintf("{\"s\":\"task %d\"}\n", i); err != nil || string(got) != want {
			t.Errorf("file of task %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the split pipeline wrote the unsplit path: %v", err)
	}
}

func TestMissingPath(t *testing.T) {
	_, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Options: map[string]string{}}})
	if err == nil || !strings.Contains(err.Error(), `open file sink "out": option path is required`) {
		t.Fatalf("error %v", err)
	}
}
