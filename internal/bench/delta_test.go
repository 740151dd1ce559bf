package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkSluiceDedupDelta is BenchmarkSluiceDedup into a Delta Lake
// table in a temporary directory instead of ClickHouse: the same
// pipeline, the same 100 k-row commits (one log entry and one zstd
// Parquet file each), checkpoints in the same kind of store. Run beside
// BenchmarkSluiceDedup (-bench SluiceDedup runs both), it compares the two
// sinks on one machine in one run. The rows the table's log references
// (numRecords) must equal the rows written.
func BenchmarkSluiceDedupDelta(b *testing.B) {
	n := numEvents(b)
	d := eventsTopic(b, n)
	m := newMeter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		table := filepath.Join(b.TempDir(), "events")
		script := fmt.Sprintf(eventsSource, d.addr) + fmt.Sprintf(`
CREATE SINK out WITH (connector = 'delta', path = '%s', batch_size = '100000');
CREATE PIPELINE bench AS
INSERT INTO out
SELECT event_id, seq, user_id, ts
FROM events
DEDUPLICATE BY event_id WITHIN INTERVAL 1 MINUTE;`, table)
		p := plan(b, script, b.TempDir())
		b.StartTimer()
		m.begin()
		s := runUntilConsumed(b, p, n)
		m.end(n)
		b.StopTimer()
		if s.RowsWritten != int64(d.kept) {
			b.Fatalf("the pipeline wrote %d rows, want %d", s.RowsWritten, d.kept)
		}
		if got := deltaRows(b, table); got != s.RowsWritten {
			b.Fatalf("the table's log references %d rows, the pipeline wrote %d", got, s.RowsWritten)
		}
		m.wrote(s.RowsWritten)
		b.StartTimer()
	}
	m.report()
}

// deltaRows sums numRecords over the add actions of a Delta table's log
// entries (the benchmark's tables only ever grow by appends).
func deltaRows(b *testing.B, table string) int64 {
	var n int64
	for v := 0; ; v++ {
		data, err := os.ReadFile(filepath.Join(table, "_delta_log", fmt.Sprintf("%020d.json", v)))
		if errors.Is(err, os.ErrNotExist) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var a struct {
				Add *struct{ Stats string }
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				b.Fatal(err)
			}
			if a.Add != nil {
				var st struct{ NumRecords int64 }
				json.Unmarshal([]byte(a.Add.Stats), &st)
				n += st.NumRecords
			}
		}
	}
}
