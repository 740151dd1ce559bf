package planner

// Function describes one function of Sluice SQL for users: completion in
// the editor, GET /api/v1/functions and "did you mean" hints read it.
// Binding (funcs.go) is where each is implemented; a test checks that
// every entry binds as its Example shows.
type Function struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"` // scalar, aggregate or window
	Signature string `json:"signature"`
	Returns   string `json:"returns"`
	Doc       string `json:"doc"`
	// Example is a use of the function in a SELECT over the source
	// orders(order_id String, amount Float64, status String, created_at
	// DateTime64(3) time attribute, meta String): a select item for
	// scalars and aggregates, the GROUP BY for windows.
	Example string `json:"-"`
}

// The function kinds.
const (
	FuncScalar    = "scalar"
	FuncAggregate = "aggregate"
	FuncWindow    = "window"
)

var functions = []Function{
	{"COUNT", FuncAggregate, "COUNT(*) | COUNT(x) | COUNT(DISTINCT x)", "UInt64", "Rows of the window, non-NULL values of x, or distinct values of x.", "COUNT(DISTINCT status)"},
	{"SUM", FuncAggregate, "SUM(x)", "Int64, UInt64, Float64 or the Decimal type of x", "Sum of the non-NULL values of x in the window.", "SUM(amount)"},
	{"AVG", FuncAggregate, "AVG(x)", "Float64", "Mean of the non-NULL values of x in the window.", "AVG(amount)"},
	{"MIN", FuncAggregate, "MIN(x)", "type of x", "Smallest value of x in the window.", "MIN(created_at)"},
	{"MAX", FuncAggregate, "MAX(x)", "type of x", "Largest value of x in the window.", "MAX(status)"},
	{"TUMBLE", FuncWindow, "TUMBLE(time_col, INTERVAL size unit)", "window_start, window_end", "GROUP BY fixed windows of one size on the time attribute.", "TUMBLE(created_at, INTERVAL 1 MINUTE)"},
	{"HOP", FuncWindow, "HOP(time_col, INTERVAL slide unit, INTERVAL size unit)", "window_start, window_end", "GROUP BY windows of size starting every slide, on the time attribute.", "HOP(created_at, INTERVAL 1 MINUTE, INTERVAL 5 MINUTE)"},
	{"COALESCE", FuncScalar, "COALESCE(x, y, …)", "type of x", "The first argument that is not NULL.", "COALESCE(amount, 0)"},
	{"LOWER", FuncScalar, "LOWER(s)", "String", "s in lower case.", "LOWER(status)"},
	{"UPPER", FuncScalar, "UPPER(s)", "String", "s in upper case.", "UPPER(status)"},
	{"TRIM", FuncScalar, "TRIM(s)", "String", "s without white space at both ends.", "TRIM(status)"},
	{"LENGTH", FuncScalar, "LENGTH(s)", "UInt64", "Length of s in characters.", "LENGTH(status)"},
	{"CHAR_LENGTH", FuncScalar, "CHAR_LENGTH(s)", "UInt64", "Same as LENGTH.", "CHAR_LENGTH(status)"},
	{"CONCAT", FuncScalar, "CONCAT(x, y, …)", "String", "The arguments joined as strings; a || b is the same.", "CONCAT(order_id, '-', amount)"},
	{"SUBSTRING", FuncScalar, "SUBSTRING(s, start[, length])", "String", "Part of s from start (counted from 1), length characters long.", "SUBSTRING(status, 1, 3)"},
	{"SUBSTR", FuncScalar, "SUBSTR(s, start[, length])", "String", "Same as SUBSTRING.", "SUBSTR(status, 2)"},
	{"ABS", FuncScalar, "ABS(x)", "type of x", "Absolute value.", "ABS(amount)"},
	{"ROUND", FuncScalar, "ROUND(x[, digits])", "type of x", "x rounded to digits decimal places (0 by default).", "ROUND(amount, 2)"},
	{"FLOOR", FuncScalar, "FLOOR(x)", "type of x", "Largest whole number not above x.", "FLOOR(amount)"},
	{"CEIL", FuncScalar, "CEIL(x)", "type of x", "Smallest whole number not below x.", "CEIL(amount)"},
	{"CEILING", FuncScalar, "CEILING(x)", "type of x", "Same as CEIL.", "CEILING(amount)"},
	{"DATE_TRUNC", FuncScalar, "DATE_TRUNC('unit', t)", "type of t", "t truncated to the unit: second, minute, hour, day, week, month, quarter or year.", "DATE_TRUNC('hour', created_at)"},
	{"toStartOfInterval", FuncScalar, "toStartOfInterval(t, INTERVAL n unit)", "type of t", "Start of the n-unit interval that holds t.", "toStartOfInterval(created_at, INTERVAL 5 MINUTE)"},
	{"JSON_VALUE", FuncScalar, "JSON_VALUE(s, '$.path')", "Nullable(String)", "The value at path in the JSON text s, NULL when it is missing.", "JSON_VALUE(meta, '$.a.b')"},
}

// Functions returns the functions of Sluice SQL: aggregates, the TUMBLE
// and HOP windows of GROUP BY, then scalar functions, each with its
// signature, result type and a one-line description.
func Functions() []Function {
	return append([]Function(nil), functions...)
}

// knownFuncs names the functions, for "did you mean".
var knownFuncs = func() []string {
	out := make([]string, len(functions))
	for i, f := range functions {
		out[i] = f.Name
	}
	return out
}()
