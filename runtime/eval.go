package runtime

import (
	"bytes"
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-sql/sluice/format/jsonscan"
	"github.com/sluice-sql/sluice/planner/dag"
)

// evaluator computes one dag.Expr over whole batches. Each node owns its
// output vector and reuses it, so evaluation allocates nothing once the
// vectors have grown. The vector eval returns is valid until the next
// eval call on the same evaluator (for OpColumn it is the input's own).
//
// Every function evaluates all its arguments for all rows, including CASE
// branches a row does not take: that is safe because no operation fails
// (integer division by zero and failed casts yield NULL).
type evaluator struct {
	e    *dag.Expr
	args []*evaluator
	out  Vector
	// like is the compiled pattern when OpLike's pattern is a constant.
	like *likePattern
	// path is the parsed JSON path of OpJSONValue.
	path []jsonscan.Step
	// tmp is scratch for per-row work (unescaped JSON, LIKE patterns).
	tmp    []byte
	vs     []*Vector
	fa, fb []float64
}

func newEvaluator(e *dag.Expr) *evaluator {
	ev := &evaluator{e: e, out: NewVector(e.Type)}
	for _, a := range e.Args {
		ev.args = append(ev.args, newEvaluator(a))
	}
	switch e.Op {
	case dag.OpLike:
		if len(e.Args) == 2 && e.Args[1].Op == dag.OpConst && !e.Args[1].Value.Null {
			ev.like = compileLike([]byte(e.Args[1].Value.S))
		}
	case dag.OpJSONValue:
		if len(e.Args) == 2 && e.Args[1].Op == dag.OpConst {
			ev.path = jsonscan.ParsePath(e.Args[1].Value.S)
		}
	}
	return ev
}

// selectTrue evaluates a Bool predicate and appends to sel the rows where it
// is true (NULL and false both reject).
func (ev *evaluator) selectTrue(b *Batch, sel []int32) []int32 {
	v := ev.eval(b)
	nulls := v.HasNulls()
	for i := 0; i < b.Len; i++ {
		if v.I64[i] != 0 && !(nulls && v.Nulls[i]) {
			sel = append(sel, int32(i))
		}
	}
	return sel
}

func (ev *evaluator) eval(b *Batch) *Vector {
	e := ev.e
	n := b.Len
	if e.Op == dag.OpColumn {
		return &b.Vecs[e.Col]
	}
	out := &ev.out
	out.Reset()
	switch e.Op {
	case dag.OpConst:
		for i := 0; i < n; i++ {
			out.AppendValue(e.Value)
		}
	case dag.OpAdd, dag.OpSub, dag.OpMul, dag.OpDiv, dag.OpMod:
		ev.arith(ev.args[0].eval(b), ev.args[1].eval(b), n)
	case dag.OpNeg:
		ev.neg(ev.args[0].eval(b), n)
	case dag.OpEq, dag.OpNe, dag.OpLt, dag.OpLe, dag.OpGt, dag.OpGe:
		ev.compare(ev.args[0].eval(b), ev.args[1].eval(b), n)
	case dag.OpAnd, dag.OpOr:
		ev.logic(b, n)
	case dag.OpNot:
		a := ev.args[0].eval(b)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				out.AppendNull()
			} else {
				out.AppendInt(1 - boolVal(a.I64[i]))
			}
		}
	case dag.OpIsNull, dag.OpIsNotNull:
		a := ev.args[0].eval(b)
		want := e.Op == dag.OpIsNull
		for i := 0; i < n; i++ {
			out.AppendInt(b2i(a.IsNull(i) == want))
		}
	case dag.OpIn:
		ev.in(b, n)
	case dag.OpLike:
		ev.likeEval(b, n)
	case dag.OpCase:
		ev.caseEval(b, n)
	case dag.OpCoalesce:
		vs := ev.evalArgs(b)
		for i := 0; i < n; i++ {
			done := false
			for _, v := range vs {
				if !v.IsNull(i) {
					appendConverted(out, v, i)
					done = true
					break
				}
			}
			if !done {
				out.AppendNull()
			}
		}
	case dag.OpCast:
		castVector(ev.args[0].eval(b), out, n)
	case dag.OpLower, dag.OpUpper:
		a := ev.args[0].eval(b)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				out.AppendNull()
				continue
			}
			out.Data = changeCase(out.Data, a.Bytes(i), e.Op == dag.OpUpper)
			finishString(out)
		}
	case dag.OpConcat:
		vs := ev.evalArgs(b)
	rows:
		for i := 0; i < n; i++ {
			for _, v := range vs {
				if v.IsNull(i) {
					out.AppendNull()
					continue rows
				}
			}
			for _, v := range vs {
				out.Data = append(out.Data, v.Bytes(i)...)
			}
			finishString(out)
		}
	case dag.OpSubstring:
		ev.substring(b, n)
	case dag.OpLength:
		a := ev.args[0].eval(b)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				out.AppendNull()
			} else {
				putInt(out, int64(utf8.RuneCount(a.Bytes(i))))
			}
		}
	case dag.OpTrim:
		a := ev.args[0].eval(b)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				out.AppendNull()
			} else {
				out.AppendBytes(bytes.TrimSpace(a.Bytes(i)))
			}
		}
	case dag.OpAbs, dag.OpFloor, dag.OpCeil, dag.OpRound:
		ev.numFunc(b, n)
	case dag.OpDateTrunc:
		ev.dateTrunc(b, n)
	case dag.OpToStartOfInterval:
		a := ev.args[0].eval(b)
		iv := ev.args[1].eval(b)
		for i := 0; i < n; i++ {
			if a.IsNull(i) || iv.IsNull(i) || iv.I64[i] <= 0 {
				out.AppendNull()
				continue
			}
			ns := timeNanos(a, i)
			putTime(out, floorDiv(ns, iv.I64[i])*iv.I64[i])
		}
	case dag.OpJSONValue:
		ev.jsonValue(b, n)
	default:
		panic(fmt.Sprintf("runtime: unsupported expression op %v", e.Op))
	}
	return out
}

