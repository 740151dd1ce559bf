package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-sql/sluice/confine"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

// allTypes has a column of every Sluice type of SQL.md, nullable and not.
var allTypes = dag.Schema{
	{Name: "s", Type: dag.T(dag.String).WithNull(true)},
	{Name: "i8", Type: dag.T(dag.Int8)},
	{Name: "i16", Type: dag.T(dag.Int16)},
	{Name: "i32", Type: dag.T(dag.Int32)},
	{Name: "i64", Type: dag.T(dag.Int64).WithNull(true)},
	{Name: "u8", Type: dag.T(dag.UInt8)},
	{Name: "u16", Type: dag.T(dag.UInt16)},
	{Name: "u32", Type: dag.T(dag.UInt32)},
	{Name: "u64", Type: dag.T(dag.UInt64)},
	{Name: "f32", Type: dag.T(dag.Float32)},
	{Name: "f64", Type: dag.T(dag.Float64).WithNull(true)},
	{Name: "b", Type: dag.T(dag.Bool)},
	{Name: "d", Type: dag.T(dag.Date)},
	{Name: "dt", Type: dag.T(dag.DateTime)},
	{Name: "dt64", Type: dag.Type{Kind: dag.DateTime64, Precision: 6}},
	{Name: "dec", Type: dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}},
	{Name: "dec4", Type: dag.Type{Kind: dag.Decimal, Precision: 4, Scale: 1, Nullable: true}},
}

// allTypesBatch returns two rows of allTypes; base shifts the values.
func allTypesBatch(base int64) *runtime.Batch {
	return &runtime.Batch{Len: 2, Vecs: []runtime.Vector{
		{Data: []byte(fmt.Sprintf("a\"\n\x01é%d", base)), Offs: []uint32{0, uint32(len(fmt.Sprintf("a\"\n\x01é%d", base))), uint32(len(fmt.Sprintf("a\"\n\x01é%d", base)))}, Nulls: []bool{false, true}},
		{I64: []int64{-128, 127}},
		{I64: []int64{-32768, 32767}},
		{I64: []int64{-2147483648, 2147483647}},
		{I64: []int64{base, 0}, Nulls: []bool{false, true}},
		{U64: []uint64{255, 0}},
		{U64: []uint64{65535, 0}},
		{U64: []uint64{4294967295, 0}},
		{U64: []uint64{18446744073709551615, 0}},
		{F64: []float64{1.5, -0.25}},
		{F64: []float64{0.1, 0}, Nulls: []bool{false, true}},
		{I64: []int64{1, 0}},
		{I64: []int64{19675, -1}},
		{I64: []int64{1_700_000_000_000_000_000, -1_000_000_000}},
		{I64: []int64{1_700_000_000_123_456_000, -1_000}},
		{I64: []int64{-5, 12345}},
		{I64: []int64{999, 0}, Nulls: []bool{false, true}},
	}}
}

func open(t *testing.T, dir, pipeline string, schema dag.Schema, opts map[string]string) *Sink {
	t.Helper()
	return openResumed(t, dir, pipeline, schema, opts, 0)
}

// openResumed opens a sink as a run that replays the write intent of
// epoch pending does (0: a run that replays nothing).
func openResumed(t *testing.T, dir, pipeline string, schema dag.Schema, opts map[string]string, pending uint64) *Sink {
	t.Helper()
	o := map[string]string{"path": dir}
	for k, v := range opts {
		o[k] = v
	}
	s, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Connector: "delta", Options: o}, Schema: schema, Pipeline: pipeline, Restored: max(pending, 1) - 1, Pending: pending})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

// logActions reads every log entry of the table at dir, in order.
func logActions(t *testing.T, dir string) [][]map[string]json.RawMessage {
	t.Helper()
	var out [][]map[string]json.RawMessage
	for v := 0; ; v++ {
		data, err := os.ReadFile(filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.json", v)))
		if errors.Is(err, os.ErrNotExist) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var entry []map[string]json.RawMessage
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var a map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("version %d: %v", v, err)
			}
			entry = append(entry, a)
		}
		out = append(out, entry)
	}
}
func str(s string) *string { return &s }

