package runtime

import (
	"fmt"
	"math"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Expression builders for tests.
var (
	tInt    = dag.T(dag.Int64).WithNull(true)
	tUint   = dag.T(dag.UInt64).WithNull(true)
	tFloat  = dag.T(dag.Float64).WithNull(true)
	tStr    = dag.T(dag.String).WithNull(true)
	tBool   = dag.T(dag.Bool).WithNull(true)
	tTS     = dag.Timestamp.WithNull(true)
	tDate   = dag.T(dag.Date).WithNull(true)
	tDec    = dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2, Nullable: true}
	tDT     = dag.T(dag.DateTime).WithNull(true)
	nullLit = &dag.Expr{Op: dag.OpConst, Type: dag.T(dag.Null), Value: dag.Value{Null: true}}
)

func ci(x int64) *dag.Expr   { return &dag.Expr{Op: dag.OpConst, Type: tInt, Value: dag.Value{I: x}} }
func cf(x float64) *dag.Expr { return &dag.Expr{Op: dag.OpConst, Type: tFloat, Value: dag.Value{F: x}} }
func cs(s string) *dag.Expr  { return &dag.Expr{Op: dag.OpConst, Type: tStr, Value: dag.Value{S: s}} }
func cb(b bool) *dag.Expr {
	return &dag.Expr{Op: dag.OpConst, Type: tBool, Value: dag.Value{I: b2i(b)}}
}
func cnull(t dag.Type) *dag.Expr {
	return &dag.Expr{Op: dag.OpConst, Type: t, Value: dag.Value{Null: true}}
}
func cval(t dag.Type, v dag.Value) *dag.Expr { return &dag.Expr{Op: dag.OpConst, Type: t, Value: v} }
func op(o dag.Op, t dag.Type, args ...*dag.Expr) *dag.Expr {
	return &dag.Expr{Op: o, Type: t, Args: args}
}
func cast(e *dag.Expr, t dag.Type) *dag.Expr { return op(dag.OpCast, t, e) }

// render formats row i of v for comparison: NULL, or the text form.
func render(v *Vector, i int) string {
	if v.IsNull(i) {
		return "NULL"
	}
	return string(appendText(nil, v, i))
}

// evalConst evaluates e over a one-row batch with no columns.
func evalConst(e *dag.Expr) string {
	b := &Batch{Len: 1}
	return render(newEvaluator(e).eval(b), 0)
}