func (ev *evaluator) evalArgs(b *Batch) []*Vector {
	// The slice is reused: callers finish with it before the next eval.
	ev.vs = ev.vs[:0]
	for _, a := range ev.args {
		ev.vs = append(ev.vs, a.eval(b))
	}
	return ev.vs
}

// finishString closes a string row whose bytes were appended to Data.
func finishString(v *Vector) {
	if len(v.Nulls) > 0 {
		v.Nulls = append(v.Nulls, false)
	}
	v.Offs = append(v.Offs, uint32(len(v.Data)))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func boolVal(x int64) int64 {
	if x != 0 {
		return 1
	}
	return 0
}

// putInt appends x to out in out's storage class.
func putInt(out *Vector, x int64) {
	switch out.Type.Kind.Storage() {
	case dag.StoreUint64:
		out.AppendUint(uint64(x))
	case dag.StoreFloat64:
		out.AppendFloat(float64(x))
	default:
		out.AppendInt(x)
	}
}

// timeNanos returns row i of a time vector in nanoseconds (Date is days).
func timeNanos(v *Vector, i int) int64 {
	if v.Type.Kind == dag.Date {
		return v.I64[i] * nsPerDay
	}
	return v.I64[i]
}

// putTime appends ns to a time vector, converting to days for Date and
// truncating to the type's precision.
func putTime(out *Vector, ns int64) {
	out.AppendInt(toTimeKind(ns, out.Type))
}

func decScale(t dag.Type) int {
	if t.Kind == dag.Decimal {
		return int(t.Scale)
	}
	return 0
}

func (ev *evaluator) arith(a, b *Vector, n int) {
	out := &ev.out
	op := ev.e.Op
	an, bn := a.HasNulls(), b.HasNulls()
	switch out.Type.Kind.Storage() {
	case dag.StoreFloat64:
		ev.fa = floatsOf(a, n, ev.fa)
		ev.fb = floatsOf(b, n, ev.fb)
		af, bf := ev.fa[:n], ev.fb[:n]
		for i := 0; i < n; i++ {
			if (an && a.Nulls[i]) || (bn && b.Nulls[i]) {
				out.AppendNull()
				continue
			}
			x, y := af[i], bf[i]
			var r float64
			switch op {
			case dag.OpAdd:
				r = x + y
			case dag.OpSub:
				r = x - y
			case dag.OpMul:
				r = x * y
			case dag.OpDiv:
				r = x / y
			case dag.OpMod:
				r = math.Mod(x, y)
			}
			if out.Type.Kind == dag.Float32 {
				r = float64(float32(r))
			}
			out.AppendFloat(r)
		}
	case dag.StoreUint64:
		for i := 0; i < n; i++ {
			if (an && a.Nulls[i]) || (bn && b.Nulls[i]) {
				out.AppendNull()
				continue
			}
			if r, ok := intArith(op, a.U64[i], b.U64[i]); ok {
				out.AppendUint(r)
			} else {
				out.AppendNull()
			}
		}
	default:
		if out.Type.Kind == dag.Decimal || a.Type.Kind == dag.Decimal || b.Type.Kind == dag.Decimal {
			ev.decArith(a, b, n)
			return
		}
		for i := 0; i < n; i++ {
			if (an && a.Nulls[i]) || (bn && b.Nulls[i]) {
				out.AppendNull()
				continue
			}
			if r, ok := intArith(op, a.I64[i], b.I64[i]); ok {
				out.AppendInt(r)
			} else {
				out.AppendNull()
			}
		}
	}
}

// intArith applies an arithmetic operator to two integers; false means
// NULL (integer division or remainder by zero).
func intArith[T int64 | uint64](op dag.Op, x, y T) (T, bool) {
	switch op {
	case dag.OpAdd:
		return x + y, true
	case dag.OpSub:
		return x - y, true
	case dag.OpMul:
		return x * y, true
	case dag.OpDiv:
		if y == 0 {
			return 0, false
		}
		return x / y, true
	case dag.OpMod:
		if y == 0 {
			return 0, false
		}
		return x % y, true
	}
	return 0, false
}

// decArith does decimal arithmetic on unscaled values; a result that does
// not fit 18 digits is NULL rather than a wrong number.
func (ev *evaluator) decArith(a, b *Vector, n int) {
	out := &ev.out
	sa, sb, rs := decScale(a.Type), decScale(b.Type), decScale(out.Type)
	for i := 0; i < n; i++ {
		if a.IsNull(i) || b.IsNull(i) {
			out.AppendNull()
			continue
		}
		x, y := a.I64[i], b.I64[i]
		var r int64
		ok := true
		switch ev.e.Op {
		case dag.OpAdd, dag.OpSub, dag.OpMod:
			var ok1, ok2 bool
			s := max(sa, sb, rs)
			x, ok1 = rescale(x, sa, s)
			y, ok2 = rescale(y, sb, s)
			ok = ok1 && ok2
			switch ev.e.Op {
			case dag.OpAdd:
				r = x + y
			case dag.OpSub:
				r = x - y
			default:
				if y == 0 {
					ok = false
				} else {
					r = x % y
				}
			}
			if ok {
				r, ok = rescale(r, s, rs)
			}
		case dag.OpMul:
			p := x * y
			if x != 0 && p/x != y {
				ok = false
			}
			if ok {
				r, ok = rescale(p, sa+sb, rs)
			}
		case dag.OpDiv:
			if y == 0 {
				ok = false
				break
			}
			// x·10^(rs+sb−sa) / y has scale rs.
			sh := rs + sb - sa
			if sh >= 0 {
				x, ok = rescale(x, 0, sh)
				r = x / y
			} else {
				r, ok = rescale(x/y, -sh, 0)
			}
		}
		if !ok {
			out.AppendNull()
		} else {
			out.AppendInt(r)
		}
	}
}

// floatsOf returns the rows of a numeric vector as float64: the vector's
// own slice when it holds floats, else buf converted.
func floatsOf(v *Vector, n int, buf []float64) []float64 {
	if v.Type.Kind.Storage() == dag.StoreFloat64 {
		return v.F64[:n]
	}
	buf = resize(buf, n)
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		for i := range buf {
			buf[i] = float64(v.U64[i])
		}
	default:
		d := 1.0
		if v.Type.Kind == dag.Decimal {
			d = float64(pow10[v.Type.Scale])
		}
		for i := range buf {
			buf[i] = float64(v.I64[i]) / d
		}
	}
	return buf
}