// Every Sluice type is written to the Delta type of docs/connectors.md's
// table, read back exactly by DuckDB from the files the log lists, with
// exact statistics, and the log validates against the protocol's schema.
func TestEveryTypeReadByDuckDB(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	s := open(t, dir, "p", allTypes, nil)
	ctx := context.Background()
	if err := s.Write(ctx, allTypesBatch(7), "tok1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := validateLog(t, dir); n != 2 {
		t.Fatalf("%d log entries, want 2 (create, commit)", n)
	}
	entries := logActions(t, dir)
	var meta metaData
	json.Unmarshal(entries[0][2]["metaData"], &meta)
	wantSchema := `{"type":"struct","fields":[{"name":"s","type":"string","nullable":true,"metadata":{}},{"name":"i8","type":"byte","nullable":false,"metadata":{}},{"name":"i16","type":"short","nullable":false,"metadata":{}},{"name":"i32","type":"integer","nullable":false,"metadata":{}},{"name":"i64","type":"long","nullable":true,"metadata":{}},{"name":"u8","type":"short","nullable":false,"metadata":{}},{"name":"u16","type":"integer","nullable":false,"metadata":{}},{"name":"u32","type":"long","nullable":false,"metadata":{}},{"name":"u64","type":"decimal(20,0)","nullable":false,"metadata":{}},{"name":"f32","type":"float","nullable":false,"metadata":{}},{"name":"f64","type":"double","nullable":true,"metadata":{}},{"name":"b","type":"boolean","nullable":false,"metadata":{}},{"name":"d","type":"date","nullable":false,"metadata":{}},{"name":"dt","type":"timestamp","nullable":false,"metadata":{}},{"name":"dt64","type":"timestamp","nullable":false,"metadata":{}},{"name":"dec","type":"decimal(10,2)","nullable":false,"metadata":{}},{"name":"dec4","type":"decimal(4,1)","nullable":true,"metadata":{}}]}`
	if meta.SchemaString != wantSchema {
		t.Errorf("schemaString\n%s\nwant\n%s", meta.SchemaString, wantSchema)
	}
	var add addFile
	var tx txn
	for _, a := range entries[1] {
		if raw, ok := a["add"]; ok {
			json.Unmarshal(raw, &add)
		}
		if raw, ok := a["txn"]; ok {
			json.Unmarshal(raw, &tx)
		}
	}
	wantStats := `{"numRecords":2,"minValues":{"s":"a\"\n\u0001é7","i8":-128,"i16":-32768,"i32":-2147483648,"i64":7,"u8":0,"u16":0,"u32":0,"u64":0,"f32":-0.25,"f64":0.1,"d":"1969-12-31","dt":"1969-12-31T23:59:59.000Z","dt64":"1969-12-31T23:59:59.999Z","dec":-0.05,"dec4":99.9},"maxValues":{"s":"a\"\n\u0001é7","i8":127,"i16":32767,"i32":2147483647,"i64":7,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,"f32":1.5,"f64":0.1,"d":"2023-11-14","dt":"2023-11-14T22:13:20.000Z","dt64":"2023-11-14T22:13:20.124Z","dec":123.45,"dec4":99.9},"nullCount":{"s":1,"i8":0,"i16":0,"i32":0,"i64":1,"u8":0,"u16":0,"u32":0,"u64":0,"f32":0,"f64":1,"b":0,"d":0,"dt":0,"dt64":0,"dec":0,"dec4":1}}`
	if add.Stats != wantStats {
		t.Errorf("stats\n%s\nwant\n%s", add.Stats, wantStats)
	}
	if tx.AppID != "sluice.p" || tx.Version != 1 {
		t.Errorf("txn %+v", tx)
	}
	if !strings.HasSuffix(add.Path, ".zstd.parquet") {
		t.Errorf("path %s", add.Path)
	}

	r := readWithDuckDB(t, dir)
	t.Logf("DuckDB delta_scan: %s", r.DeltaScan)
	if len(r.Files) != 1 || r.Files[0] != add.Path {
		t.Fatalf("files %v", r.Files)
	}
	wantTypes := map[string]string{"s": "VARCHAR", "i8": "TINYINT", "i16": "SMALLINT", "i32": "INTEGER", "i64": "BIGINT",
		"u8": "SMALLINT", "u16": "INTEGER", "u32": "BIGINT", "u64": "DECIMAL(20,0)", "f32": "FLOAT", "f64": "DOUBLE",
		"b": "BOOLEAN", "d": "DATE", "dt": "TIMESTAMP WITH TIME ZONE", "dt64": "TIMESTAMP WITH TIME ZONE",
		"dec": "DECIMAL(10,2)", "dec4": "DECIMAL(4,1)"}
	for k, v := range wantTypes {
		if r.Types[k] != v {
			t.Errorf("DuckDB type of %s: %s, want %s", k, r.Types[k], v)
		}
	}
	want := []map[string]*string{
		{"s": str("a\"\n\x01é7"), "i8": str("-128"), "i16": str("-32768"), "i32": str("-2147483648"), "i64": str("7"), "u8": str("255"), "u16": str("65535"), "u32": str("4294967295"), "u64": str("18446744073709551615"), "f32": str("1.5"), "f64": str("0.1"), "b": str("true"), "d": str("2023-11-14"), "dt": str("2023-11-14 22:13:20+00"), "dt64": str("2023-11-14 22:13:20.123456+00"), "dec": str("-0.05"), "dec4": str("99.9")},
		{"s": nil, "i8": str("127"), "i16": str("32767"), "i32": str("2147483647"), "i64": nil, "u8": str("0"), "u16": str("0"), "u32": str("0"), "u64": str("0"), "f32": str("-0.25"), "f64": nil, "b": str("false"), "d": str("1969-12-31"), "dt": str("1969-12-31 23:59:59+00"), "dt64": str("1969-12-31 23:59:59.999999+00"), "dec": str("123.45"), "dec4": nil},
	}
	got, _ := json.Marshal(r.Rows)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("DuckDB rows\n%s\nwant\n%s", got, exp)
	}
}

