package delta

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Column types (PROTOCOL.md, "Schema Serialization Format" → "Primitive
// Types"). Every Sluice type maps to the Delta type that holds all of its
// values; docs/connectors.md has the table.
//
//	String        string     BYTE_ARRAY (UTF8)
//	Int8          byte       INT32 (INT(8, signed))
//	Int16, UInt8  short      INT32 (INT(16, signed))
//	Int32, UInt16 integer    INT32
//	Int64, UInt32 long       INT64
//	UInt64        decimal(20,0) FIXED_LEN_BYTE_ARRAY(9) (DECIMAL)
//	Float32       float      FLOAT
//	Float64       double     DOUBLE
//	Bool          boolean    BOOLEAN
//	Date          date       INT32 (DATE)
//	DateTime, DateTime64(p) timestamp INT64 (TIMESTAMP(MICROS, UTC));
//	              DateTime64(7..9) loses the digits below a microsecond
//	Decimal(p, s) decimal(p,s) INT32 (p ≤ 9) or INT64 (DECIMAL)
func deltaType(t dag.Type) (string, error) {
	switch t.Kind {
	case dag.String:
		return "string", nil
	case dag.Int8:
		return "byte", nil
	case dag.Int16, dag.UInt8:
		return "short", nil
	case dag.Int32, dag.UInt16:
		return "integer", nil
	case dag.Int64, dag.UInt32:
		return "long", nil
	case dag.UInt64:
		return "decimal(20,0)", nil
	case dag.Float32:
		return "float", nil
	case dag.Float64:
		return "double", nil
	case dag.Bool:
		return "boolean", nil
	case dag.Date:
		return "date", nil
	case dag.DateTime, dag.DateTime64:
		return "timestamp", nil
	case dag.Decimal:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	}
	return "", fmt.Errorf("type %s has no Delta Lake type", t)
}

// structField is one field of a Delta schema ("Struct Field").
type structField struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

type structType struct {
	Type   string        `json:"type"`
	Fields []structField `json:"fields"`
}

// schemaString renders the table schema of a sink's columns, the
// metaData action's schemaString.
func schemaString(s dag.Schema) (string, error) {
	st := structType{Type: "struct", Fields: []structField{}}
	for _, c := range s {
		t, err := deltaType(c.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		st.Fields = append(st.Fields, structField{Name: c.Name, Type: t, Nullable: c.Type.Nullable, Metadata: map[string]any{}})
	}
	b, err := json.Marshal(st)
	return string(b), err
}

// checkSchema compares the sink's columns with an existing table's
// schema: every column must be there with the same type, and every table
// column the sink does not write must be nullable.
func checkSchema(s dag.Schema, tableSchema string) error {
	var st struct {
		Type   string `json:"type"`
		Fields []struct {
			Name     string          `json:"name"`
			Type     json.RawMessage `json:"type"`
			Nullable bool            `json:"nullable"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(tableSchema), &st); err != nil {
		return fmt.Errorf("the table's schemaString does not parse: %w", err)
	}
	table := map[string]string{}
	nullable := map[string]bool{}
	var names []string
	for _, f := range st.Fields {
		var t string
		if json.Unmarshal(f.Type, &t) != nil {
			t = "a nested type"
		}
		// Column names are case-insensitive in Delta (PROTOCOL.md,
		// "Column Mapping" and Spark's resolution): compare in lower case.
		table[strings.ToLower(f.Name)] = t
		nullable[strings.ToLower(f.Name)] = f.Nullable
		names = append(names, f.Name+" "+t)
	}
	seen := map[string]bool{}
	var errs []string
	for _, c := range s {
		want, _ := deltaType(c.Type)
		got, ok := table[strings.ToLower(c.Name)]
		seen[strings.ToLower(c.Name)] = true
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("column %s is not in the table", c.Name))
		case got != want:
			errs = append(errs, fmt.Sprintf("column %s is %s in the table, the sink writes %s (%s)", c.Name, got, want, c.Type))
		case c.Type.Nullable && !nullable[strings.ToLower(c.Name)]:
			errs = append(errs, fmt.Sprintf("column %s is NOT NULL in the table, the sink's may be NULL", c.Name))
		}
	}
	for _, f := range st.Fields {
		if !seen[strings.ToLower(f.Name)] && !f.Nullable {
			errs = append(errs, fmt.Sprintf("table column %s is NOT NULL and the sink does not write it", f.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the table's schema does not fit the sink: %s (table columns: %s)", strings.Join(errs, "; "), strings.Join(names, ", "))
	}
	return nil
}

// parquetNode returns the Parquet column of a Sluice type (see deltaType).
func parquetNode(t dag.Type, codec compress.Codec) parquet.Node {
	var n parquet.Node
	switch t.Kind {
	case dag.String:
		n = parquet.String()
	case dag.Int8:
		n = parquet.Int(8)
	case dag.Int16, dag.UInt8:
		n = parquet.Int(16)
	case dag.Int32, dag.UInt16:
		n = parquet.Int(32)
	case dag.Int64, dag.UInt32:
		n = parquet.Int(64)
	case dag.UInt64:
		n = parquet.Decimal(0, 20, parquet.FixedLenByteArrayType(9))
	case dag.Float32:
		n = parquet.Leaf(parquet.FloatType)
	case dag.Float64:
		n = parquet.Leaf(parquet.DoubleType)
	case dag.Bool:
		n = parquet.Leaf(parquet.BooleanType)
	case dag.Date:
		n = parquet.Date()
	case dag.DateTime, dag.DateTime64:
		n = parquet.Timestamp(parquet.Microsecond)
	case dag.Decimal:
		if t.Precision <= 9 {
			n = parquet.Decimal(int(t.Scale), int(t.Precision), parquet.Int32Type)
		} else {
			n = parquet.Decimal(int(t.Scale), int(t.Precision), parquet.Int64Type)
		}
	}
	n = parquet.Compressed(n, codec)
	if t.Nullable {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
}

// orderedGroup is a Parquet group whose fields keep the sink's column
// order (parquet.Group sorts them by name), so that a reader's SELECT *
// of a data file shows the columns as the table does.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// GoType is never used: rows are written as parquet.Row values.
func (g orderedGroup) GoType() reflect.Type { return reflect.TypeOf(struct{}{}) }

func (g orderedGroup) Encoding() encoding.Encoding { return nil }

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                           { return f.name }
func (f namedField) Value(base reflect.Value) reflect.Value { return base }

// parquetSchema is the data files' schema: the sink's columns in order.
func parquetSchema(s dag.Schema, codec compress.Codec) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}}
	for _, c := range s {
		n := parquetNode(c.Type, codec)
		g.Group[c.Name] = n
		g.fields = append(g.fields, namedField{Node: n, name: c.Name})
	}
	return parquet.NewSchema("spark_schema", g)
}