func (ev *evaluator) neg(a *Vector, n int) {
	out := &ev.out
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			out.AppendNull()
			continue
		}
		switch out.Type.Kind.Storage() {
		case dag.StoreFloat64:
			out.AppendFloat(-a.F64[i])
		case dag.StoreUint64:
			out.AppendUint(-a.U64[i])
		default:
			out.AppendInt(-a.I64[i])
		}
	}
}

// cmpRows compares row i of a with row j of b (same storage class).
func cmpRows(a *Vector, i int, b *Vector, j int) int {
	switch a.Type.Kind.Storage() {
	case dag.StoreFloat64:
		x, y := a.F64[i], b.F64[j]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case dag.StoreUint64:
		x, y := a.U64[i], b.U64[j]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case dag.StoreBytes:
		return bytes.Compare(a.Bytes(i), b.Bytes(j))
	default:
		x, y := a.I64[i], b.I64[j]
		if a.Type.Kind == dag.Decimal && b.Type.Kind == dag.Decimal && a.Type.Scale != b.Type.Scale {
			s := max(int(a.Type.Scale), int(b.Type.Scale))
			x, _ = rescale(x, int(a.Type.Scale), s)
			y, _ = rescale(y, int(b.Type.Scale), s)
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
}

func (ev *evaluator) compare(a, b *Vector, n int) {
	out := &ev.out
	op := ev.e.Op
	an, bn := a.HasNulls(), b.HasNulls()
	st := a.Type.Kind.Storage()
	if st == dag.StoreInt64 && b.Type.Kind.Storage() == dag.StoreInt64 && a.Type.Kind != dag.Decimal && !an && !bn {
		// The common case, comparing plain integers or times, stays tight.
		x, y := a.I64[:n], b.I64[:n]
		for i := range x {
			var r bool
			switch op {
			case dag.OpEq:
				r = x[i] == y[i]
			case dag.OpNe:
				r = x[i] != y[i]
			case dag.OpLt:
				r = x[i] < y[i]
			case dag.OpLe:
				r = x[i] <= y[i]
			case dag.OpGt:
				r = x[i] > y[i]
			default:
				r = x[i] >= y[i]
			}
			out.I64 = append(out.I64, b2i(r))
		}
		return
	}
	for i := 0; i < n; i++ {
		if (an && a.Nulls[i]) || (bn && b.Nulls[i]) {
			out.AppendNull()
			continue
		}
		c := cmpRows(a, i, b, i)
		// NaN compares unequal to everything, as in IEEE.
		if st == dag.StoreFloat64 && (a.F64[i] != a.F64[i] || b.F64[i] != b.F64[i]) {
			out.AppendInt(b2i(op == dag.OpNe))
			continue
		}
		var r bool
		switch op {
		case dag.OpEq:
			r = c == 0
		case dag.OpNe:
			r = c != 0
		case dag.OpLt:
			r = c < 0
		case dag.OpLe:
			r = c <= 0
		case dag.OpGt:
			r = c > 0
		default:
			r = c >= 0
		}
		out.AppendInt(b2i(r))
	}
}

// logic implements AND/OR with three-valued logic: AND is false if any
// argument is false, else NULL if any is NULL; OR dually.
func (ev *evaluator) logic(b *Batch, n int) {
	out := &ev.out
	isAnd := ev.e.Op == dag.OpAnd
	vs := ev.evalArgs(b)
	for i := 0; i < n; i++ {
		null, decided := false, false
		for _, v := range vs {
			if v.IsNull(i) {
				null = true
				continue
			}
			if (v.I64[i] != 0) != isAnd {
				decided = true
				break
			}
		}
		switch {
		case decided:
			out.AppendInt(b2i(!isAnd))
		case null:
			out.AppendNull()
		default:
			out.AppendInt(b2i(isAnd))
		}
	}
}

// in: true if x equals some element; else NULL if x or an element is NULL;
// else false.
func (ev *evaluator) in(b *Batch, n int) {
	out := &ev.out
	vs := ev.evalArgs(b)
	x := vs[0]
	for i := 0; i < n; i++ {
		if x.IsNull(i) {
			out.AppendNull()
			continue
		}
		found, null := false, false
		for _, v := range vs[1:] {
			if v.IsNull(i) {
				null = true
				continue
			}
			if cmpRows(x, i, v, i) == 0 {
				found = true
				break
			}
		}
		switch {
		case found:
			out.AppendInt(1)
		case null:
			out.AppendNull()
		default:
			out.AppendInt(0)
		}
	}
}

func (ev *evaluator) likeEval(b *Batch, n int) {
	out := &ev.out
	s := ev.args[0].eval(b)
	var pv *Vector
	if ev.like == nil {
		pv = ev.args[1].eval(b)
	}
	for i := 0; i < n; i++ {
		if s.IsNull(i) || (pv != nil && pv.IsNull(i)) {
			out.AppendNull()
			continue
		}
		p := ev.like
		if p == nil {
			p = compileLike(pv.Bytes(i))
		}
		out.AppendInt(b2i(p.match(s.Bytes(i))))
	}
}

func (ev *evaluator) caseEval(b *Batch, n int) {
	out := &ev.out
	vs := ev.evalArgs(b)
	pairs := len(vs) / 2
	var els *Vector
	if ev.e.HasElse {
		els = vs[len(vs)-1]
	}
	for i := 0; i < n; i++ {
		taken := false
		for p := 0; p < pairs; p++ {
			c := vs[2*p]
			if !c.IsNull(i) && c.I64[i] != 0 {
				appendConverted(out, vs[2*p+1], i)
				taken = true
				break
			}
		}
		if !taken {
			if els != nil {
				appendConverted(out, els, i)
			} else {
				out.AppendNull()
			}
		}
	}
}

// appendConverted appends row i of v to out, casting when the planner left
// the types different (a NULL literal's Nothing type, for instance).
func appendConverted(out *Vector, v *Vector, i int) {
	if v.IsNull(i) || v.Type.Kind == dag.Null {
		out.AppendNull()
		return
	}
	if v.Type.Kind == out.Type.Kind && v.Type.Scale == out.Type.Scale && v.Type.Precision == out.Type.Precision {
		out.AppendFrom(v, i)
		return
	}
	castRow(v, i, out)
}

// substring follows ClickHouse: start counts characters from 1; a negative
// start counts from the end; start 0 or a negative length gives ”.
func (ev *evaluator) substring(b *Batch, n int) {
	out := &ev.out
	s := ev.args[0].eval(b)
	st := ev.args[1].eval(b)
	var ln *Vector
	if len(ev.args) > 2 {
		ln = ev.args[2].eval(b)
	}
	for i := 0; i < n; i++ {
		if s.IsNull(i) || st.IsNull(i) || (ln != nil && ln.IsNull(i)) {
			out.AppendNull()
			continue
		}
		str := s.Bytes(i)
		start := intArg(st, i)
		count := int64(math.MaxInt64)
		if ln != nil {
			count = intArg(ln, i)
		}
		chars := int64(utf8.RuneCount(str))
		var from int64
		switch {
		case start > 0:
			from = start - 1
		case start < 0:
			from = chars + start
			if from < 0 {
				if count != math.MaxInt64 {
					count += from
				}
				from = 0
			}
		default:
			count = 0
		}
		if count <= 0 || from >= chars {
			out.AppendBytes(nil)
			continue
		}
		bs := charOffset(str, from)
		be := len(str)
		if count < chars-from {
			be = bs + charOffset(str[bs:], count)
		}
		out.AppendBytes(str[bs:be])
	}
}

func intArg(v *Vector, i int) int64 {
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		if v.U64[i] > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(v.U64[i])
	case dag.StoreFloat64:
		return int64(v.F64[i])
	default:
		if v.Type.Kind == dag.Decimal {
			return v.I64[i] / pow10[v.Type.Scale]
		}
		return v.I64[i]
	}
}

// charOffset returns the byte offset of character n of s.
func charOffset(s []byte, n int64) int {
	off := 0
	for ; n > 0 && off < len(s); n-- {
		if s[off] < utf8.RuneSelf {
			off++
		} else {
			_, sz := utf8.DecodeRune(s[off:])
			off += sz
		}
	}
	return off
}

func changeCase(dst, s []byte, upper bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, sz := utf8.DecodeRune(s[i:])
		if upper {
			r = unicode.ToUpper(r)
		} else {
			r = unicode.ToLower(r)
		}
		dst = utf8.AppendRune(dst, r)
		i += sz
	}
	return dst
}