var idSchema = dag.Schema{{Name: "id", Type: dag.T(dag.Int64)}, {Name: "name", Type: dag.T(dag.String).WithNull(true)}}

func idBatch(from, n int) *runtime.Batch {
	b := runtime.NewBatch(idSchema)
	for i := from; i < from+n; i++ {
		b.Vecs[0].AppendInt(int64(i))
		b.Vecs[1].AppendString(fmt.Sprintf("name-%d", i))
	}
	b.Len = n
	return b
}

// committedIDs reads the ids of the rows the log references, with DuckDB.
func duckIDs(t *testing.T, dir string) []string {
	t.Helper()
	var ids []string
	for _, r := range readWithDuckDB(t, dir).Rows {
		ids = append(ids, *r["id"])
	}
	return ids
}

func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	slices.SortFunc(out, strings.Compare) // DuckDB orders the text
	return out
}

// A replay of a committed epoch (same rows, same token, after a restart)
// is recognised by its txn: the staged files are deleted and nothing is
// committed twice; the next epoch commits.
func TestReplayOfCommittedEpochIsDropped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	ctx := context.Background()
	s := open(t, dir, "p", idSchema, nil)
	s.Write(ctx, idBatch(0, 10), "p-1-a")
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openResumed(t, dir, "p", idSchema, nil, 1) // the intent of epoch 1
	s.Write(ctx, idBatch(0, 10), "p-1-a")
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s.Dropped != 1 {
		t.Fatalf("dropped %d", s.Dropped)
	}
	s.Write(ctx, idBatch(10, 5), "p-2-b")
	if err := s.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := validateLog(t, dir); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
	if files := parquetFiles(t, dir); len(files) != 2 {
		t.Fatalf("files on disk %v: the dropped epoch's file should be deleted", files)
	}
	if got, want := duckIDs(t, dir), seq(0, 15); !slices.Equal(got, want) {
		t.Fatalf("ids %v want %v", got, want)
	}

	// Another pipeline (another appId) with the same epoch is not a
	// replay; nor is the same epoch, even with the same token, in a run
	// that replays no intent (the pipeline was dropped and created again:
	// a new history whose epochs start over); nor a replayed epoch whose
	// rows differ (the replay could not reproduce the batch).
	o := open(t, dir, "q", idSchema, nil)
	o.Write(ctx, idBatch(100, 1), "q-1-a")
	if err := o.Commit(ctx, 1); err != nil || o.Dropped != 0 {
		t.Fatal(err, o.Dropped)
	}
	o.Close()
	p := open(t, dir, "p", idSchema, nil)
	p.Write(ctx, idBatch(200, 1), "p-2-b")
	if err := p.Commit(ctx, 2); err != nil || p.Dropped != 0 {
		t.Fatal(err, p.Dropped)
	}
	p.Close()
	p = openResumed(t, dir, "p", idSchema, nil, 2)
	p.Write(ctx, idBatch(300, 1), "p-2-other")
	if err := p.Commit(ctx, 2); err != nil || p.Dropped != 0 {
		t.Fatal(err, p.Dropped)
	}
	p.Close()
	if got, want := len(duckIDs(t, dir)), 18; got != want {
		t.Fatalf("%d rows, want %d", got, want)
	}
}

