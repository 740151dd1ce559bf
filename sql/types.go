package sql

import (
	"fmt"
	"strconv"
	"strings"
)

// typeArgs says what a type name takes in parentheses.
type typeArgs uint8

const (
	argsNone      typeArgs = iota
	argsLength             // VARCHAR(255): accepted and ignored, String has no length
	argsPrecision          // DateTime64(p), TIMESTAMP(p): optional, 3 when absent
	argsDecimal            // Decimal(p[, s])
)

type typeSpec struct {
	canon string
	args  typeArgs
}

// typeNames maps every accepted spelling, upper-cased, to its canonical
// ClickHouse name (SQL.md, "Types").
var typeNames = map[string]typeSpec{
	"STRING": {"String", argsNone}, "VARCHAR": {"String", argsLength},
	"TEXT": {"String", argsNone}, "CHAR": {"String", argsLength},
	"INT8": {"Int8", argsNone}, "INT16": {"Int16", argsNone},
	"INT32": {"Int32", argsNone}, "INT64": {"Int64", argsNone},
	"UINT8": {"UInt8", argsNone}, "UINT16": {"UInt16", argsNone},
	"UINT32": {"UInt32", argsNone}, "UINT64": {"UInt64", argsNone},
	"TINYINT": {"Int8", argsNone}, "SMALLINT": {"Int16", argsNone},
	"INT": {"Int32", argsNone}, "INTEGER": {"Int32", argsNone},
	"BIGINT":  {"Int64", argsNone},
	"FLOAT32": {"Float32", argsNone}, "FLOAT64": {"Float64", argsNone},
	"FLOAT": {"Float32", argsNone}, "REAL": {"Float32", argsNone},
	"DOUBLE": {"Float64", argsNone},
	"BOOL":   {"Bool", argsNone}, "BOOLEAN": {"Bool", argsNone},
	"DATETIME": {"DateTime", argsNone}, "DATETIME64": {"DateTime64", argsPrecision},
	"TIMESTAMP": {"DateTime64", argsPrecision},
	"DATE":      {"Date", argsNone},
	"DECIMAL":   {"Decimal", argsDecimal},
}

// typeSpellings lists the names for "did you mean" hints, in the case
// users see in SQL.md.
var typeSpellings = []string{
	"String", "VARCHAR", "TEXT", "CHAR",
	"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
	"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT",
	"Float32", "Float64", "FLOAT", "DOUBLE", "REAL",
	"Bool", "BOOLEAN", "DateTime", "DateTime64", "TIMESTAMP", "Date", "Decimal",
}

const typeList = "String, Int8…Int64, UInt8…UInt64, Float32, Float64, Bool, Date, DateTime, DateTime64(p), Decimal(p, s) and their SQL aliases"

// typeName parses a column or CAST type at p.i. Unknown names are reported
// and parsing goes on, so one misspelt type does not hide the next error.
func (p *stmtParser) typeName() TypeName {
	t := p.peek()
	if t.kind != tkIdent && t.kind != tkQIdent {
		p.fail(t.off, "types are "+typeList, "expected a type, found %s", p.describe(t))
	}
	p.i++
	word := p.text(t)
	if t.kind == tkQIdent {
		word = unquote(word)
	}
	tn := TypeName{P: p.pos(t.off), Written: word}
	upper := strings.ToUpper(word)
	if upper == "NULLABLE" {
		p.expectPunct("(", "after Nullable")
		inner := p.typeName()
		p.expectPunct(")", "after the type inside Nullable(…)")
		inner.P = tn.P
		return inner
	}
	spec, ok := typeNames[upper]
	if !ok {
		hint := "types are " + typeList
		s := Suggest(word, typeSpellings)
		if len(s) > 0 {
			hint = "did you mean " + s[0] + "?"
		}
		e := p.errorAt(t.off, hint, "unknown type %s", word)
		if len(s) > 0 {
			e.Replace(s[0], "Replace with "+s[0])
		}
		if p.isPunct(p.peek(), "(") {
			p.typeArgs(word)
		}
		return tn
	}
	tn.Name = spec.canon
	var args []int
	var argsAt int
	if p.isPunct(p.peek(), "(") {
		argsAt = p.peek().off
		args = p.typeArgs(word)
	}
	switch spec.args {
	case argsNone:
		if args != nil {
			p.errorAt(argsAt, "", "type %s takes no arguments", word)
		}
	case argsLength:
		if len(args) > 1 {
			p.errorAt(argsAt, "", "type %s takes at most a length", word)
		}
	case argsPrecision:
		switch {
		case args == nil:
			tn.Args = []int{3}
		case len(args) != 1:
			p.errorAt(argsAt, "time zones are not supported; times are UTC", "type %s takes one precision", word)
		case args[0] < 0 || args[0] > 9:
			p.errorAt(argsAt, "", "precision of %s must be 0 to 9, not %d", word, args[0])
		default:
			tn.Args = args
		}
	case argsDecimal:
		switch {
		case args == nil:
			p.errorAt(t.off, "write Decimal(18, 2)", "type %s needs a precision and scale", word)
		case len(args) > 2:
			p.errorAt(argsAt, "", "type %s takes a precision and a scale", word)
		default:
			if len(args) == 1 {
				args = append(args, 0)
			}
			if args[0] < 1 || args[0] > 76 || args[1] < 0 || args[1] > args[0] {
				p.errorAt(argsAt, "", "%s(%d, %d): precision must be 1 to 76 and scale 0 to the precision", word, args[0], args[1])
			}
			tn.Args = args
		}
	}
	return tn
}