func (ev *evaluator) numFunc(b *Batch, n int) {
	out := &ev.out
	op := ev.e.Op
	a := ev.args[0].eval(b)
	var dv *Vector
	if op == dag.OpRound && len(ev.args) > 1 {
		dv = ev.args[1].eval(b)
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) || (dv != nil && dv.IsNull(i)) {
			out.AppendNull()
			continue
		}
		var digits int64
		if dv != nil {
			digits = intArg(dv, i)
		}
		switch a.Type.Kind.Storage() {
		case dag.StoreFloat64:
			x := a.F64[i]
			switch op {
			case dag.OpAbs:
				x = math.Abs(x)
			case dag.OpFloor:
				x = math.Floor(x)
			case dag.OpCeil:
				x = math.Ceil(x)
			case dag.OpRound:
				x = roundFloat(x, digits)
			}
			putFloatAs(out, x)
		case dag.StoreUint64:
			x := a.U64[i]
			if op == dag.OpRound && digits < 0 {
				if -digits > 18 {
					x = 0
				} else {
					m := uint64(pow10[-digits])
					x = (x + m/2) / m * m
				}
			}
			putUintAs(out, x)
		default:
			x := a.I64[i]
			s := decScale(a.Type)
			switch op {
			case dag.OpAbs:
				if x < 0 {
					x = -x
				}
			case dag.OpFloor, dag.OpCeil:
				if s > 0 {
					m := pow10[s]
					q := floorDiv(x, m)
					if op == dag.OpCeil && q*m != x {
						q++
					}
					x = q * m
				}
			case dag.OpRound:
				if drop := int64(s) - digits; drop > 0 {
					if drop > 18 {
						x = 0
					} else {
						x, _ = rescale(x, int(drop), 0)
						x *= pow10[drop]
					}
				}
			}
			if out.Type.Kind == dag.Decimal || a.Type.Kind == dag.Decimal {
				r, ok := rescale(x, s, decScale(out.Type))
				if storageOf(out.Type) == dag.StoreFloat64 {
					out.AppendFloat(float64(x) / float64(pow10[s]))
				} else if !ok {
					out.AppendNull()
				} else {
					out.AppendInt(r)
				}
			} else {
				putInt(out, x)
			}
		}
	}
}

