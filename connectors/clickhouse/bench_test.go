package clickhouse

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// BenchmarkWrite writes 100k-row batches of a typical output (a string id,
// an amount, a nullable string, a time) to the test server.
func BenchmarkWrite(b *testing.B) {
	url := os.Getenv("SLUICE_TEST_CLICKHOUSE")
	if url == "" {
		b.Skip("SLUICE_TEST_CLICKHOUSE is not set")
	}
	const rows = 100_000
	schema := dag.Schema{
		{Name: "order_id", Type: dag.T(dag.String)},
		{Name: "amount", Type: dag.T(dag.Float64)},
		{Name: "email", Type: dag.T(dag.String).WithNull(true)},
		{Name: "created_at", Type: dag.Timestamp},
	}
	batch := &runtime.Batch{Len: rows, Vecs: make([]runtime.Vector, 4)}
	id, email := &batch.Vecs[0], &batch.Vecs[2]
	id.Offs, email.Offs, email.Nulls = []uint32{0}, []uint32{0}, make([]bool, rows)
	for i := range rows {
		id.Data = fmt.Appendf(id.Data, "order-%d", i)
		id.Offs = append(id.Offs, uint32(len(id.Data)))
		if i%10 == 0 {
			email.Nulls[i] = true
		} else {
			email.Data = fmt.Appendf(email.Data, "user%d@example.com", i%1000)
		}
		email.Offs = append(email.Offs, uint32(len(email.Data)))
		batch.Vecs[1].F64 = append(batch.Vecs[1].F64, float64(i)/100)
		batch.Vecs[3].I64 = append(batch.Vecs[3].I64, 1_700_000_000_000_000_000+int64(i)*1e6)
	}
	table := fmt.Sprintf("bench_write_%d", time.Now().UnixNano()%1e9)
	s, err := OpenSink(context.Background(), runtime.SinkConfig{
		Spec:   &dag.SinkSpec{Name: "bench", Options: map[string]string{"url": url, "table": table, "create_table": "true"}},
		Schema: schema,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), batch, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.StopTimer()
	s.(*Sink).conn.Exec(context.Background(), "DROP TABLE "+quoteIdent(table))
}
