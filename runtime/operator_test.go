package runtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Operator tests use rows (k String, ts Timestamp, v Int64) written as
// "k@t" (t in seconds; k "-" is NULL) and read outputs back as strings.

var kvSchema = dag.Schema{{Name: "k", Type: tStr}, {Name: "ts", Type: dag.Timestamp}, {Name: "v", Type: tInt}}

const sec = int64(time.Second)

func kvBatch(rows ...string) *Batch {
	b := NewBatch(kvSchema)
	for i, r := range rows {
		k, ts, _ := strings.Cut(r, "@")
		if k == "-" {
			b.Vecs[0].AppendNull()
		} else {
			b.Vecs[0].AppendString(k)
		}
		var t float64
		fmt.Sscan(ts, &t)
		b.Vecs[1].AppendInt(int64(t * float64(sec)))
		b.Vecs[2].AppendInt(int64(i))
		b.Len++
	}
	return b
}

// rowsOf renders every row as "c1,c2,..." with times in seconds.
func rowsOf(b *Batch) []string {
	var out []string
	for i := 0; i < b.Len; i++ {
		var cols []string
		for c := range b.Vecs {
			v := &b.Vecs[c]
			switch {
			case v.IsNull(i):
				cols = append(cols, "NULL")
			case v.Type.Kind == dag.DateTime64 || v.Type.Kind == dag.DateTime:
				cols = append(cols, fmt.Sprint(float64(v.I64[i])/float64(sec)))
			default:
				cols = append(cols, render(v, i))
			}
		}
		out = append(out, strings.Join(cols, ","))
	}
	return out
}

type collector struct{ rows []string }

func (c *collector) emit(b *Batch) { c.rows = append(c.rows, rowsOf(b)...) }
func (c *collector) take() string {
	s := strings.Join(c.rows, " ")
	c.rows = nil
	return s
}

func dedupNode(within time.Duration) *dag.Node {
	return &dag.Node{ID: 1, Kind: dag.KindDedup, Schema: kvSchema, TimeCol: 1,
		Dedup: &dag.DedupSpec{Keys: []*dag.Expr{dag.ColRef(0, tStr, "k")}, Within: within}}
}

// kOnly renders only the key and time columns of kv rows.
func kOnly(s string) string {
	var out []string
	for _, r := range strings.Fields(s) {
		p := strings.Split(r, ",")
		out = append(out, p[0]+"@"+p[1])
	}
	return strings.Join(out, " ")
}

func TestDedup(t *testing.T) {
	type step struct {
		rows []string
		wm   float64 // watermark in seconds after the rows; 0 for none
		want string
	}
	cases := []struct {
		name  string
		steps []step
		drops int64
	}{
		{"first wins, window edges", []step{
			{rows: []string{"a@100", "a@105", "a@109.999", "a@110", "a@111", "a@120"}, want: "a@100 a@110 a@120"},
		}, 3},
		{"late row within the window is dropped", []step{
			{rows: []string{"a@100", "a@95"}, want: "a@100"},
		}, 1},
		{"a row d before the kept one is kept, the window stays", []step{
			{rows: []string{"a@100", "a@90", "a@105"}, want: "a@100 a@90"},
		}, 1},
		{"NULL keys are never duplicates", []step{
			{rows: []string{"-@1", "-@1", "b@1", "b@1"}, want: "NULL@1 NULL@1 b@1"},
		}, 1},
		{"state released once the watermark passes first time + d", []step{
			{rows: []string{"a@100"}, wm: 109.999, want: "a@100"},
			{rows: []string{"a@101"}, want: ""},
			{rows: nil, wm: 110},
			// state is gone: a late row for the key is kept
			{rows: []string{"a@101"}, want: "a@101"},
		}, 1},
		{"keys are independent", []step{
			{rows: []string{"a@1", "b@2", "a@3", "c@3", "b@4"}, want: "a@1 b@2 c@3"},
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var col collector
			st := &operatorStats{}
			d := newDedup(dedupNode(10*time.Second), kvSchema, col.emit, st)
			for i, s := range c.steps {
				if len(s.rows) > 0 {
					d.process(0, kvBatch(s.rows...))
				}
				if s.wm != 0 {
					d.watermark(int64(s.wm * float64(sec)))
				}
				if got := kOnly(col.take()); s.rows != nil && got != s.want {
					t.Errorf("step %d: got %q, want %q", i, got, s.want)
				}
			}
			if st.DedupDrops.Load() != c.drops {
				t.Errorf("drops = %d, want %d", st.DedupDrops.Load(), c.drops)
			}
		})
	}
}