func storageOf(t dag.Type) dag.Storage { return t.Kind.Storage() }

func roundFloat(x float64, digits int64) float64 {
	if digits == 0 {
		return math.Round(x)
	}
	if digits > 15 || digits < -308 {
		if digits > 15 {
			return x
		}
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func putFloatAs(out *Vector, x float64) {
	switch storageOf(out.Type) {
	case dag.StoreFloat64:
		if out.Type.Kind == dag.Float32 {
			x = float64(float32(x))
		}
		out.AppendFloat(x)
	case dag.StoreUint64:
		if x < 0 || x >= 1.8446744073709552e19 || x != x {
			out.AppendNull()
		} else {
			out.AppendUint(uint64(x))
		}
	default:
		if x >= 9.223372036854775e18 || x < -9.223372036854775e18 || x != x {
			out.AppendNull()
		} else {
			out.AppendInt(int64(x))
		}
	}
}

func putUintAs(out *Vector, x uint64) {
	switch storageOf(out.Type) {
	case dag.StoreUint64:
		out.AppendUint(x)
	case dag.StoreFloat64:
		out.AppendFloat(float64(x))
	default:
		out.AppendInt(int64(x))
	}
}

func (ev *evaluator) dateTrunc(b *Batch, n int) {
	out := &ev.out
	unit := ev.args[0].eval(b)
	t := ev.args[1].eval(b)
	for i := 0; i < n; i++ {
		if unit.IsNull(i) || t.IsNull(i) {
			out.AppendNull()
			continue
		}
		ns, ok := truncUnit(timeNanos(t, i), unit.Bytes(i))
		if !ok {
			out.AppendNull()
			continue
		}
		putTime(out, ns)
	}
}

// truncUnit truncates ns (UTC) to the start of a calendar unit; weeks
// start on Monday (ISO).
func truncUnit(ns int64, unit []byte) (int64, bool) {
	var u [8]byte
	if len(unit) > len(u) {
		return 0, false
	}
	for i, c := range unit {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		u[i] = c
	}
	name := string(u[:len(unit)])
	switch name {
	case "second":
		return floorDiv(ns, nsPerSec) * nsPerSec, true
	case "minute":
		return floorDiv(ns, 60*nsPerSec) * 60 * nsPerSec, true
	case "hour":
		return floorDiv(ns, 3600*nsPerSec) * 3600 * nsPerSec, true
	case "day":
		return floorDiv(ns, nsPerDay) * nsPerDay, true
	}
	days := floorDiv(ns, nsPerDay)
	y, m, _ := civilFromDays(days)
	switch name {
	case "week":
		// 1970-01-01 was a Thursday: Monday-based weeks start 3 days later.
		return (floorDiv(days-4, 7)*7 + 4) * nsPerDay, true
	case "month":
		return daysFromCivil(y, m, 1) * nsPerDay, true
	case "quarter":
		return daysFromCivil(y, (m-1)/3*3+1, 1) * nsPerDay, true
	case "year":
		return daysFromCivil(y, 1, 1) * nsPerDay, true
	}
	return 0, false
}

func (ev *evaluator) jsonValue(b *Batch, n int) {
	out := &ev.out
	doc := ev.args[0].eval(b)
	var pv *Vector
	if ev.path == nil {
		pv = ev.args[1].eval(b)
	}
	for i := 0; i < n; i++ {
		if doc.IsNull(i) || (pv != nil && pv.IsNull(i)) {
			out.AppendNull()
			continue
		}
		path := ev.path
		if pv != nil {
			path = jsonscan.ParsePath(pv.Str(i))
		}
		var ok bool
		ev.tmp, ok = jsonscan.ScalarAt(ev.tmp[:0], doc.Bytes(i), path)
		if !ok {
			out.AppendNull()
			continue
		}
		out.AppendBytes(ev.tmp)
	}
}

// likePattern is a compiled LIKE pattern: % any run, _ one character, \
// escapes the next character.
type likePattern struct {
	toks []likeTok
}

type likeTok struct {
	kind byte // 'l' literal rune, '_' one char, '%' any run
	r    rune
}

func compileLike(p []byte) *likePattern {
	lp := &likePattern{}
	for i := 0; i < len(p); {
		r, sz := utf8.DecodeRune(p[i:])
		i += sz
		switch r {
		case '\\':
			if i < len(p) {
				r, sz = utf8.DecodeRune(p[i:])
				i += sz
			}
			lp.toks = append(lp.toks, likeTok{kind: 'l', r: r})
		case '%':
			if len(lp.toks) == 0 || lp.toks[len(lp.toks)-1].kind != '%' {
				lp.toks = append(lp.toks, likeTok{kind: '%'})
			}
		case '_':
			lp.toks = append(lp.toks, likeTok{kind: '_'})
		default:
			lp.toks = append(lp.toks, likeTok{kind: 'l', r: r})
		}
	}
	return lp
}

// match is the classic wildcard walk that backtracks only to the last %,
// which is linear for patterns without several % runs competing.
func (lp *likePattern) match(s []byte) bool {
	toks := lp.toks
	si, ti := 0, 0
	starT, starS := -1, 0
	for si < len(s) {
		r, sz := rune(s[si]), 1
		if r >= utf8.RuneSelf {
			r, sz = utf8.DecodeRune(s[si:])
		}
		if ti < len(toks) {
			t := toks[ti]
			if t.kind == '%' {
				starT, starS = ti, si
				ti++
				continue
			}
			if t.kind == '_' || t.r == r {
				si += sz
				ti++
				continue
			}
		}
		if starT < 0 {
			return false
		}
		// Let the last % swallow one more character and retry.
		_, ssz := utf8.DecodeRune(s[starS:])
		starS += ssz
		si = starS
		ti = starT + 1
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks)
}