// typeArgs parses ( n [, n …] ) after a type name.
func (p *stmtParser) typeArgs(word string) []int {
	p.i++ // (
	args := make([]int, 0, 2)
	for {
		t := p.peek()
		if t.kind != tkNumber {
			p.fail(t.off, "", "expected a number in the arguments of %s, found %s", word, p.describe(t))
		}
		n, err := strconv.Atoi(p.text(t))
		if err != nil {
			p.fail(t.off, "", "expected a whole number in the arguments of %s, found %s", word, p.describe(t))
		}
		p.i++
		args = append(args, n)
		if p.acceptPunct(")") {
			return args
		}
		p.expectPunct(",", fmt.Sprintf("or ) in the arguments of %s", word))
	}
}

const unitList = "units are SECOND, MINUTE, HOUR, DAY"

// interval parses INTERVAL n unit, INTERVAL 'n' unit or INTERVAL 'n unit'
// starting at toks[i] (the INTERVAL) and returns the index after it. Errors
// are reported without giving up, so that the rest of the statement is still
// checked; next then covers what was consumed.
func (p *stmtParser) interval(i, hi int) (iv Interval, next int) {
	saved := p.hi
	p.hi = hi
	defer func() { p.hi = saved }()
	start := p.toks[i]
	iv.P = p.pos(start.off)
	i++
	neg := false
	if t := p.tok(i); p.isPunct(t, "-") || p.isPunct(t, "+") {
		neg = p.isPunct(t, "-")
		i++
	}
	t := p.tok(i)
	var num, unitWord string
	unitAt := -1
	switch t.kind {
	case tkNumber:
		num = p.text(t)
		i++
	case tkString:
		s := strings.TrimSpace(unquote(p.text(t)))
		num, unitWord, _ = strings.Cut(s, " ")
		unitWord = strings.TrimSpace(unitWord)
		if unitWord != "" {
			unitAt = t.off
		}
		i++
	default:
		p.errorAt(t.off, "write INTERVAL 5 MINUTE", "expected a number after INTERVAL, found %s", p.describe(t))
		return iv, i
	}
	if strings.HasPrefix(num, "-") && !neg {
		neg, num = true, num[1:]
	}
	v, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err == nil:
		iv.Value = v
		if neg {
			iv.Value = -v
		}
	case strings.ContainsAny(num, ".eE"):
		p.errorAt(t.off, "use a smaller unit: INTERVAL 90 SECOND, not INTERVAL 1.5 MINUTE", "an interval is a whole number of units, not %s", num)
	default:
		p.errorAt(t.off, "write INTERVAL 5 MINUTE", "expected a whole number after INTERVAL, found %s", p.describe(t))
	}
	if unitAt < 0 {
		u := p.tok(i)
		if u.kind != tkIdent {
			p.errorAt(u.off, "", "expected a unit after INTERVAL %s, found %s; %s", num, p.describe(u), unitList)
			return iv, i
		}
		unitWord, unitAt = p.text(u), u.off
		i++
	}
	iv.Unit = p.unit(unitWord, unitAt)
	return iv, i
}

// unit normalises SECOND(S), MINUTE(S), HOUR(S) and DAY(S) to the singular.
func (p *stmtParser) unit(word string, at int) string {
	u := strings.ToUpper(word)
	switch u {
	case "SECOND", "MINUTE", "HOUR", "DAY":
		return u
	case "SECONDS", "MINUTES", "HOURS", "DAYS":
		return u[:len(u)-1]
	}
	hint := ""
	s := Suggest(strings.TrimSuffix(u, "S"), []string{"SECOND", "MINUTE", "HOUR", "DAY"})
	if len(s) > 0 {
		hint = "did you mean " + s[0] + "?"
	}
	e := p.errorAt(at, hint, "unknown unit %s; %s", word, unitList)
	// The unit is a word of its own, unless it is inside a string
	// ('5 minutes'): only a word can be replaced as a whole.
	if len(s) > 0 && at < len(p.src) && p.src[at] != '\'' {
		e.Replace(s[0], "Replace with "+s[0])
	}
	return ""
}
