package planner

import (
	"strconv"
	"strings"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

// Result is the table a SHOW, DESCRIBE or EXPLAIN statement produces, as
// data for the CLI, the HTTP API and the editor to render.
type Result struct {
	Columns []string
	Rows    [][]string
	// Notes are lines shown under the table: a DESCRIBE's WITH options
	// (secrets masked) and its canonical SQL.
	Notes []string
}

// String renders the result as aligned text.
func (r *Result) String() string {
	widths := make([]int, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = len(c)
	}
	for _, row := range r.Rows {
		for i, v := range row {
			if i < len(widths) && len(v) > widths[i] {
				widths[i] = len(v)
			}
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		var l strings.Builder
		for i, v := range vals {
			if i > 0 {
				l.WriteString("  ")
			}
			l.WriteString(v)
			if i < len(vals)-1 {
				l.WriteString(strings.Repeat(" ", widths[i]-len(v)))
			}
		}
		// Padding before an empty last column is noise.
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	if len(r.Columns) > 1 {
		line(r.Columns)
	}
	for _, row := range r.Rows {
		line(row)
	}
	for _, n := range r.Notes {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return b.String()
}

func show(cat Catalog, kind sql.ObjectKind) *Result {
	r := &Result{}
	switch kind {
	case sql.ObjSource:
		r.Columns = []string{"name", "connector", "columns", "time"}
		for _, o := range cat.List(kind) {
			s := o.Source
			r.Rows = append(r.Rows, []string{o.Name, s.Connector, strconv.Itoa(len(s.Declared)), timeAttr(s)})
		}
	case sql.ObjSink:
		r.Columns = []string{"name", "connector", "columns"}
		for _, o := range cat.List(kind) {
			cols := "(from the pipeline)"
			if len(o.Sink.Declared) > 0 {
				cols = strconv.Itoa(len(o.Sink.Declared))
			}
			r.Rows = append(r.Rows, []string{o.Name, o.Sink.Connector, cols})
		}
	case sql.ObjPipeline:
		r.Columns = []string{"name", "state", "sources", "sink", "description"}
		for _, o := range cat.List(kind) {
			p := o.Pipeline
			state := "stopped"
			if p.Running {
				state = "running"
			}
			r.Rows = append(r.Rows, []string{o.Name, state, strings.Join(p.Sources, ", "), p.Sink, p.Options["description"]})
		}
	}
	return r
}

func timeAttr(s *dag.SourceSpec) string {
	t := s.Watermark
	if t == "" {
		t = "_timestamp"
	}
	if s.WatermarkDelay > 0 {
		t += " - " + durText(s.WatermarkDelay)
	}
	return t
}

// describe lists an object's columns and, as notes, its options and SQL.
func describe(o *Object) *Result {
	r := &Result{Columns: []string{"column", "type", "extra"}}
	addCols := func(s dag.Schema, extra func(dag.Column) string) {
		for _, c := range s {
			r.Rows = append(r.Rows, []string{c.Name, c.Type.String(), extra(c)})
		}
	}
	switch o.Kind {
	case sql.ObjSource:
		s := o.Source
		addCols(s.Declared, func(c dag.Column) string {
			var ex []string
			if len(c.Path) > 0 && (len(c.Path) != 1 || c.Path[0] != c.Name) {
				ex = append(ex, "PATH '$."+strings.Join(c.Path, ".")+"'")
			}
			if c.Name == s.Watermark {
				ex = append(ex, "time attribute, watermark delay "+durText(s.WatermarkDelay))
			}
			return strings.Join(ex, ", ")
		})
		addCols(pseudoFor(s.Connector), func(c dag.Column) string {
			if c.Name == "_timestamp" && s.Watermark == "" {
				return "pseudo-column, time attribute, watermark delay " + durText(s.WatermarkDelay)
			}
			return "pseudo-column"
		})
		r.Notes = append(r.Notes, "WITH (connector = '"+s.Connector+"', "+maskOptions(s.Options)+")")
	case sql.ObjSink:
		addCols(o.Sink.Declared, func(dag.Column) string { return "" })
		if len(o.Sink.Declared) == 0 {
			r.Notes = append(r.Notes, "columns: defined by the pipeline that writes it")
		}
		r.Notes = append(r.Notes, "WITH (connector = '"+o.Sink.Connector+"', "+maskOptions(o.Sink.Options)+")")
	case sql.ObjPipeline:
		p := o.Pipeline
		if p.Graph != nil && len(p.Graph.Nodes) > 0 {
			addCols(p.Graph.Nodes[len(p.Graph.Nodes)-1].Schema, func(dag.Column) string { return "" })
		}
		state := "stopped"
		if p.Running {
			state = "running"
		}
		r.Notes = append(r.Notes, "state: "+state, "reads: "+strings.Join(p.Sources, ", "), "writes: "+p.Sink)
	}
	r.Notes = append(r.Notes, maskSQL(o))
	return r
}

// maskSQL returns the object's canonical SQL, or, when it contains a
// secret given in clear text (secret.InClear), a note saying it is hidden: SHOW and
// DESCRIBE never print a password.
func maskSQL(o *Object) string {
	var opts map[string]string
	switch o.Kind {
	case sql.ObjSource:
		opts = o.Source.Options
	case sql.ObjSink:
		opts = o.Sink.Options
	}
	for k, v := range opts {
		if secret.InClear(k, v) {
			return "-- SQL not shown: it contains a secret option"
		}
	}
	return o.Canonical
}

// explainResult wraps an EXPLAIN rendering as a one-column result.
func explainResult(g *dag.Graph) *Result {
	text := strings.TrimRight(Explain(g), "\n")
	r := &Result{Columns: []string{"plan"}}
	for _, l := range strings.Split(text, "\n") {
		r.Rows = append(r.Rows, []string{l})
	}
	return r
}
