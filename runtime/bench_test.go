package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// benchSchemaAndRecords returns the orders schema and n JSON records of
// about 150 bytes, the size the throughput targets are stated for.
func benchSchemaAndRecords(n int) (dag.Schema, []Record) {
	schema := dag.Schema{
		{Name: "order_id", Type: dag.T(dag.String)},
		{Name: "user_id", Type: dag.T(dag.UInt64)},
		{Name: "amount", Type: dag.T(dag.Float64)},
		{Name: "status", Type: dag.T(dag.String)},
		{Name: "created_at", Type: dag.Timestamp},
	}
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, n)
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range recs {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		v := fmt.Sprintf(`{"order_id":"order-%08d","user_id":%d,"amount":%.2f,"status":"paid","created_at":"%s","note":"n%d"}`,
			i, r.IntN(100000), r.Float64()*500, ts, i%10)
		recs[i] = Record{Value: []byte(v), Partition: int32(i % 4), Offset: int64(i), Timestamp: base.UnixNano()}
	}
	return schema, recs
}

// decodedBatches decodes n records into batches of size rows.
func decodedBatches(n, size int) (dag.Schema, []*Batch) {
	schema, recs := benchSchemaAndRecords(n)
	d, err := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem"})
	if err != nil {
		panic(err)
	}
	var out []*Batch
	for i := 0; i < n; i += size {
		bb := NewBatch(schema)
		for j := i; j < min(i+size, n); j++ {
			if err := d.decode(&recs[j], bb); err != nil {
				panic(err)
			}
		}
		out = append(out, bb)
	}
	return schema, out
}

func BenchmarkFilterProject(b *testing.B) {
	schema, batches := decodedBatches(8192, 1024)
	amount := dag.ColRef(2, dag.T(dag.Float64), "amount")
	filter := &dag.Node{ID: 1, Kind: dag.KindFilter, Schema: schema,
		Predicate: op(dag.OpAnd, dag.T(dag.Bool),
			op(dag.OpGt, dag.T(dag.Bool), amount, cf(100)),
			op(dag.OpEq, dag.T(dag.Bool), dag.ColRef(3, dag.T(dag.String), "status"), cs("paid")))}
	projSchema := dag.Schema{{Name: "order_id", Type: dag.T(dag.String)}, {Name: "cents", Type: dag.T(dag.Float64)}, {Name: "created_at", Type: dag.Timestamp}}
	project := &dag.Node{ID: 2, Kind: dag.KindProject, Schema: projSchema, Exprs: []*dag.Expr{
		dag.ColRef(0, dag.T(dag.String), "order_id"),
		op(dag.OpMul, dag.T(dag.Float64), amount, cf(100)),
		dag.ColRef(4, dag.Timestamp, "created_at"),
	}}
	rows := 0
	p := newProject(project, func(b *Batch) { rows += b.Len })
	f := newFilter(filter, schema, func(b *Batch) { p.process(0, b) })
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		bb := batches[i%len(batches)]
		f.process(0, bb)
		n += bb.Len
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDedup(b *testing.B) {
	schema, batches := decodedBatches(65536, 1024)
	node := &dag.Node{ID: 1, Kind: dag.KindDedup, Schema: schema, TimeCol: 4,
		Dedup: &dag.DedupSpec{Keys: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "order_id")}, Within: time.Minute}}
	st := &operatorStats{}
	d := newDedup(node, schema, func(*Batch) {}, st)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		bb := batches[i%len(batches)]
		d.process(0, bb)
		n += bb.Len
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDedupKeyBytes measures the heap held per live dedup key, from
// the heap before and after inserting distinct keys.
func BenchmarkDedupKeyBytes(b *testing.B) {
	for _, keys := range []int{1 << 20, 1800000} {
		b.Run(fmt.Sprint(keys), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var t dedupTable
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				for k := 0; k < keys; k++ {
					var h hash128
					h.word(uint64(k))
					lo, hi := h.finish()
					t.set(lo, hi, int64(k))
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(keys), "heap-bytes/key")
				b.ReportMetric(float64(t.bytes())/float64(keys), "table-bytes/key")
				runtime.KeepAlive(&t)
			}
		})
	}
}

