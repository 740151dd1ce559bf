package dag

// Op is the operation of an expression node.
type Op uint8

// The operations. Arguments are in Expr.Args in the order given.
const (
	OpInvalid Op = iota
	OpColumn     // the input column at Expr.Col
	OpConst      // Expr.Value

	// Arithmetic: two arguments of one numeric type (the planner inserts
	// casts), except Neg with one. Division of integers is integer division
	// by zero yielding NULL; Div on floats follows IEEE.
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpNeg

	// Comparison: two arguments of one comparable type; result Bool.
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe

	// Logic with SQL three-valued semantics.
	OpAnd // two or more Bool arguments
	OpOr  // two or more Bool arguments
	OpNot
	OpIsNull
	OpIsNotNull

	OpIn       // Args[0] IN (Args[1:]...); all of one type
	OpLike     // Args[0] LIKE Args[1] (both String); % and _ wildcards, \ escapes
	OpCase     // WHEN/THEN pairs then an optional ELSE: [c1, r1, c2, r2, ..., else?]; Expr.HasElse
	OpCoalesce // first non-NULL argument
	OpCast     // Args[0] converted to Expr.Type

	// Functions over strings.
	OpLower
	OpUpper
	OpConcat    // any number of String arguments; NULL if any is NULL
	OpSubstring // (s, start[, length]); start counts characters from 1
	OpLength    // characters
	OpTrim      // leading and trailing white space

	// Numeric functions.
	OpAbs
	OpRound // (x[, digits])
	OpFloor
	OpCeil

	// Time functions.
	OpDateTrunc         // (unit String const, t): unit is second|minute|hour|day|week|month|quarter|year
	OpToStartOfInterval // (t, interval Int64 nanoseconds const)

	// JSON.
	OpJSONValue // (json String, path String const): the scalar at the path as a String, NULL if absent
)

var opNames = [...]string{
	OpInvalid: "invalid", OpColumn: "column", OpConst: "const",
	OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%", OpNeg: "neg",
	OpEq: "=", OpNe: "<>", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpAnd: "AND", OpOr: "OR", OpNot: "NOT", OpIsNull: "IS NULL", OpIsNotNull: "IS NOT NULL",
	OpIn: "IN", OpLike: "LIKE", OpCase: "CASE", OpCoalesce: "COALESCE", OpCast: "CAST",
	OpLower: "LOWER", OpUpper: "UPPER", OpConcat: "CONCAT", OpSubstring: "SUBSTRING",
	OpLength: "LENGTH", OpTrim: "TRIM", OpAbs: "ABS", OpRound: "ROUND", OpFloor: "FLOOR",
	OpCeil: "CEIL", OpDateTrunc: "DATE_TRUNC", OpToStartOfInterval: "toStartOfInterval",
	OpJSONValue: "JSON_VALUE",
}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

// Value is a constant. Which field is meaningful follows Type.Kind.Storage();
// Null marks SQL NULL.
type Value struct {
	Null bool    `json:",omitempty"`
	I    int64   `json:",omitempty"` // StoreInt64 kinds (Bool is 0/1; times in nanoseconds; Decimal unscaled)
	U    uint64  `json:",omitempty"` // StoreUint64 kinds
	F    float64 `json:",omitempty"` // StoreFloat64 kinds
	S    string  `json:",omitempty"` // String
}

// Expr is a typed expression over the columns of one input schema.
type Expr struct {
	Op      Op
	Type    Type    // the result type
	Col     int     `json:",omitempty"` // OpColumn: index into the input schema
	Value   Value   `json:",omitempty"` // OpConst
	Args    []*Expr `json:",omitempty"`
	HasElse bool    `json:",omitempty"` // OpCase
	// Text is the expression as the user wrote it (canonical form), used by
	// EXPLAIN and error messages at run time.
	Text string `json:",omitempty"`
}

// ColRef returns a reference to input column i.
func ColRef(i int, t Type, name string) *Expr {
	return &Expr{Op: OpColumn, Col: i, Type: t, Text: name}
}
