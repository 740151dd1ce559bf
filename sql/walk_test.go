package sql

import (
	"fmt"
	"strings"
	"testing"
)

// visitPositions calls fn with a name and the position of every node and
// positioned field of the AST under the script. It walks with Inspect;
// names, type names and intervals are named by the node that holds them.
func visitPositions(script *Script, fn func(what string, p Pos)) {
	for _, st := range script.Stmts {
		Inspect(st, func(n Node) bool {
			switch n := n.(type) {
			case Ident, TypeName, *Interval:
				// Named below, by their parent.
			case *CreateSource, *CreateSink, *CreatePipeline, *Drop, *StartPipeline, *StopPipeline, *Describe:
				fn(typeName(n), n.Pos())
				fn("Name", nameOf(n).P)
			case *Watermark:
				fn("Watermark", n.P)
				fn("Watermark.Column", n.Column.P)
				if n.Delay != nil {
					fn("Watermark.Delay", n.Delay.P)
				}
			case ColumnDef:
				fn("Column", n.Name.P)
				fn("Column.Type", n.Type.P)
				if n.Path != "" {
					fn("Column.Path", n.PathPos)
				}
			case Option:
				fn("Option", n.Key.P)
				fn("Option.Value", n.ValuePos)
			case *Insert:
				fn("Insert", n.P)
				fn("Insert.Sink", n.Sink.P)
				for _, c := range n.Columns {
					fn("Insert.Column", c.P)
				}
			case SelectItem:
				if n.Star {
					fn("Star", n.StarPos)
				}
				if n.Alias != nil {
					fn("Alias", n.Alias.P)
				}
			case TableRef:
				fn("Table", n.Name.P)
				if n.Alias != nil {
					fn("Table.Alias", n.Alias.P)
				}
			case *Join:
				fn("Join", n.P)
				if n.Within != nil {
					fn("Join.Within", n.Within.P)
				}
			case *Dedup:
				fn("Dedup", n.P)
				if n.Within != nil {
					fn("Dedup.Within", n.Within.P)
				}
			case *Binary:
				fn("Binary", n.P)
				fn("Binary.Op", n.OpPos)
			case *Cast:
				fn("Cast", n.P)
				fn("Cast.Type", n.Type.P)
			case *Select:
				fn("Select", n.P)
				if n.Having != nil {
					fn("Select.Having", n.HavingP)
				}
			default:
				fn(typeName(n), n.Pos())
			}
			return true
		})
	}
}

func nameOf(n Node) Ident {
	switch n := n.(type) {
	case *CreateSource:
		return n.Name
	case *CreateSink:
		return n.Name
	case *CreatePipeline:
		return n.Name
	case *Drop:
		return n.Name
	case *StartPipeline:
		return n.Name
	case *StopPipeline:
		return n.Name
	case *Describe:
		return n.Name
	}
	return Ident{}
}

func typeName(n Node) string {
	return strings.TrimPrefix(strings.TrimPrefix(fmt.Sprintf("%T", n), "*"), "sql.")
}

// TestInspectVisitsEverything pins that Inspect reaches every kind of node
// of a script that has them all, and that f returning false prunes.
func TestInspectVisitsEverything(t *testing.T) {
	src := `CREATE SOURCE s (a Int64, b String PATH '$.x.y', t DateTime64(3), WATERMARK FOR t AS t - INTERVAL 5 SECOND) WITH (connector = 'kafka');
CREATE SINK k (a Int64) WITH (connector = 'file', path = '/tmp/x');
CREATE PIPELINE p WITH (description = 'd') AS INSERT INTO k (a)
SELECT -a AS n, s.*, CAST(b AS Int64), CASE WHEN a IS NULL THEN 1 ELSE 2 END, COUNT(*), a IN (1, 2), a BETWEEN 1 AND 2, b LIKE 'x%', (a + 1)
FROM s AS x JOIN s AS y ON x.a = y.a WITHIN INTERVAL 1 MINUTE
WHERE a > 0 GROUP BY TUMBLE(t, INTERVAL 1 MINUTE) HAVING COUNT(*) > 1 DEDUPLICATE BY a WITHIN INTERVAL 1 HOUR LIMIT 5;
DROP SOURCE s; START PIPELINE p; STOP PIPELINE p; SHOW PIPELINES; DESCRIBE p; EXPLAIN SELECT a FROM s;`
	script, errs := Parse(src)
	if len(errs) > 0 {
		t.Fatal(errs.Render(src))
	}
	seen := map[string]bool{}
	for _, st := range script.Stmts {
		Inspect(st, func(n Node) bool {
			seen[typeName(n)] = true
			return true
		})
	}
	for _, want := range []string{"CreateSource", "CreateSink", "CreatePipeline", "Insert", "Select", "Join", "Dedup", "Limit",
		"Watermark", "ColumnDef", "Option", "Ident", "TypeName", "Interval", "SelectItem", "TableRef",
		"ColumnRef", "Literal", "IntervalLit", "Unary", "Binary", "IsNull", "In", "Between", "Like", "Case", "Cast", "Call", "Paren",
		"Drop", "StartPipeline", "StopPipeline", "Show", "Describe", "Explain", "SelectStmt"} {
		if !seen[want] {
			t.Errorf("Inspect never visits a %s", want)
		}
	}
	n := 0
	Inspect(script.Stmts[2], func(Node) bool { n++; return false })
	if n != 1 {
		t.Errorf("returning false visited %d nodes, want 1", n)
	}
}
