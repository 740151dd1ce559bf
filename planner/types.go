package planner

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// typeNames maps every accepted spelling, lower case, to its kind. The sql
// package resolves aliases already; accepting them here too keeps hand-built
// ASTs and stored definitions working whatever spelling they carry.
var typeNames = map[string]dag.Kind{
	"string": dag.String, "varchar": dag.String, "text": dag.String, "char": dag.String,
	"int8": dag.Int8, "tinyint": dag.Int8,
	"int16": dag.Int16, "smallint": dag.Int16,
	"int32": dag.Int32, "int": dag.Int32, "integer": dag.Int32,
	"int64": dag.Int64, "bigint": dag.Int64,
	"uint8": dag.UInt8, "uint16": dag.UInt16, "uint32": dag.UInt32, "uint64": dag.UInt64,
	"float32": dag.Float32, "float": dag.Float32, "real": dag.Float32,
	"float64": dag.Float64, "double": dag.Float64,
	"bool": dag.Bool, "boolean": dag.Bool,
	"date":     dag.Date,
	"datetime": dag.DateTime, "datetime64": dag.DateTime64, "timestamp": dag.DateTime64,
	"decimal": dag.Decimal,
}

// canonicalTypes lists the canonical names, for hints.
const canonicalTypes = "String, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float32, Float64, Bool, Date, DateTime, DateTime64(p), Decimal(p, s)"

// resolveType converts a type as written into a nullable dag.Type.
func resolveType(tn sql.TypeName, errs *sql.ErrorList) (dag.Type, bool) {
	name := strings.ToLower(tn.Name)
	k, ok := typeNames[name]
	if !ok {
		errs.AddNode(tn, "types: "+canonicalTypes, "unknown type %s", tn.Name)
		return dag.Type{}, false
	}
	t := dag.Type{Kind: k, Nullable: true}
	switch k {
	case dag.DateTime64:
		t.Precision = 3
		if len(tn.Args) > 0 {
			p := tn.Args[0]
			if p < 0 || p > 9 || len(tn.Args) > 1 {
				errs.AddNode(tn, "DateTime64 takes one precision from 0 to 9, e.g. DateTime64(3)", "invalid DateTime64 precision %v", tn.Args)
				return dag.Type{}, false
			}
			t.Precision = uint8(p)
		}
	case dag.Decimal:
		t.Precision, t.Scale = 10, 0
		switch len(tn.Args) {
		case 0:
		case 1, 2:
			p, s := tn.Args[0], 0
			if len(tn.Args) == 2 {
				s = tn.Args[1]
			}
			if p < 1 || p > 18 {
				errs.AddNode(tn, "Sluice stores decimals in 64 bits: precision 1 to 18", "Decimal precision %d is not supported", p)
				return dag.Type{}, false
			}
			if s < 0 || s > p {
				errs.AddNode(tn, "the scale must be between 0 and the precision", "Decimal(%d, %d) has an invalid scale", p, s)
				return dag.Type{}, false
			}
			t.Precision, t.Scale = uint8(p), uint8(s)
		default:
			errs.AddNode(tn, "write Decimal(p, s)", "Decimal takes a precision and a scale")
			return dag.Type{}, false
		}
	default:
		if len(tn.Args) > 0 {
			errs.AddNode(tn, "", "type %s takes no parameters", tn.Name)
			return dag.Type{}, false
		}
	}
	return t, true
}

// sameType reports whether a and b are one type, ignoring nullability.
func sameType(a, b dag.Type) bool {
	return a.Kind == b.Kind && a.Precision == b.Precision && a.Scale == b.Scale
}

func signedOfSize(n int) dag.Kind {
	switch n {
	case 1:
		return dag.Int8
	case 2:
		return dag.Int16
	case 4:
		return dag.Int32
	}
	return dag.Int64
}

func unsignedOfSize(n int) dag.Kind {
	switch n {
	case 1:
		return dag.UInt8
	case 2:
		return dag.UInt16
	case 4:
		return dag.UInt32
	}
	return dag.UInt64
}

