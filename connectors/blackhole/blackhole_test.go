package blackhole

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

func TestCountsAndDiscards(t *testing.T) {
	s, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "void"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 0, 7} {
		if err := s.Write(context.Background(), &runtime.Batch{Len: n}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.(*Sink).Rows(); got != 10 {
		t.Errorf("counted %d rows, want 10", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "void", Options: map[string]string{"path": "/tmp/x"}}})
	if err == nil || !strings.Contains(err.Error(), `unknown option "path"`) {
		t.Errorf("an unknown option: %v", err)
	}
}
