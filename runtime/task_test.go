package runtime

import (
	"math"
	"testing"
	"time"
)

func TestTaskNamesAndOwnership(t *testing.T) {
	// A pipeline of one task keeps the names it always had.
	for _, one := range []Task{{}, {Index: 0, Count: 1}, {Index: 3, Count: 0}} {
		if one.Split() || TaskName("orders", one) != "orders" {
			t.Errorf("%+v: Split %v, name %q; want the whole pipeline", one, one.Split(), TaskName("orders", one))
		}
		for p := int32(0); p < 8; p++ {
			if !one.Owns(p) {
				t.Errorf("%+v does not own partition %d", one, p)
			}
		}
	}
	tasks := []Task{{0, 3}, {1, 3}, {2, 3}}
	for p := int32(0); p < 12; p++ {
		owners := 0
		for _, tk := range tasks {
			if tk.Owns(p) {
				owners++
				if int(p)%3 != tk.Index {
					t.Errorf("task %d owns partition %d", tk.Index, p)
				}
			}
		}
		if owners != 1 {
			t.Errorf("partition %d has %d owners, want 1", p, owners)
		}
	}
	if got := TaskName("orders", Task{Index: 2, Count: 3}); got != "orders#2" {
		t.Errorf("TaskName = %q, want orders#2", got)
	}
}

func TestMergeStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := Stats{
		RecordsIn: 10, RowsWritten: 8, BatchesWritten: 2, SinkTime: 2 * time.Second,
		LastSinkLatency: time.Second, LastBatchRows: 4, Checkpoints: 2, LastCheckpoint: t0,
		Operators: []OperatorSnapshot{{ID: 1, RowsIn: 10, StateEntries: 5}},
		Sources:   []SourceSnapshot{{Name: "events", Lag: 3, Watermark: 50}},
	}
	b := Stats{
		RecordsIn: 5, RowsWritten: 5, BatchesWritten: 2, SinkTime: 4 * time.Second,
		LastSinkLatency: 3 * time.Second, LastBatchRows: 1, Checkpoints: 1, LastCheckpoint: t0.Add(time.Second),
		LastDeadLetter: "bad json",
		Operators:      []OperatorSnapshot{{ID: 1, RowsIn: 5, StateEntries: 2}},
		Sources:        []SourceSnapshot{{Name: "events", Lag: 4, Watermark: math.MinInt64}},
	}
	m := MergeStats(MergeStats(Stats{}, a), b)
	if m.RecordsIn != 15 || m.RowsWritten != 13 || m.BatchesWritten != 4 || m.Checkpoints != 3 {
		t.Errorf("sums: %+v", m)
	}
	if m.SinkLatency != 1500*time.Millisecond || m.SinkTime != 6*time.Second {
		t.Errorf("sink latency %v, time %v; want 1.5s, 6s", m.SinkLatency, m.SinkTime)
	}
	if !m.LastCheckpoint.Equal(t0.Add(time.Second)) || m.LastSinkLatency != 3*time.Second || m.LastBatchRows != 1 {
		t.Errorf("latest: checkpoint %v, last latency %v, last rows %d", m.LastCheckpoint, m.LastSinkLatency, m.LastBatchRows)
	}
	if m.LastDeadLetter != "bad json" {
		t.Errorf("LastDeadLetter = %q", m.LastDeadLetter)
	}
	if len(m.Operators) != 1 || m.Operators[0].RowsIn != 15 || m.Operators[0].StateEntries != 7 {
		t.Errorf("operators: %+v", m.Operators)
	}
	if len(m.Sources) != 1 || m.Sources[0].Lag != 7 || m.Sources[0].Watermark != math.MinInt64 {
		t.Errorf("sources: %+v", m.Sources)
	}
	// a is not modified.
	if a.Operators[0].RowsIn != 10 || a.Sources[0].Lag != 3 {
		t.Errorf("MergeStats modified its argument: %+v %+v", a.Operators, a.Sources)
	}
}
