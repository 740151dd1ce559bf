// Package dag is the contract between planning and execution: a pipeline or
// a preview lowered to a graph of operator nodes, with every name resolved to
// a column index and every expression typed. It is pure data. The runtime
// imports this package and nothing else of the planner, so it never sees SQL.
package dag

import (
	"fmt"
	"math"
	"strings"
)

// Kind is the logical type of a value, named as ClickHouse names it.
type Kind uint8

// The kinds. The zero Kind is Invalid so that a forgotten type is caught.
const (
	Invalid Kind = iota
	String
	Int8
	Int16
	Int32
	Int64
	UInt8
	UInt16
	UInt32
	UInt64
	Float32
	Float64
	Bool
	Date       // days since 1970-01-01, stored as int64
	DateTime   // nanoseconds since the Unix epoch, stored as int64; second precision
	DateTime64 // nanoseconds since the Unix epoch, stored as int64; Type.Precision digits
	Decimal    // unscaled int64; Type.Precision and Type.Scale (precision ≤ 18)
	Null       // the type of the NULL literal before it is coerced
)

var kindNames = [...]string{
	Invalid: "Invalid", String: "String",
	Int8: "Int8", Int16: "Int16", Int32: "Int32", Int64: "Int64",
	UInt8: "UInt8", UInt16: "UInt16", UInt32: "UInt32", UInt64: "UInt64",
	Float32: "Float32", Float64: "Float64", Bool: "Bool",
	Date: "Date", DateTime: "DateTime", DateTime64: "DateTime64",
	Decimal: "Decimal", Null: "Nothing",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Storage says which slice of a runtime vector holds values of a kind.
type Storage uint8

// The storage classes.
const (
	StoreInt64   Storage = iota // signed integers, Bool, Date, DateTime, DateTime64, Decimal
	StoreUint64                 // unsigned integers
	StoreFloat64                // Float32, Float64
	StoreBytes                  // String
)

// Storage returns the storage class of k.
func (k Kind) Storage() Storage {
	switch k {
	case UInt8, UInt16, UInt32, UInt64:
		return StoreUint64
	case Float32, Float64:
		return StoreFloat64
	case String:
		return StoreBytes
	default:
		return StoreInt64
	}
}

// IsInteger reports whether k is a signed or unsigned integer kind.
func (k Kind) IsInteger() bool { return k >= Int8 && k <= UInt64 }

// Bytes is the size of an integer kind's values: 1, 2, 4 or 8; 8 for
// every other kind.
func (k Kind) Bytes() int {
	switch k {
	case Int8, UInt8:
		return 1
	case Int16, UInt16:
		return 2
	case Int32, UInt32:
		return 4
	}
	return 8
}

// SignedRange returns the smallest and largest value of a signed integer
// kind (Int64's for every other kind).
func (k Kind) SignedRange() (lo, hi int64) {
	bits := 8 * k.Bytes()
	hi = int64(uint64(1)<<(bits-1) - 1)
	return -hi - 1, hi
}

// UnsignedMax returns the largest value of an unsigned integer kind
// (UInt64's for every other kind).
func (k Kind) UnsignedMax() uint64 { return math.MaxUint64 >> (64 - 8*k.Bytes()) }

// IsSigned reports whether k is a signed integer kind.
func (k Kind) IsSigned() bool { return k >= Int8 && k <= Int64 }

// IsNumeric reports whether k is an integer, float or decimal kind.
func (k Kind) IsNumeric() bool { return k.IsInteger() || k == Float32 || k == Float64 || k == Decimal }

// IsTime reports whether k is Date, DateTime or DateTime64.
func (k Kind) IsTime() bool { return k == Date || k == DateTime || k == DateTime64 }

// Type is a Kind with its parameters and nullability.
type Type struct {
	Kind      Kind
	Precision uint8 // DateTime64(p): digits of sub-second precision; Decimal(p, s): total digits
	Scale     uint8 // Decimal(p, s): digits after the point
	Nullable  bool
}

// T returns the non-nullable type of kind k with no parameters.
func T(k Kind) Type { return Type{Kind: k} }

// Timestamp is the type TIMESTAMP stands for: DateTime64(3).
var Timestamp = Type{Kind: DateTime64, Precision: 3}

// WithNull returns t with Nullable set to n.
func (t Type) WithNull(n bool) Type { t.Nullable = n; return t }

// String renders t in ClickHouse syntax, e.g. Nullable(DateTime64(3)).
func (t Type) String() string {
	s := t.Base()
	if t.Nullable {
		return "Nullable(" + s + ")"
	}
	return s
}

// Base renders t without Nullable.
func (t Type) Base() string {
	switch t.Kind {
	case DateTime64:
		return fmt.Sprintf("DateTime64(%d)", t.Precision)
	case Decimal:
		return fmt.Sprintf("Decimal(%d, %d)", t.Precision, t.Scale)
	}
	return t.Kind.String()
}

// Column is one column of a schema.
type Column struct {
	Name string
	Type Type
	// Path is the JSON path a source column reads ("$.a.b" → ["a", "b"]);
	// empty for derived columns. A source column without PATH reads [Name].
	Path []string `json:",omitempty"`
	// Pseudo marks the Kafka pseudo-columns (_key, _topic, _partition,
	// _offset, _timestamp), which come from the record, not its value.
	Pseudo bool `json:",omitempty"`
}

// Schema is an ordered list of columns.
type Schema []Column

// Index returns the position of the column named name, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// Names returns the column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s))
	for i, c := range s {
		out[i] = c.Name
	}
	return out
}

func (s Schema) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
	}
	b.WriteByte(')')
	return b.String()
}

// Pseudo-column names of Kafka sources and their types.
var PseudoColumns = Schema{
	{Name: "_key", Type: T(String).WithNull(true), Pseudo: true},
	{Name: "_topic", Type: T(String), Pseudo: true},
	{Name: "_partition", Type: T(Int32), Pseudo: true},
	{Name: "_offset", Type: T(Int64), Pseudo: true},
	{Name: "_timestamp", Type: Timestamp, Pseudo: true},
}
