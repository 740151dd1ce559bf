package clickhouse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-sql/sluice/planner/dag"
)

// base is a ClickHouse column type family the sink can write.
type base uint8

const (
	chUnknown base = iota
	chString
	chInt8
	chInt16
	chInt32
	chInt64
	chUInt8
	chUInt16
	chUInt32
	chUInt64
	chFloat32
	chFloat64
	chBool
	chDate
	chDate32
	chDateTime
	chDateTime64
	chDecimal
)

// chType is a parsed ClickHouse column type.
type chType struct {
	text     string // as the server spells it, for messages
	base     base
	nullable bool
	scale    int // Decimal scale, DateTime64 precision
	prec     int // Decimal precision
}

var bases = map[string]base{
	"String": chString, "FixedString": chUnknown,
	"Int8": chInt8, "Int16": chInt16, "Int32": chInt32, "Int64": chInt64,
	"UInt8": chUInt8, "UInt16": chUInt16, "UInt32": chUInt32, "UInt64": chUInt64,
	"Float32": chFloat32, "Float64": chFloat64, "Bool": chBool,
	"Date": chDate, "Date32": chDate32, "DateTime": chDateTime, "DateTime64": chDateTime64,
	"Decimal": chDecimal, "Decimal32": chDecimal, "Decimal64": chDecimal, "Decimal128": chDecimal,
}

// parseType reads a type as system.columns reports it. Wrappers that do
// not change how values are sent (LowCardinality) are looked through.
func parseType(text string) chType {
	t := chType{text: text}
	s := strings.TrimSpace(text)
	for {
		if inner, ok := unwrap(s, "Nullable"); ok {
			t.nullable, s = true, inner
		} else if inner, ok := unwrap(s, "LowCardinality"); ok {
			s = inner
		} else {
			break
		}
	}
	name, args := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		name, args = s[:i], s[i+1:len(s)-1]
	}
	t.base = bases[name]
	var nums []int
	for _, a := range strings.Split(args, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(a)); err == nil {
			nums = append(nums, n)
		}
	}
	switch name {
	case "DateTime64":
		if len(nums) > 0 {
			t.scale = nums[0]
		}
	case "Decimal":
		if len(nums) == 2 {
			t.prec, t.scale = nums[0], nums[1]
		}
	case "Decimal32", "Decimal64", "Decimal128":
		t.prec = map[string]int{"Decimal32": 9, "Decimal64": 18, "Decimal128": 38}[name]
		if len(nums) == 1 {
			t.scale = nums[0]
		}
	}
	return t
}

func unwrap(s, wrapper string) (string, bool) {
	if strings.HasPrefix(s, wrapper+"(") && strings.HasSuffix(s, ")") {
		return s[len(wrapper)+1 : len(s)-1], true
	}
	return s, false
}

// fits reports whether every value of src can be written to a column of
// type dst without loss (beyond DateTime64's sub-seconds going to a
// DateTime column, which is what create_table does on servers without
// DateTime64). NULL fits a column that is not Nullable: it is written as
// the column's default value, as ClickHouse itself does for text formats.
func fits(src dag.Type, dst chType) bool {
	switch src.Kind {
	case dag.String:
		return dst.base == chString
	case dag.Int8, dag.Int16, dag.Int32, dag.Int64:
		return signedWidth(dst.base) >= 8*src.Kind.Bytes()
	case dag.UInt8, dag.UInt16, dag.UInt32, dag.UInt64:
		w := 8 * src.Kind.Bytes()
		return unsignedWidth(dst.base) >= w || signedWidth(dst.base) > w
	case dag.Float32:
		return dst.base == chFloat32 || dst.base == chFloat64
	case dag.Float64:
		return dst.base == chFloat64
	case dag.Bool:
		return dst.base == chBool || dst.base == chUInt8
	case dag.Date:
		return dst.base == chDate || dst.base == chDate32
	case dag.DateTime, dag.DateTime64:
		return dst.base == chDateTime || dst.base == chDateTime64
	case dag.Decimal:
		return dst.base == chDecimal && dst.scale == int(src.Scale) && dst.prec >= int(src.Precision)
	}
	return false
}

func signedWidth(b base) int {
	switch b {
	case chInt8:
		return 8
	case chInt16:
		return 16
	case chInt32:
		return 32
	case chInt64:
		return 64
	}
	return 0
}

func unsignedWidth(b base) int {
	switch b {
	case chUInt8:
		return 8
	case chUInt16:
		return 16
	case chUInt32:
		return 32
	case chUInt64:
		return 64
	}
	return 0
}

// features are what the connected server supports, decided at open.
type features struct {
	version      string
	revision     uint64
	dateTime64   bool // DateTime64 columns (20.1)
	boolType     bool // Bool columns (21.12); UInt8 before
	dedupToken   bool // the insert_deduplication_token setting (22.2)
	nonReplDedup bool // MergeTree's non_replicated_deduplication_window (21.5)
}

func atLeast(major, minor, wantMajor, wantMinor uint64) bool {
	return major > wantMajor || major == wantMajor && minor >= wantMinor
}

// columnDDL renders t as a column type for CREATE TABLE on a server with f.
func columnDDL(t dag.Type, f features) string {
	var s string
	switch t.Kind {
	case dag.DateTime64:
		if f.dateTime64 {
			s = fmt.Sprintf("DateTime64(%d)", t.Precision)
		} else {
			s = "DateTime"
		}
	case dag.Bool:
		if f.boolType {
			s = "Bool"
		} else {
			s = "UInt8"
		}
	case dag.Decimal:
		s = fmt.Sprintf("Decimal(%d, %d)", t.Precision, t.Scale)
	default:
		s = t.Kind.String()
	}
	if t.Nullable {
		return "Nullable(" + s + ")"
	}
	return s
}

// quoteIdent quotes a ClickHouse identifier, so that any table or column
// name, however hostile, stays one name. Inside the backquotes every ASCII
// byte other than a letter, a digit, '_', '.', '$' or a space is written as
// a \xHH escape, which the server reads back as that byte: the quoted name
// then holds no quote, backslash, parenthesis, comma or comment marker, so
// clickhouse-go's reading of an INSERT (a regular expression, not a SQL
// parser) sees one table name where the server does. Other bytes, UTF-8
// included, are written as they are.
func quoteIdent(s string) string {
	var b strings.Builder
	b.WriteByte('`')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainIdentByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02X", c)
		}
	}
	b.WriteByte('`')
	return b.String()
}

// plainIdentByte reports whether quoteIdent writes c as it is.
func plainIdentByte(c byte) bool {
	return c >= 0x80 || c == '_' || c == '.' || c == '$' || c == ' ' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// quoteString quotes a ClickHouse string literal.
func quoteString(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "'", "\\'")
	return "'" + r.Replace(s) + "'"
}