// A writer that finds its next version taken by another writer reads the
// new entry and commits on the version after; a txn of its own appId in
// the new entries makes it drop its epoch.
func TestConcurrentWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	ctx := context.Background()
	a := open(t, dir, "a", idSchema, nil)
	b := open(t, dir, "b", idSchema, nil)
	a.Write(ctx, idBatch(0, 3), "a-1")
	b.Write(ctx, idBatch(3, 3), "b-1")
	if err := b.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Another engine's blind append, as Spark writes it.
	ext := `{"commitInfo":{"timestamp":1,"operation":"WRITE","engineInfo":"Apache-Spark"}}` + "\n" +
		`{"add":{"path":"spark-part.parquet","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":0}"}}` + "\n" +
		`{"txn":{"appId":"spark-query","version":7}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.json", 2)), []byte(ext), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if a.snap.version != 3 {
		t.Fatalf("a committed version %d, want 3", a.snap.version)
	}
	if a.snap.txns["sluice.b"] != 1 || a.snap.txns["spark-query"] != 7 || a.snap.files["spark-part.parquet"] == nil {
		t.Fatalf("a did not read the other entries: %+v", a.snap.txns)
	}
	validateLog(t, dir)

	// Two sinks of one appId (a restarted process and the old one still
	// committing): the second finds the first's txn and drops.
	c := openResumed(t, dir, "a", idSchema, nil, 2)
	a.Write(ctx, idBatch(10, 1), "a-2")
	c.Write(ctx, idBatch(10, 1), "a-2")
	if err := a.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 2); err != nil || c.Dropped != 1 {
		t.Fatal(err, c.Dropped)
	}
	a.Close()
	b.Close()
	c.Close()
}

// Files roll over at target_file_size within one commit; snappy is used
// when asked.
func TestTargetFileSize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	ctx := context.Background()
	s := open(t, dir, "p", idSchema, map[string]string{"target_file_size": "1024", "compression": "snappy"})
	if err := s.Write(ctx, idBatch(0, 100000), "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	validateLog(t, dir)
	var adds []addFile
	for _, a := range logActions(t, dir)[1] {
		if raw, ok := a["add"]; ok {
			var f addFile
			json.Unmarshal(raw, &f)
			adds = append(adds, f)
		}
	}
	if len(adds) < 2 {
		t.Fatalf("%d files, want several", len(adds))
	}
	total := 0
	for _, f := range adds {
		if !strings.HasSuffix(f.Path, ".snappy.parquet") {
			t.Errorf("path %s", f.Path)
		}
		var st struct{ NumRecords int }
		json.Unmarshal([]byte(f.Stats), &st)
		total += st.NumRecords
	}
	if total != 100000 {
		t.Fatalf("numRecords sum %d", total)
	}
	if got := len(duckIDs(t, dir)); got != 100000 {
		t.Fatalf("DuckDB read %d rows", got)
	}
}

// A checkpoint of the log is written at every multiple of
// log_checkpoint_interval; a restarted sink (and DuckDB's reader) start
// from it, and a replayed epoch found through it is still dropped.
func TestLogCheckpoints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	ctx := context.Background()
	s := open(t, dir, "p", idSchema, map[string]string{"log_checkpoint_interval": "3"})
	for e := 1; e <= 7; e++ {
		s.Write(ctx, idBatch(e*10, 2), fmt.Sprintf("p-%d", e))
		if err := s.Commit(ctx, uint64(e)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, v := range []int{3, 6} {
		if _, err := os.Stat(filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.checkpoint.parquet", v))); err != nil {
			t.Errorf("checkpoint %d: %v", v, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.checkpoint.parquet", 7))); err == nil {
		t.Error("checkpoint at 7")
	}
	lc, _ := os.ReadFile(filepath.Join(dir, "_delta_log", "_last_checkpoint"))
	if string(lc) != `{"version":6,"size":9}` {
		t.Errorf("_last_checkpoint %s", lc)
	}
	// The sink reads the checkpoint, not the entries before it: remove
	// them, as log retention would.
	for v := 0; v < 6; v++ {
		os.Remove(filepath.Join(dir, "_delta_log", fmt.Sprintf("%020d.json", v)))
	}
	s = openResumed(t, dir, "p", idSchema, nil, 7)
	if s.snap.version != 7 || s.snap.checkpoint != 6 || len(s.snap.files) != 7 || s.snap.txns["sluice.p"] != 7 {
		t.Fatalf("snapshot v%d ckpt %d files %d txns %v", s.snap.version, s.snap.checkpoint, len(s.snap.files), s.snap.txns)
	}
	s.Write(ctx, idBatch(70, 2), "p-7")
	if err := s.Commit(ctx, 7); err != nil || s.Dropped != 1 {
		t.Fatal(err, s.Dropped)
	}
	s.Close()
	r := readWithDuckDB(t, dir)
	if r.CheckpointFiles != 6 || len(r.Rows) != 14 {
		t.Fatalf("DuckDB: %d files from the checkpoint, %d rows", r.CheckpointFiles, len(r.Rows))
	}
	// At version 6 the txn of epoch 6 is in the checkpoint only: a
	// restart then still drops a replay of epoch 6's commit.
	dir2 := filepath.Join(t.TempDir(), "t2")
	s = open(t, dir2, "p", idSchema, map[string]string{"log_checkpoint_interval": "2"})
	s.Write(ctx, idBatch(0, 1), "p-1")
	s.Commit(ctx, 1)
	s.Write(ctx, idBatch(1, 1), "p-2")
	s.Commit(ctx, 2) // version 2: checkpoint
	s.Close()
	s = openResumed(t, dir2, "p", idSchema, nil, 2)
	s.Write(ctx, idBatch(1, 1), "p-2")
	if err := s.Commit(ctx, 2); err != nil || s.Dropped != 1 {
		t.Fatal(err, s.Dropped)
	}
	s.Close()
}

// A table whose schema does not fit, or that uses what Sluice does not
// write, is refused with the reason; a bad option too.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "t")
	s := open(t, dir, "p", idSchema, nil)
	s.Close()
	other := dag.Schema{{Name: "id", Type: dag.T(dag.String)}, {Name: "extra", Type: dag.T(dag.Int32)}}
	_, err := OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{"path": dir}}, Schema: other, Pipeline: "p"})
	if err == nil || !strings.Contains(err.Error(), "column id is long in the table, the sink writes string (String); column extra is not in the table") {
		t.Fatalf("error %v", err)
	}
	// A partitioned table from another engine.
	pdir := filepath.Join(t.TempDir(), "p")
	os.MkdirAll(filepath.Join(pdir, "_delta_log"), 0o755)
	os.WriteFile(filepath.Join(pdir, "_delta_log", fmt.Sprintf("%020d.json", 0)), []byte(
		`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`+"\n"+
			`{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":["id"],"configuration":{}}}`+"\n"), 0o644)
	_, err = OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{"path": pdir}}, Schema: idSchema[:1], Pipeline: "p"})
	if err == nil || !strings.Contains(err.Error(), "the table is partitioned by id") {
		t.Fatalf("error %v", err)
	}
	_, err = OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{"path": dir, "compression": "lz4"}}, Schema: idSchema, Pipeline: "p"})
	if err == nil || !strings.Contains(err.Error(), `open delta sink "lake": option compression`) {
		t.Fatalf("error %v", err)
	}
	_, err = OpenSink(ctx, runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{}}, Schema: idSchema, Pipeline: "p"})
	if err == nil || !strings.Contains(err.Error(), "option path is required") {
		t.Fatalf("error %v", err)
	}
}