// superType returns the type that values of types a and b both convert to
// without loss, following ClickHouse's supertype rules: integers widen
// within their signedness, a signed and an unsigned integer meet in a
// signed type wider than the unsigned one (none exists for UInt64), an
// integer and a float meet in Float64, times meet in the finer time type.
// The result is nullable when either side is.
func superType(a, b dag.Type) (dag.Type, bool) {
	null := a.Nullable || b.Nullable
	if a.Kind == dag.Null {
		return b.WithNull(true), true
	}
	if b.Kind == dag.Null {
		return a.WithNull(true), true
	}
	ka, kb := a.Kind, b.Kind
	switch {
	case ka == kb:
		switch ka {
		case dag.DateTime64:
			return dag.Type{Kind: ka, Precision: max(a.Precision, b.Precision), Nullable: null}, true
		case dag.Decimal:
			s := max(a.Scale, b.Scale)
			p := min(18, max(a.Precision-a.Scale, b.Precision-b.Scale)+s)
			return dag.Type{Kind: ka, Precision: p, Scale: s, Nullable: null}, true
		}
		return a.WithNull(null), true
	case ka.IsInteger() && kb.IsInteger():
		if ka.IsSigned() == kb.IsSigned() {
			k := ka
			if kb.Bytes() > ka.Bytes() {
				k = kb
			}
			return dag.Type{Kind: k, Nullable: null}, true
		}
		s, u := ka, kb
		if !s.IsSigned() {
			s, u = u, s
		}
		if u == dag.UInt64 {
			return dag.Type{}, false
		}
		return dag.Type{Kind: signedOfSize(max(s.Bytes(), 2*u.Bytes())), Nullable: null}, true
	case isFloat(ka) && isFloat(kb):
		return dag.Type{Kind: dag.Float64, Nullable: null}, true
	case (isFloat(ka) && kb.IsNumeric()) || (isFloat(kb) && ka.IsNumeric()):
		return dag.Type{Kind: dag.Float64, Nullable: null}, true
	case ka == dag.Decimal && kb.IsInteger():
		return dag.Type{Kind: dag.Decimal, Precision: 18, Scale: a.Scale, Nullable: null}, true
	case kb == dag.Decimal && ka.IsInteger():
		return dag.Type{Kind: dag.Decimal, Precision: 18, Scale: b.Scale, Nullable: null}, true
	case ka.IsTime() && kb.IsTime():
		switch {
		case ka == dag.DateTime64:
			return a.WithNull(null), true
		case kb == dag.DateTime64:
			return b.WithNull(null), true
		}
		return dag.Type{Kind: dag.DateTime, Nullable: null}, true
	}
	return dag.Type{}, false
}

func isFloat(k dag.Kind) bool { return k == dag.Float32 || k == dag.Float64 }

// assignable reports whether a value of type from may be written to a
// column of type to without an explicit CAST: the same type, or a widening
// that superType would choose.
func assignable(from, to dag.Type) bool {
	if from.Kind == dag.Null {
		return true
	}
	if sameType(from, to) {
		return true
	}
	s, ok := superType(from.WithNull(false), to.WithNull(false))
	return ok && sameType(s, to)
}

// intLiteralType is the smallest integer type holding v, as ClickHouse
// types integer literals.
func intLiteralType(v uint64) dag.Kind {
	switch {
	case v <= math.MaxUint8:
		return dag.UInt8
	case v <= math.MaxUint16:
		return dag.UInt16
	case v <= math.MaxUint32:
		return dag.UInt32
	}
	return dag.UInt64
}