func TestDedupSnapshotRestore(t *testing.T) {
	var col collector
	d := newDedup(dedupNode(10*time.Second), kvSchema, col.emit, &operatorStats{})
	d.process(0, kvBatch("a@100", "b@100", "c@50"))
	d.watermark(61 * sec) // c's state (50+10 ≤ 61) is released
	var w stateWriter
	d.snapshot(&w)
	col.take()

	d2 := newDedup(dedupNode(10*time.Second), kvSchema, col.emit, &operatorStats{})
	if err := d2.restore(&stateReader{buf: w.buf}); err != nil {
		t.Fatal(err)
	}
	d2.process(0, kvBatch("a@101", "b@111", "c@55"))
	if got := kOnly(col.take()); got != "b@111 c@55" {
		t.Errorf("after restore: got %q", got)
	}
	if err := d2.restore(&stateReader{buf: w.buf[:len(w.buf)-3]}); err == nil {
		t.Error("truncated state restored without error")
	}
}

// TestDedupTableGrowth drives the flat table through growth and
// watermark-driven rebuilds against a map model.
func TestDedupTableGrowth(t *testing.T) {
	var tab dedupTable
	model := map[uint64]int64{}
	within := int64(1000)
	wm := int64(noWatermark)
	for i := 0; i < 200000; i++ {
		k := uint64(i*7919) % 50000
		tm := int64(i / 10)
		var h hash128
		h.word(k)
		lo, hi := h.finish()
		released := satSub(wm, within)
		first, seen := model[k]
		wantKeep := !seen || first <= released || tm >= first+within || tm <= first-within
		if wantKeep && (!seen || first <= released || tm >= first+within) {
			model[k] = tm
		}
		if got, _ := tab.check(lo, hi, tm, released, within); got != wantKeep {
			t.Fatalf("row %d key %d: keep=%v, want %v", i, k, got, wantKeep)
		}
		if i%5000 == 0 {
			wm = tm - 500
			tab.rebuild(satSub(wm, within), tab.count)
		}
	}
	if load := float64(tab.count) / float64(len(tab.slots)); load > dedupMaxLoad {
		t.Errorf("load %.2f above the maximum", load)
	}
}

func joinNode(left, right dag.Schema, typ dag.JoinType, within time.Duration, lt, rt, lk, rk int) *dag.Node {
	var schema dag.Schema
	schema = append(schema, left...)
	for _, c := range right {
		c.Type.Nullable = c.Type.Nullable || typ == dag.Left
		schema = append(schema, c)
	}
	return &dag.Node{ID: 3, Kind: dag.KindJoin, Inputs: []int{1, 2}, Schema: schema, TimeCol: lt,
		Join: &dag.JoinSpec{Type: typ, Within: within, LeftTime: lt, RightTime: rt,
			LeftKeys:  []*dag.Expr{dag.ColRef(lk, left[lk].Type, left[lk].Name)},
			RightKeys: []*dag.Expr{dag.ColRef(rk, right[rk].Type, right[rk].Name)}}}
}

// pairs renders join output as "lk@lt|rk@rt".
func pairs(s string) string {
	var out []string
	for _, r := range strings.Fields(s) {
		p := strings.Split(r, ",")
		out = append(out, p[0]+"@"+p[1]+"|"+p[3]+"@"+p[4])
	}
	return strings.Join(out, " ")
}

