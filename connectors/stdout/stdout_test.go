package stdout

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

func TestWritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	out.Lock()
	prev := out.w
	out.w = &buf
	out.Unlock()
	t.Cleanup(func() { out.Lock(); out.w = prev; out.Unlock() })

	schema := dag.Schema{{Name: "id", Type: dag.T(dag.Int64)}, {Name: "name", Type: dag.T(dag.String).WithNull(true)}}
	s, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out"}, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	b := runtime.NewBatch(schema)
	b.Vecs[0].AppendInt(1)
	b.Vecs[1].AppendString("a\"b")
	b.Vecs[0].AppendInt(2)
	b.Vecs[1].AppendNull()
	b.Len = 2
	if err := s.Write(context.Background(), b, "t"); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "{\"id\":1,\"name\":\"a\\\"b\"}\n{\"id\":2,\"name\":null}\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if _, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "out", Options: map[string]string{"path": "x"}}, Schema: schema}); err == nil || !strings.Contains(err.Error(), `unknown option "path"`) {
		t.Errorf("an unknown option: %v", err)
	}
}