func negLiteralType(v int64) dag.Kind {
	switch {
	case v >= math.MinInt8:
		return dag.Int8
	case v >= math.MinInt16:
		return dag.Int16
	case v >= math.MinInt32:
		return dag.Int32
	}
	return dag.Int64
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// convertConst converts the constant v of type from to type to at plan
// time, so that the runtime never converts constants per row. It fails when
// the value does not fit or, for strings, does not parse.
func convertConst(v dag.Value, from, to dag.Type) (dag.Value, error) {
	if v.Null || from.Kind == dag.Null {
		return dag.Value{Null: true}, nil
	}
	if sameType(from, to) {
		return v, nil
	}
	switch {
	case from.Kind == dag.String && to.Kind.IsTime():
		return parseTimeConst(v.S, to)
	case from.Kind.IsInteger() && to.Kind.IsInteger():
		if from.Kind.IsSigned() {
			return intToKind(v.I, to.Kind)
		}
		if v.U > math.MaxInt64 {
			if to.Kind == dag.UInt64 {
				return dag.Value{U: v.U}, nil
			}
			return dag.Value{}, fmt.Errorf("%d does not fit %s", v.U, to)
		}
		return intToKind(int64(v.U), to.Kind)
	case from.Kind.IsInteger() && isFloat(to.Kind):
		if from.Kind.IsSigned() {
			return dag.Value{F: float64(v.I)}, nil
		}
		return dag.Value{F: float64(v.U)}, nil
	case isFloat(from.Kind) && isFloat(to.Kind):
		return dag.Value{F: v.F}, nil
	case from.Kind.IsInteger() && to.Kind == dag.Decimal:
		n := new(big.Int)
		if from.Kind.IsSigned() {
			n.SetInt64(v.I)
		} else {
			n.SetUint64(v.U)
		}
		n.Mul(n, big.NewInt(pow10[to.Scale]))
		if !n.IsInt64() || abs64(n.Int64()) >= pow10[to.Precision] {
			return dag.Value{}, fmt.Errorf("%s does not fit %s", n, to)
		}
		return dag.Value{I: n.Int64()}, nil
	case isFloat(from.Kind) && to.Kind == dag.Decimal:
		f := v.F * float64(pow10[to.Scale])
		if f != math.Trunc(f) || math.Abs(f) >= float64(pow10[to.Precision]) {
			return dag.Value{}, fmt.Errorf("%v does not fit %s exactly", v.F, to)
		}
		return dag.Value{I: int64(f)}, nil
	case from.Kind == dag.Decimal && to.Kind == dag.Decimal && to.Scale >= from.Scale:
		n := new(big.Int).Mul(big.NewInt(v.I), big.NewInt(pow10[to.Scale-from.Scale]))
		if !n.IsInt64() || abs64(n.Int64()) >= pow10[to.Precision] {
			return dag.Value{}, fmt.Errorf("value does not fit %s", to)
		}
		return dag.Value{I: n.Int64()}, nil
	case from.Kind == dag.Decimal && isFloat(to.Kind):
		return dag.Value{F: float64(v.I) / float64(pow10[from.Scale])}, nil
	case from.Kind.IsTime() && to.Kind.IsTime():
		if from.Kind == dag.Date {
			return dag.Value{I: v.I * int64(24*time.Hour)}, nil
		}
		if to.Kind == dag.Date {
			return dag.Value{I: v.I / int64(24*time.Hour)}, nil
		}
		return v, nil
	}
	return dag.Value{}, fmt.Errorf("cannot convert %s to %s", from, to)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func intToKind(v int64, k dag.Kind) (dag.Value, error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch k {
	case dag.Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case dag.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case dag.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case dag.UInt8:
		lo, hi = 0, math.MaxUint8
	case dag.UInt16:
		lo, hi = 0, math.MaxUint16
	case dag.UInt32:
		lo, hi = 0, math.MaxUint32
	case dag.UInt64:
		lo = 0
	}
	if v < lo || v > hi {
		return dag.Value{}, fmt.Errorf("%d does not fit %s", v, k)
	}
	if k.IsSigned() {
		return dag.Value{I: v}, nil
	}
	return dag.Value{U: uint64(v)}, nil
}

// timeLayouts are the string forms a time literal may take, as SQL.md
// allows for JSON input: RFC 3339, or a date and time that is UTC when no
// zone is given.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTimeConst parses a string literal compared with (or assigned to) a
// time, so that the comparison runs on integers.
func parseTimeConst(s string, to dag.Type) (dag.Value, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if to.Kind == dag.Date {
			return dag.Value{I: t.Unix() / 86400}, nil
		}
		ns := t.UnixNano()
		switch to.Kind {
		case dag.DateTime:
			ns -= ns % int64(time.Second)
		case dag.DateTime64:
			unit := int64(pow10[9-min(9, int(to.Precision))])
			ns -= ns % unit
		}
		return dag.Value{I: ns}, nil
	}
	return dag.Value{}, fmt.Errorf("%q is not a time: write 'YYYY-MM-DD hh:mm:ss[.fff]' or RFC 3339", s)
}

// parseIntLiteral parses the digits of an integer literal.
func parseIntLiteral(raw string) (uint64, error) {
	return strconv.ParseUint(raw, 10, 64)
}