func TestEvalScalars(t *testing.T) {
	ts := func(s string) *dag.Expr {
		ns, ok := parseTime([]byte(s))
		if !ok {
			panic(s)
		}
		return cval(tTS, dag.Value{I: ns})
	}
	dec := func(u int64) *dag.Expr { return cval(tDec, dag.Value{I: u}) }
	cases := []struct {
		e    *dag.Expr
		want string
	}{
		// arithmetic and NULL propagation
		{op(dag.OpAdd, tInt, ci(2), ci(3)), "5"},
		{op(dag.OpAdd, tInt, ci(2), cnull(tInt)), "NULL"},
		{op(dag.OpDiv, tInt, ci(7), ci(2)), "3"},
		{op(dag.OpDiv, tInt, ci(7), ci(0)), "NULL"},
		{op(dag.OpMod, tInt, ci(7), ci(0)), "NULL"},
		{op(dag.OpMod, tInt, ci(-7), ci(3)), "-1"},
		{op(dag.OpDiv, tFloat, cf(1), cf(0)), "inf"},
		{op(dag.OpNeg, tInt, ci(4)), "-4"},
		{op(dag.OpMul, tDec, dec(150), dec(200)), "3.00"}, // 1.50 * 2.00
		{op(dag.OpDiv, tDec, dec(100), dec(300)), "0.33"}, // 1.00 / 3.00
		{op(dag.OpAdd, tDec, dec(105), dec(-5)), "1.00"},  // 1.05 + -0.05
		{op(dag.OpDiv, tDec, dec(100), dec(0)), "NULL"},   // decimal / 0
		{op(dag.OpSub, tUint, cval(tUint, dag.Value{U: 5}), cval(tUint, dag.Value{U: 3})), "2"},
		// comparison
		{op(dag.OpLt, tBool, ci(1), ci(2)), "true"},
		{op(dag.OpEq, tBool, cs("a"), cs("a")), "true"},
		{op(dag.OpGt, tBool, cs("a"), cs("b")), "false"},
		{op(dag.OpEq, tBool, ci(1), cnull(tInt)), "NULL"},
		{op(dag.OpNe, tBool, cf(math.NaN()), cf(1)), "true"},
		// three-valued logic
		{op(dag.OpAnd, tBool, cb(true), cnull(tBool)), "NULL"},
		{op(dag.OpAnd, tBool, cb(false), cnull(tBool)), "false"},
		{op(dag.OpAnd, tBool, cnull(tBool), cb(false)), "false"},
		{op(dag.OpOr, tBool, cb(true), cnull(tBool)), "true"},
		{op(dag.OpOr, tBool, cb(false), cnull(tBool)), "NULL"},
		{op(dag.OpOr, tBool, cb(false), cb(false), cb(true)), "true"},
		{op(dag.OpNot, tBool, cnull(tBool)), "NULL"},
		{op(dag.OpNot, tBool, cb(false)), "true"},
		{op(dag.OpIsNull, tBool, cnull(tInt)), "true"},
		{op(dag.OpIsNotNull, tBool, cnull(tInt)), "false"},
		// IN
		{op(dag.OpIn, tBool, ci(2), ci(1), ci(2)), "true"},
		{op(dag.OpIn, tBool, ci(3), ci(1), ci(2)), "false"},
		{op(dag.OpIn, tBool, ci(3), ci(1), cnull(tInt)), "NULL"},
		{op(dag.OpIn, tBool, ci(1), ci(1), cnull(tInt)), "true"},
		{op(dag.OpIn, tBool, cnull(tInt), ci(1)), "NULL"},
		// LIKE
		{op(dag.OpLike, tBool, cs("hello"), cs("h%o")), "true"},
		{op(dag.OpLike, tBool, cs("hello"), cs("h_llo")), "true"},
		{op(dag.OpLike, tBool, cs("hello"), cs("h_lo")), "false"},
		{op(dag.OpLike, tBool, cs("héllo"), cs("h_llo")), "true"},
		{op(dag.OpLike, tBool, cs("50%"), cs(`50\%`)), "true"},
		{op(dag.OpLike, tBool, cs("500"), cs(`50\%`)), "false"},
		{op(dag.OpLike, tBool, cs("a_b"), cs(`a\_b`)), "true"},
		{op(dag.OpLike, tBool, cs("axb"), cs(`a\_b`)), "false"},
		{op(dag.OpLike, tBool, cs("abcabcabd"), cs("%abd")), "true"},
		{op(dag.OpLike, tBool, cs(""), cs("%")), "true"},
		{op(dag.OpLike, tBool, cnull(tStr), cs("%")), "NULL"},
		// CASE and COALESCE
		{&dag.Expr{Op: dag.OpCase, Type: tStr, HasElse: true, Args: []*dag.Expr{cb(false), cs("a"), cnull(tBool), cs("b"), cs("c")}}, "c"},
		{&dag.Expr{Op: dag.OpCase, Type: tStr, Args: []*dag.Expr{cb(false), cs("a")}}, "NULL"},
		{&dag.Expr{Op: dag.OpCase, Type: tStr, Args: []*dag.Expr{cb(true), cs("a"), cb(true), cs("b")}}, "a"},
		{&dag.Expr{Op: dag.OpCase, Type: tInt, Args: []*dag.Expr{cb(true), op(dag.OpDiv, tInt, ci(1), ci(0))}}, "NULL"},
		{op(dag.OpCoalesce, tInt, cnull(tInt), ci(7), ci(8)), "7"},
		{op(dag.OpCoalesce, tInt, cnull(tInt), nullLit), "NULL"},
		// CAST
		{cast(ci(42), tStr), "42"},
		{cast(cs(" 42 "), tInt), "42"},
		{cast(cs("4x"), tInt), "NULL"},
		{cast(cs("300"), dag.T(dag.Int8)), "NULL"},
		{cast(ci(-1), tUint), "NULL"},
		{cast(cf(2.9), tInt), "2"},
		{cast(cf(-2.9), tInt), "-2"},
		{cast(cf(1.5), tStr), "1.5"},
		{cast(cs("1.25"), tFloat), "1.25"},
		{cast(cs("12.345"), tDec), "12.35"},
		{cast(cs("-0.005"), tDec), "-0.01"},
		{cast(dec(1234), tStr), "12.34"},
		{cast(dec(1234), tInt), "12"},
		{cast(dec(-1234), tFloat), "-12.34"},
		{cast(ci(3), tDec), "3.00"},
		{cast(cf(2.675), tDec), "2.68"},
		{cast(cs("true"), tBool), "true"},
		{cast(ci(0), tBool), "false"},
		{cast(cb(true), tStr), "true"},
		{cast(cs("2024-03-01 10:20:30.5"), tTS), "2024-03-01 10:20:30.500"},
		{cast(cs("2024-03-01T10:20:30+02:00"), tDT), "2024-03-01 08:20:30"},
		{cast(cs("2024-03-01"), tDate), "2024-03-01"},
		{cast(cs("nope"), tTS), "NULL"},
		{cast(ci(1700000000), tTS), "2023-11-14 22:13:20.000"},
		{cast(ci(1700000000123), tTS), "2023-11-14 22:13:20.123"},
		{cast(ts("2024-03-01 10:20:30.999"), tDT), "2024-03-01 10:20:30"},
		{cast(ts("2024-03-01 10:20:30.999"), tDate), "2024-03-01"},
		{cast(ts("2024-03-01 10:20:30"), tStr), "2024-03-01 10:20:30.000"},
		{cast(ts("1970-01-01 00:01:40"), tInt), "100"},
		{cast(cnull(tInt), tStr), "NULL"},
		// strings by characters
		{op(dag.OpLower, tStr, cs("ÀbC")), "àbc"},
		{op(dag.OpUpper, tStr, cs("àbc")), "ÀBC"},
		// per-character mapping, as ClickHouse upperUTF8: ß has no one-character upper case
		{op(dag.OpUpper, tStr, cs("straße")), "STRAßE"},
		{op(dag.OpConcat, tStr, cs("a"), cs("é"), cs("c")), "aéc"},
		{op(dag.OpConcat, tStr, cs("a"), cnull(tStr)), "NULL"},
		{op(dag.OpLength, tInt, cs("héllo")), "5"},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(2), ci(3)), "éll"},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(2)), "éllo"},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(-3), ci(2)), "ll"},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(0), ci(2)), ""},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(9)), ""},
		{op(dag.OpSubstring, tStr, cs("héllo"), ci(2), ci(-1)), ""},
		{op(dag.OpTrim, tStr, cs("  a b \t")), "a b"},
		// numeric functions
		{op(dag.OpAbs, tInt, ci(-3)), "3"},
		{op(dag.OpAbs, tFloat, cf(-2.5)), "2.5"},
		{op(dag.OpRound, tFloat, cf(2.5)), "3"},
		{op(dag.OpRound, tFloat, cf(-2.5)), "-3"},
		{op(dag.OpRound, tFloat, cf(3.14159), ci(2)), "3.14"},
		{op(dag.OpRound, tInt, ci(1250), ci(-2)), "1300"},
		{op(dag.OpRound, tDec, dec(1255), ci(1)), "12.60"},
		{op(dag.OpFloor, tFloat, cf(-1.5)), "-2"},
		{op(dag.OpCeil, tFloat, cf(1.2)), "2"},
		{op(dag.OpFloor, tDec, dec(-150)), "-2.00"},
		{op(dag.OpCeil, tDec, dec(101)), "2.00"},
		{op(dag.OpRound, tFloat, cnull(tFloat)), "NULL"},
		// time functions
		{op(dag.OpDateTrunc, tTS, cs("hour"), ts("2024-03-01 10:20:30")), "2024-03-01 10:00:00.000"},
		{op(dag.OpDateTrunc, tTS, cs("DAY"), ts("2024-03-01 10:20:30")), "2024-03-01 00:00:00.000"},
		{op(dag.OpDateTrunc, tTS, cs("week"), ts("2024-03-01 10:20:30")), "2024-02-26 00:00:00.000"},
		{op(dag.OpDateTrunc, tTS, cs("month"), ts("2024-03-17 10:20:30")), "2024-03-01 00:00:00.000"},
		{op(dag.OpDateTrunc, tTS, cs("quarter"), ts("2024-05-17 10:20:30")), "2024-04-01 00:00:00.000"},
		{op(dag.OpDateTrunc, tDate, cs("year"), ts("2024-05-17 10:20:30")), "2024-01-01"},
		{op(dag.OpDateTrunc, tTS, cs("fortnight"), ts("2024-05-17 10:20:30")), "NULL"},
		{op(dag.OpToStartOfInterval, tTS, ts("2024-03-01 10:27:30"), ci(int64(15*60*1e9))), "2024-03-01 10:15:00.000"},
		{op(dag.OpToStartOfInterval, tTS, ts("1969-12-31 23:59:59"), ci(int64(60*1e9))), "1969-12-31 23:59:00.000"},
		// JSON_VALUE
		{op(dag.OpJSONValue, tStr, cs(`{"a":{"b":[1,{"c":"x\"y"}]}}`), cs("$.a.b[1].c")), `x"y`},
		{op(dag.OpJSONValue, tStr, cs(`{"a":{"b":[1,2]}}`), cs("$.a.b[0]")), "1"},
		{op(dag.OpJSONValue, tStr, cs(`{"a":true}`), cs("$.a")), "true"},
		{op(dag.OpJSONValue, tStr, cs(`{"a":null}`), cs("$.a")), "NULL"},
		{op(dag.OpJSONValue, tStr, cs(`{"a":{"b":1}}`), cs("$.a")), "NULL"},
		{op(dag.OpJSONValue, tStr, cs(`{"a":1}`), cs("$.z")), "NULL"},
		{op(dag.OpJSONValue, tStr, cs(`not json`), cs("$.a")), "NULL"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.e.Op), func(t *testing.T) {
			if got := evalConst(c.e); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestEvalColumns checks evaluation over vectors with NULLs in them and
// that the evaluator reuses its buffers between batches.
func TestEvalColumns(t *testing.T) {
	b := NewBatch(dag.Schema{{Name: "a", Type: tInt}, {Name: "s", Type: tStr}})
	for i, s := range []string{"x", "", "yy", "zzz"} {
		if i == 1 {
			b.Vecs[0].AppendNull()
			b.Vecs[1].AppendNull()
		} else {
			b.Vecs[0].AppendInt(int64(i))
			b.Vecs[1].AppendString(s)
		}
		b.Len++
	}
	col := dag.ColRef(0, tInt, "a")
	scol := dag.ColRef(1, tStr, "s")
	pred := op(dag.OpOr, tBool, op(dag.OpGt, tBool, col, ci(2)), op(dag.OpEq, tBool, scol, cs("x")))
	ev := newEvaluator(pred)
	for round := 0; round < 2; round++ {
		sel := ev.selectTrue(b, nil)
		if fmt.Sprint(sel) != "[0 3]" {
			t.Fatalf("round %d: selected %v, want [0 3]", round, sel)
		}
	}
	lens := newEvaluator(op(dag.OpLength, tInt, scol)).eval(b)
	var got []string
	for i := 0; i < b.Len; i++ {
		got = append(got, render(lens, i))
	}
	if fmt.Sprint(got) != "[1 NULL 2 3]" {
		t.Fatalf("LENGTH: %v", got)
	}
	allocs := testing.AllocsPerRun(100, func() { ev.selectTrue(b, nil) })
	if allocs > 1 { // the result slice only
		t.Errorf("predicate evaluation allocates %.0f times per batch", allocs)
	}
}