func TestIntervalJoin(t *testing.T) {
	type step struct {
		port int
		rows []string
		wm   float64
		want string
	}
	cases := []struct {
		name  string
		typ   dag.JoinType
		steps []step
	}{
		{"inner: pairs inside the interval, emitted when the second row arrives", dag.Inner, []step{
			{port: 0, rows: []string{"a@100", "b@100"}, want: ""},
			{port: 1, rows: []string{"a@110", "a@89.9", "a@90", "b@111", "c@100"}, want: "a@100|a@110 a@100|a@90"},
			{port: 0, rows: []string{"a@105"}, want: "a@105|a@110"},
		}},
		{"inner: each pair once, late partners still match kept state", dag.Inner, []step{
			{port: 1, rows: []string{"k@50"}},
			{port: 0, rows: []string{"k@45", "k@55"}, want: "k@45|k@50 k@55|k@50"},
			{port: 0, rows: nil, wm: 60},
			// right k@50 expires when wm > 60; at exactly 60 it still matches
			{port: 0, rows: []string{"k@40"}, want: "k@40|k@50"},
			{port: 0, rows: nil, wm: 60.001},
			{port: 0, rows: []string{"k@41"}, want: ""},
		}},
		{"left: unmatched rows emitted with NULLs once wm > t + d", dag.Left, []step{
			{port: 0, rows: []string{"a@100", "b@100", "-@100"}, want: "NULL@100|NULL@NULL"},
			{port: 1, rows: []string{"a@101"}, want: "a@100|a@101"},
			{port: 0, rows: nil, wm: 110, want: ""},
			// a partner at exactly t + d still matches
			{port: 1, rows: []string{"b@110"}, want: "b@100|b@110"},
			{port: 0, rows: nil, wm: 110.001, want: ""},
		}},
		{"left: no partner", dag.Left, []step{
			{port: 0, rows: []string{"x@100"}, want: ""},
			{port: 1, rows: []string{"x@111"}, want: ""},
			{port: 0, rows: nil, wm: 110, want: ""},
			{port: 0, rows: nil, wm: 110.5, want: "x@100|NULL@NULL"},
		}},
		{"left: a row arriving behind the watermark goes out at once", dag.Left, []step{
			{port: 0, rows: nil, wm: 200},
			{port: 0, rows: []string{"z@100"}, want: "z@100|NULL@NULL"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var col collector
			st := &operatorStats{}
			j := newJoin(joinNode(kvSchema, kvSchema, c.typ, 10*time.Second, 1, 1, 0, 0), kvSchema, kvSchema, col.emit, st)
			for i, s := range c.steps {
				if len(s.rows) > 0 {
					j.process(s.port, kvBatch(s.rows...))
				}
				if s.wm != 0 {
					j.watermark(int64(s.wm * float64(sec)))
				}
				got := pairs(col.take())
				if s.want != "" || s.rows != nil || s.wm != 0 {
					if got != s.want && !(s.want == "" && got == "") {
						t.Errorf("step %d: got %q, want %q", i, got, s.want)
					}
				}
			}
		})
	}
}

func TestJoinResidualAndSnapshot(t *testing.T) {
	var col collector
	node := joinNode(kvSchema, kvSchema, dag.Left, 10*time.Second, 1, 1, 0, 0)
	// ON l.k = r.k AND l.v < r.v
	node.Join.Residual = op(dag.OpLt, tBool, dag.ColRef(2, tInt, "v"), dag.ColRef(5, tInt, "v"))
	j := newJoin(node, kvSchema, kvSchema, col.emit, &operatorStats{})
	j.process(0, kvBatch("a@100", "a@100")) // v = 0, 1
	j.process(1, kvBatch("x@0", "a@101"))   // a has v = 1: matches only the left row with v 0
	if got := pairs(col.take()); got != "a@100|a@101" {
		t.Fatalf("residual: got %q", got)
	}
	var w stateWriter
	j.snapshot(&w)

	var col2 collector
	j2 := newJoin(node, kvSchema, kvSchema, col2.emit, &operatorStats{})
	if err := j2.restore(&stateReader{buf: w.buf}); err != nil {
		t.Fatal(err)
	}
	j2.process(1, kvBatch("-@0", "q@0", "a@105")) // v=2 for a@105: matches both left rows
	if got := pairs(col2.take()); got != "a@100|a@105 a@100|a@105" {
		t.Errorf("after restore: got %q", got)
	}
	// Both left rows matched, so nothing is emitted unmatched.
	j2.watermark(200 * sec)
	if got := col2.take(); got != "" {
		t.Errorf("matched LEFT rows emitted again: %q", got)
	}
	// Restoring an unmatched LEFT row emits it once the watermark passes.
	var col3 collector
	j3 := newJoin(node, kvSchema, kvSchema, col3.emit, &operatorStats{})
	j3.process(0, kvBatch("u@100"))
	var w3 stateWriter
	j3.snapshot(&w3)
	j4 := newJoin(node, kvSchema, kvSchema, col3.emit, &operatorStats{})
	if err := j4.restore(&stateReader{buf: w3.buf}); err != nil {
		t.Fatal(err)
	}
	j4.watermark(111 * sec)
	if got := pairs(col3.take()); got != "u@100|NULL@NULL" {
		t.Errorf("restored LEFT row: got %q", got)
	}
}

func TestJoinReleasesChunks(t *testing.T) {
	j := newJoin(joinNode(kvSchema, kvSchema, dag.Inner, time.Second, 1, 1, 0, 0), kvSchema, kvSchema, func(*Batch) {}, &operatorStats{})
	for round := 0; round < 20; round++ {
		rows := make([]string, 1000)
		for i := range rows {
			rows[i] = fmt.Sprintf("k%d@%d", i, round*10)
		}
		j.process(round%2, kvBatch(rows...))
		j.watermark(int64(round*10) * sec)
	}
	if live := j.left.live() + j.right.live(); live > 5*joinChunkRows {
		t.Errorf("%d rows still buffered after the watermark passed them", live)
	}
	if j.left.index.count > 4*joinChunkRows+1024 {
		t.Errorf("index not cleaned: %d entries", j.left.index.count)
	}
}

func windowNode(kind dag.WindowKind, size, slide time.Duration, having *dag.Expr) *dag.Node {
	return &dag.Node{ID: 4, Kind: dag.KindWindow, TimeCol: 2,
		Schema: dag.Schema{
			{Name: "k", Type: tStr}, {Name: "window_start", Type: dag.Timestamp}, {Name: "window_end", Type: dag.Timestamp},
			{Name: "n", Type: dag.T(dag.UInt64)}, {Name: "nv", Type: dag.T(dag.UInt64)}, {Name: "nd", Type: dag.T(dag.UInt64)},
			{Name: "sum", Type: tInt}, {Name: "avg", Type: tFloat}, {Name: "min", Type: tInt}, {Name: "max", Type: tStr},
		},
		Window: &dag.WindowSpec{Kind: kind, TimeCol: 1, Size: size, Slide: slide,
			Keys: []*dag.Expr{dag.ColRef(0, tStr, "k")},
			Aggs: []dag.Agg{
				{Func: dag.AggCount, Type: dag.T(dag.UInt64)},
				{Func: dag.AggCount, Arg: dag.ColRef(2, tInt, "v"), Type: dag.T(dag.UInt64)},
				{Func: dag.AggCountDistinct, Arg: op(dag.OpMod, tInt, dag.ColRef(2, tInt, "v"), ci(2)), Type: dag.T(dag.UInt64)},
				{Func: dag.AggSum, Arg: dag.ColRef(2, tInt, "v"), Type: tInt},
				{Func: dag.AggAvg, Arg: dag.ColRef(2, tInt, "v"), Type: tFloat},
				{Func: dag.AggMin, Arg: dag.ColRef(2, tInt, "v"), Type: tInt},
				{Func: dag.AggMax, Arg: cast(dag.ColRef(2, tInt, "v"), tStr), Type: tStr},
			},
			Having: having}}
}

func TestWindows(t *testing.T) {
	var col collector
	st := &operatorStats{}
	w := newWindow(windowNode(dag.Tumble, 10*time.Second, 10*time.Second, nil), col.emit, st)
	// v is the row's position: 0..5
	w.process(0, kvBatch("a@0", "a@9.999", "b@5", "a@10", "-@3", "a@3"))
	w.watermark(9 * sec)
	if got := col.take(); got != "" {
		t.Fatalf("emitted before the window end: %q", got)
	}
	w.watermark(10 * sec) // reaches window_end 10: [0,10) is emitted
	want := "a,0,10,3,3,2,6,2,0,5 b,0,10,1,1,1,2,2,2,2 NULL,0,10,1,1,1,4,4,4,4"
	if got := col.take(); got != want {
		t.Fatalf("window [0,10):\n got  %s\n want %s", got, want)
	}
	// A late row for [0,10) is dropped and counted; [10,20) is still open.
	w.process(0, kvBatch("a@9", "a@19"))
	if st.LateRows.Load() != 1 {
		t.Errorf("late rows = %d, want 1", st.LateRows.Load())
	}
	var snap stateWriter
	w.snapshot(&snap)
	w.watermark(25 * sec)
	if got := col.take(); got != "a,10,20,2,2,1,4,2,1,3" {
		t.Errorf("window [10,20): %s", got)
	}
	// Snapshot → restore keeps the open window and emits it the same way.
	var col2 collector
	w2 := newWindow(windowNode(dag.Tumble, 10*time.Second, 10*time.Second, nil), col2.emit, &operatorStats{})
	if err := w2.restore(&stateReader{buf: snap.buf}); err != nil {
		t.Fatal(err)
	}
	w2.watermark(25 * sec)
	if got := col2.take(); got != "a,10,20,2,2,1,4,2,1,3" {
		t.Errorf("restored window [10,20): %s", got)
	}
}

func TestHopAndHaving(t *testing.T) {
	var col collector
	// HOP slide 5 s, size 10 s; HAVING n >= 2
	having := op(dag.OpGe, tBool, cast(dag.ColRef(3, dag.T(dag.UInt64), "n"), tInt), ci(2))
	w := newWindow(windowNode(dag.Hop, 10*time.Second, 5*time.Second, having), col.emit, &operatorStats{})
	w.process(0, kvBatch("a@4", "a@6", "b@7", "a@12"))
	w.watermark(100 * sec)
	// windows of 4: [-5,5) [0,10); of 6 and 7: [0,10) [5,15); of 12: [5,15) [10,20)
	want := "a,0,10,2,2,2,1,0.5,0,1 a,5,15,2,2,1,4,2,1,3"
	if got := col.take(); got != want {
		t.Errorf("hop:\n got  %s\n want %s", got, want)
	}
}

func TestWatermarkPartitionsAndIdleness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newSourceWatermark(2*time.Second, 5*time.Second)
	w.setPartitions([]int32{0, 1, 2}, t0)
	w.observe(0, 100*sec, t0)
	w.observe(1, 50*sec, t0)
	if got := w.current(t0); got != noWatermark {
		t.Fatalf("empty partition 2 must hold the watermark back, got %d", got)
	}
	// Partition 2 becomes idle after 5 s; 0 and 1 are active.
	t1 := t0.Add(5 * time.Second)
	w.observe(0, 110*sec, t1)
	w.observe(1, 60*sec, t1)
	if got := w.current(t1); got != 58*sec {
		t.Fatalf("min over active partitions minus delay: got %d", got/sec)
	}
	// Partition 1 goes idle: only partition 0 counts.
	t2 := t1.Add(4 * time.Second)
	w.observe(0, 120*sec, t2)
	if got := w.current(t2.Add(1500 * time.Millisecond)); got != 118*sec {
		t.Fatalf("idle partition 1 must not hold back: got %d", got/sec)
	}
	// All idle: max seen minus delay. And never backwards.
	if got := w.current(t2.Add(time.Hour)); got != 118*sec {
		t.Fatalf("all idle: got %d", got/sec)
	}
	w.observe(1, 10*sec, t2.Add(time.Hour))
	if got := w.current(t2.Add(time.Hour)); got != 118*sec {
		t.Fatalf("watermark went backwards: %d", got/sec)
	}
	// Round trip.
	w2 := newSourceWatermark(2*time.Second, 5*time.Second)
	w2.restore(w.state(), t0)
	if got := w2.current(t0); got != 118*sec {
		t.Fatalf("restored watermark %d", got/sec)
	}
}