func BenchmarkIntervalJoin(b *testing.B) {
	schema, batches := decodedBatches(65536, 1024)
	node := joinNode(schema, schema, dag.Inner, time.Minute, 4, 4, 1, 1)
	st := &operatorStats{}
	out := 0
	j := newJoin(node, schema, schema, func(b *Batch) { out += b.Len }, st)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	wm := int64(noWatermark)
	for i := 0; i < b.N; i++ {
		bb := batches[i%len(batches)]
		j.process(i%2, bb)
		n += bb.Len
		if i%len(batches) == len(batches)-1 {
			// Release everything between rounds so state stays bounded.
			wm = bb.Vecs[4].I64[bb.Len-1] + int64(2*time.Hour)
			j.watermark(wm)
			shift(batches, int64(3*time.Hour))
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

func shift(batches []*Batch, d int64) {
	for _, bb := range batches {
		for i := range bb.Vecs[4].I64 {
			bb.Vecs[4].I64[i] += d
		}
	}
}

// BenchmarkJoinRowBytes measures heap per buffered join row (the 5-column
// orders row, its chunk metadata and its index entry).
func BenchmarkJoinRowBytes(b *testing.B) {
	schema, batches := decodedBatches(1<<18, 1024)
	for i := 0; i < b.N; i++ {
		node := joinNode(schema, schema, dag.Inner, time.Hour, 4, 4, 0, 0)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		j := newJoin(node, schema, schema, func(*Batch) {}, &operatorStats{})
		rows := 0
		for _, bb := range batches {
			j.process(0, bb)
			rows += bb.Len
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(rows), "heap-bytes/row")
		runtime.KeepAlive(j)
	}
}

// BenchmarkJoinSnapshot measures serializing a join's state for a full
// checkpoint: 2^17 buffered rows per side (the 5-column orders row).
func BenchmarkJoinSnapshot(b *testing.B) {
	schema, batches := decodedBatches(1<<18, 1024)
	node := joinNode(schema, schema, dag.Inner, time.Hour, 4, 4, 0, 0)
	j := newJoin(node, schema, schema, func(*Batch) {}, &operatorStats{})
	for i, bb := range batches {
		j.process(i%2, bb)
	}
	b.ReportAllocs()
	b.ResetTimer()
	size := 0
	for i := 0; i < b.N; i++ {
		var w stateWriter
		j.snapshot(&w)
		size = len(w.buf)
	}
	b.SetBytes(int64(size))
}

func BenchmarkWindowAggregate(b *testing.B) {
	_, batches := decodedBatches(65536, 1024)
	node := &dag.Node{ID: 1, Kind: dag.KindWindow, TimeCol: 2,
		Schema: dag.Schema{{Name: "status", Type: dag.T(dag.String)}, {Name: "window_start", Type: dag.Timestamp}, {Name: "window_end", Type: dag.Timestamp},
			{Name: "n", Type: dag.T(dag.UInt64)}, {Name: "total", Type: tFloat}, {Name: "mx", Type: tFloat}},
		Window: &dag.WindowSpec{Kind: dag.Tumble, TimeCol: 4, Size: time.Second, Slide: time.Second,
			Keys: []*dag.Expr{dag.ColRef(3, dag.T(dag.String), "status")},
			Aggs: []dag.Agg{{Func: dag.AggCount, Type: dag.T(dag.UInt64)},
				{Func: dag.AggSum, Arg: dag.ColRef(2, dag.T(dag.Float64), "amount"), Type: tFloat},
				{Func: dag.AggMax, Arg: dag.ColRef(2, dag.T(dag.Float64), "amount"), Type: tFloat}}}}
	w := newWindow(node, func(*Batch) {}, &operatorStats{})
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		bb := batches[i%len(batches)]
		w.process(0, bb)
		n += bb.Len
		w.watermark(bb.Vecs[4].I64[0])
		if i%len(batches) == len(batches)-1 {
			w.watermark(bb.Vecs[4].I64[bb.Len-1] + int64(time.Hour))
			shift(batches, int64(2*time.Hour))
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDedupNewKeys measures the insert path: every row is a key the
// table has not seen, and the watermark releases old keys as it goes, as
// in a stream of unique events with a few duplicates.
func BenchmarkDedupNewKeys(b *testing.B) {
	schema, batches := decodedBatches(1<<18, 1024)
	node := &dag.Node{ID: 1, Kind: dag.KindDedup, Schema: schema, TimeCol: 4,
		Dedup: &dag.DedupSpec{Keys: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "order_id")}, Within: time.Minute}}
	d := newDedup(node, schema, func(*Batch) {}, &operatorStats{})
	round := byte(0)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		k := i % len(batches)
		bb := batches[k]
		d.process(0, bb)
		n += bb.Len
		d.watermark(bb.Vecs[4].I64[0])
		if k == len(batches)-1 {
			// New keys for the next round: rewrite the ids' first letter.
			b.StopTimer()
			round++
			for _, x := range batches {
				v := &x.Vecs[0]
				for r := 0; r < x.Len; r++ {
					v.Data[v.Offs[r]] = 'a' + round%26
				}
			}
			shift(batches, int64(10*time.Minute))
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(d.table.bytes())/float64(max(d.table.count, 1)), "table-bytes/key")
}

// discardSink counts rows.
type discardSink struct{ rows atomic.Int64 }

func (s *discardSink) Write(_ context.Context, b *Batch, _ string) error {
	s.rows.Add(int64(b.Len))
	return nil
}
func (s *discardSink) Close() error { return nil }

// BenchmarkPipelineDecodeDedup runs the whole executor (poll, parallel
// decode, dedup, filter, project, sink batching, checkpoints in memory)
// over an in-memory topic.
func BenchmarkPipelineDecodeDedup(b *testing.B) {
	benchPipelineDecodeDedup(b, false, func() CheckpointStore { return &MemoryCheckpointStore{} })
}

// BenchmarkPipelineDecodeDedupStable is the same over a source whose
// record bytes are stable (StableRecords, as Kafka's): chunks keep them
// instead of copying them.
func BenchmarkPipelineDecodeDedupStable(b *testing.B) {
	benchPipelineDecodeDedup(b, true, func() CheckpointStore { return &MemoryCheckpointStore{} })
}

// BenchmarkPipelineDecodeDedupNoStore is the same without a checkpoint
// store (a run without a state directory): barriers carry offsets only.
func BenchmarkPipelineDecodeDedupNoStore(b *testing.B) {
	benchPipelineDecodeDedup(b, false, func() CheckpointStore { return nil })
}

func benchPipelineDecodeDedup(b *testing.B, stable bool, store func() CheckpointStore) {
	const total = 400000
	topic := &memTopic{parts: make([][]Record, 4), stable: stable}
	_, recs := benchSchemaAndRecords(total)
	for i, r := range recs {
		p := i % 4
		r.Partition, r.Offset = int32(p), int64(len(topic.parts[p]))
		topic.parts[p] = append(topic.parts[p], r)
	}
	memTopics.Store("bench", topic)
	defer memTopics.Delete("bench")
	sink := &discardSink{}
	RegisterSink("benchdiscard", func(context.Context, SinkConfig) (Sink, error) { return sink, nil })
	schema, _ := benchSchemaAndRecords(1)
	out := dag.Schema{{Name: "order_id", Type: dag.T(dag.String)}, {Name: "amount", Type: dag.T(dag.Float64)}}
	g := &dag.Graph{Name: "bench", Nodes: []*dag.Node{
		{ID: 1, Kind: dag.KindSource, Schema: schema, TimeCol: 4, Source: &dag.SourceSpec{Name: "orders", Connector: "memtest",
			Options: map[string]string{"id": "bench"}, Declared: schema, IdleTimeout: time.Hour}},
		{ID: 2, Kind: dag.KindDedup, Inputs: []int{1}, Schema: schema, TimeCol: 4,
			Dedup: &dag.DedupSpec{Keys: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "order_id")}, Within: time.Minute}},
		{ID: 3, Kind: dag.KindFilter, Inputs: []int{2}, Schema: schema, TimeCol: 4,
			Predicate: op(dag.OpGt, dag.T(dag.Bool), dag.ColRef(2, dag.T(dag.Float64), "amount"), cf(-1))},
		{ID: 4, Kind: dag.KindProject, Inputs: []int{3}, Schema: out, TimeCol: -1,
			Exprs: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "order_id"), dag.ColRef(2, dag.T(dag.Float64), "amount")}},
		{ID: 5, Kind: dag.KindSink, Inputs: []int{4}, Schema: out, TimeCol: -1,
			Sink: &dag.SinkSpec{Name: "out", Connector: "benchdiscard", Options: map[string]string{"flush_interval": "50ms"}}},
	}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		sink.rows.Store(0)
		p, err := NewPipeline(g, Options{Store: store()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for p.Stats().RowsWritten < total {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		topic.committed = nil
	}
	// CPU time is the honest measure on a shared machine: it is what the
	// pipeline costs whatever else competes for the cores.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/(float64(total*b.N)/1e6), "cpu-s/Mrows")
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChunkFill measures the poller's hand-off of one chunk (1024
// records of about 150 bytes): copying the bytes, or, for a source with
// stable records, only the Record structs.
func BenchmarkChunkFill(b *testing.B) {
	_, recs := benchSchemaAndRecords(chunkRecords)
	for _, stable := range []bool{false, true} {
		name := "copy"
		if stable {
			name = "stable"
		}
		b.Run(name, func(b *testing.B) {
			c := &chunk{}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.fill(recs, stable)
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPipelineJoinNoStore runs an interval join of two in-memory
// topics (200,000 orders each, every order on both sides) without a
// checkpoint store: barriers only carry the offsets to commit.
func BenchmarkPipelineJoinNoStore(b *testing.B) {
	const total = 200000
	schema, recs := benchSchemaAndRecords(total)
	var ids []string
	for _, side := range []string{"benchl", "benchr"} {
		topic := &memTopic{parts: make([][]Record, 4)}
		for i, r := range recs {
			p := i % 4
			r.Partition, r.Offset = int32(p), int64(len(topic.parts[p]))
			topic.parts[p] = append(topic.parts[p], r)
		}
		memTopics.Store(side, topic)
		defer memTopics.Delete(side)
		ids = append(ids, side)
	}
	sink := &discardSink{}
	RegisterSink("benchdiscardj", func(context.Context, SinkConfig) (Sink, error) { return sink, nil })
	src := func(id int, name, topic string) *dag.Node {
		return &dag.Node{ID: id, Kind: dag.KindSource, Schema: schema, TimeCol: 4, Source: &dag.SourceSpec{Name: name, Connector: "memtest",
			Options: map[string]string{"id": topic}, Declared: schema, IdleTimeout: time.Hour}}
	}
	j := joinNode(schema, schema, dag.Inner, time.Minute, 4, 4, 0, 0)
	out := dag.Schema{{Name: "order_id", Type: dag.T(dag.String)}, {Name: "amount", Type: dag.T(dag.Float64)}}
	g := &dag.Graph{Name: "benchj", Nodes: []*dag.Node{src(1, "l", ids[0]), src(2, "r", ids[1]), j,
		{ID: 4, Kind: dag.KindProject, Inputs: []int{3}, Schema: out, TimeCol: -1,
			Exprs: []*dag.Expr{dag.ColRef(0, dag.T(dag.String), "order_id"), dag.ColRef(2, dag.T(dag.Float64), "amount")}},
		{ID: 5, Kind: dag.KindSink, Inputs: []int{4}, Schema: out, TimeCol: -1,
			Sink: &dag.SinkSpec{Name: "out", Connector: "benchdiscardj", Options: map[string]string{"flush_interval": "50ms"}}},
	}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		sink.rows.Store(0)
		p, err := NewPipeline(g, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for p.Stats().RowsWritten < total {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			v, _ := memTopics.Load(id)
			v.(*memTopic).committed = nil
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/(float64(2*total*b.N)/1e6), "cpu-s/Mrows")
	b.ReportMetric(float64(2*total*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRecordDecode is BenchmarkDecode (format/json) as a pipeline's
// decode workers run it: through the format interface, with max_future on.
func BenchmarkRecordDecode(b *testing.B) {
	schema, recs := benchSchemaAndRecords(4096)
	d, err := newRecordDecoder(schema, &dag.SourceSpec{Connector: "mem"})
	if err != nil {
		b.Fatal(err)
	}
	d.limitFuture(schema, 4, DefaultMaxFuture)
	d.setNow(time.Now())
	out := NewBatch(schema)
	bytes := 0
	for _, r := range recs {
		bytes += len(r.Value)
	}
	b.SetBytes(int64(bytes / len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		if k == 0 {
			out.Reset()
		}
		if err := d.decode(&recs[k], out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