// Under a files root the table directory is confined to it.
func TestConfined(t *testing.T) {
	root := filepath.Join(t.TempDir(), "files")
	if err := confine.SetRoot(root); err != nil {
		t.Fatal(err)
	}
	defer confine.SetRoot("")
	s := open(t, root, "p", idSchema, map[string]string{"path": "lake/t"})
	s.Close()
	if _, err := os.Stat(filepath.Join(root, "lake", "t", "_delta_log", fmt.Sprintf("%020d.json", 0))); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Options: map[string]string{"path": "../x"}}, Schema: idSchema, Pipeline: "p"})
	var oe *confine.OutsideError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v", err)
	}
}

// The documented defaults are the ones in force: the runtime's batching
// (batch_size, flush_interval) and the sink's own options; app_id
// replaces the txn's appId.
func TestDefaultsAndAppID(t *testing.T) {
	runtime.Register(Connector)
	rows, flush, err := runtime.SinkBatching(&dag.SinkSpec{Name: "lake", Connector: "delta", Options: map[string]string{"path": "x"}})
	if err != nil || rows != 1_000_000 || flush != 10*time.Second {
		t.Fatalf("batching %d %v %v", rows, flush, err)
	}
	dir := filepath.Join(t.TempDir(), "t")
	s := open(t, dir, "p", idSchema, nil)
	if s.target != 128<<20 || s.every != 10 || s.codecName != "zstd" || s.appID != "sluice.p" {
		t.Fatalf("defaults: target %d, interval %d, codec %s, appId %s", s.target, s.every, s.codecName, s.appID)
	}
	s.Close()
	s = open(t, dir, "p", idSchema, map[string]string{"app_id": "etl-7"})
	s.Write(context.Background(), idBatch(0, 1), "t")
	if err := s.Commit(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var tx txn
	for _, a := range logActions(t, dir)[1] {
		if raw, ok := a["txn"]; ok {
			json.Unmarshal(raw, &tx)
		}
	}
	if tx.AppID != "etl-7" || tx.Version != 3 {
		t.Fatalf("txn %+v", tx)
	}
}

// Each task of a split pipeline writes under an appId of its own, the
// default one and an app_id option alike; a pipeline of one task keeps
// the appId it always had.
func TestAppIDPerTask(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	for _, tc := range []struct {
		appID string
		task  runtime.Task
		want  string
	}{
		{"", runtime.Task{}, "sluice.p"},
		{"", runtime.Task{Index: 0, Count: 1}, "sluice.p"},
		{"", runtime.Task{Index: 2, Count: 3}, "sluice.p.2"},
		{"etl-7", runtime.Task{Index: 0, Count: 3}, "etl-7.0"},
		{"etl-7", runtime.Task{}, "etl-7"},
	} {
		o := map[string]string{"path": dir}
		if tc.appID != "" {
			o["app_id"] = tc.appID
		}
		s, err := OpenSink(context.Background(), runtime.SinkConfig{Spec: &dag.SinkSpec{Name: "lake", Connector: "delta", Options: o}, Schema: idSchema, Pipeline: "p", Task: tc.task})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.(*Sink).appID; got != tc.want {
			t.Errorf("app_id %q, task %+v: appId %q, want %q", tc.appID, tc.task, got, tc.want)
		}
		s.Close()
	}
}