func TestJoinWatermarkIsMinOfInputs(t *testing.T) {
	g := &dag.Graph{Name: "p", Nodes: []*dag.Node{
		{ID: 1, Kind: dag.KindSource, Schema: kvSchema, TimeCol: 1, Source: &dag.SourceSpec{Name: "l"}},
		{ID: 2, Kind: dag.KindSource, Schema: kvSchema, TimeCol: 1, Source: &dag.SourceSpec{Name: "r"}},
		joinNode(kvSchema, kvSchema, dag.Left, 10*time.Second, 1, 1, 0, 0),
	}}
	var col collector
	r, err := buildRunner(g, col.emit, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.push(r.byID[1], kvBatch("a@100"))
	r.advance(r.byID[1], 500*sec)
	if got := col.take(); got != "" {
		t.Fatalf("the right input's watermark still holds the join back: %q", got)
	}
	r.advance(r.byID[2], 111*sec)
	if got := pairs(col.take()); got != "a@100|NULL@NULL" {
		t.Fatalf("got %q", got)
	}
	if jw := r.byID[3].wm; jw != 111*sec {
		t.Fatalf("join watermark %d, want min of inputs", jw)
	}
}

// checkRobinHood verifies the table's invariant: along each run, homes
// never decrease (an entry is at most one slot farther from its home than
// the entry before it), and an entry away from its home follows another.
func checkRobinHood(t *testing.T, tab *dedupTable) {
	t.Helper()
	n := len(tab.slots)
	count := 0
	for p := range tab.slots {
		s := &tab.slots[p]
		if s.lo == 0 && s.hi == 0 {
			continue
		}
		count++
		sd := (p - tab.home(s.lo) + n) % n
		if sd == 0 {
			continue
		}
		q := &tab.slots[(p-1+n)%n]
		if q.lo == 0 && q.hi == 0 {
			t.Fatalf("slot %d: entry %d from its home after an empty slot", p, sd)
		}
		if qd := (p - 1 - tab.home(q.lo) + n) % n; sd > qd+1 {
			t.Fatalf("slot %d: distance %d after an entry at distance %d", p, sd, qd)
		}
	}
	if count != tab.count {
		t.Fatalf("%d entries, count says %d", count, tab.count)
	}
}

// TestDedupTableWrap fills small tables with keys whose homes crowd the
// end of the table, so runs wrap around it, and checks the invariant and
// a map model through inserts, renewals, set and rebuilds.
func TestDedupTableWrap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		var tab dedupTable
		model := map[[2]uint64]int64{}
		within := int64(100)
		released := int64(noWatermark)
		keys := 20 + r.IntN(300)
		for i := 0; i < 3*keys; i++ {
			k := uint64(r.IntN(keys))
			// Most homes in the last few percent of the table, some anywhere.
			lo := ^uint64(0) - k*(1<<52)
			if k%3 == 0 {
				lo = k*0x9e3779b97f4a7c15 | 1
			}
			hi := k + 1
			tm := int64(i)
			key := [2]uint64{lo, hi}
			if i%7 == 0 {
				tab.set(lo, hi, tm)
				model[key] = tm
			} else {
				first, seen := model[key]
				live := seen && first > released
				wantKeep := !live || tm >= first+within || tm <= first-within
				if wantKeep && (!live || tm >= first+within) {
					model[key] = tm
				}
				if got, _ := tab.check(lo, hi, tm, released, within); got != wantKeep {
					t.Fatalf("round %d row %d: keep=%v, want %v", round, i, got, wantKeep)
				}
			}
			if i%50 == 49 {
				released = tm - 60
				tab.rebuild(released, tab.count)
				for key, first := range model {
					if first <= released {
						delete(model, key)
					}
				}
			}
			checkRobinHood(t, &tab)
		}
	}
}
