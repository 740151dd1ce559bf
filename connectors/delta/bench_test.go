package delta

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// BenchmarkWriteCommit writes and commits 100,000 rows of the end-to-end
// benchmark's columns (event_id, seq, user_id, ts) per op: one zstd
// Parquet file and one log entry, with each codec.
func BenchmarkWriteCommit(b *testing.B) {
	for _, codec := range []string{"zstd", "snappy"} {
		b.Run(codec, func(b *testing.B) { benchWriteCommit(b, codec) })
	}
}

func benchWriteCommit(b *testing.B, codec string) {
	schema := dag.Schema{
		{Name: "event_id", Type: dag.T(dag.String)},
		{Name: "seq", Type: dag.T(dag.UInt64)},
		{Name: "user_id", Type: dag.T(dag.UInt64)},
		{Name: "ts", Type: dag.Type{Kind: dag.DateTime64, Precision: 3}},
	}
	const n = 100_000
	batch := runtime.NewBatch(schema)
	for i := range n {
		batch.Vecs[0].AppendString(fmt.Sprintf("e%08d", i))
		batch.Vecs[1].AppendUint(uint64(i))
		batch.Vecs[2].AppendUint(uint64(i % 10007))
		batch.Vecs[3].AppendInt(1_767_225_600_000_000_000 + int64(i)*100_000_000)
	}
	batch.Len = n
	dir := filepath.Join(b.TempDir(), "t")
	s, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{"path": dir, "compression": codec}}, Schema: schema, Pipeline: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Write(ctx, batch, fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
		if err := s.(*Sink).Commit(ctx, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	var size int64
	for _, f := range s.(*Sink).snap.files {
		size += f.Size
	}
	b.ReportMetric(float64(size)/float64(len(s.(*Sink).snap.files)*n), "file-B/row")
}
