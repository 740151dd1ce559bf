package planner

import (
	"errors"
	"fmt"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/sql"
)

// Span is the part of a pipeline's SQL a plan node comes from: From is its
// first character, To just past its last (positions in the pipeline's own
// statement text, lines and columns from 1, columns in characters).
type Span struct {
	From, To sql.Pos
}

// NodeSpans returns, by node ID, the SQL each node of a pipeline's plan
// comes from: a source node its FROM or JOIN reference, a dedup node its
// DEDUPLICATE BY clause, a filter the WHERE condition (or the join's ON
// for conditions pushed below it), a join its JOIN … WITHIN clause, a
// window the GROUP BY (and HAVING), the output projection the SELECT list,
// the sink node INSERT INTO sink. text is the pipeline's CREATE PIPELINE
// statement (Object.SQL), planned again against cat; g is the plan the
// pipeline runs, which the new plan must match node for node (it does
// unless cat changed under it), or an error says it does not.
func NodeSpans(text string, g *dag.Graph, cat Catalog) (map[int]Span, error) {
	script, perrs := sql.Parse(text)
	if len(perrs) > 0 || len(script.Stmts) != 1 {
		return nil, errors.New("the pipeline's SQL does not parse as one statement")
	}
	cp, ok := script.Stmts[0].(*sql.CreatePipeline)
	if !ok || cp.Insert == nil || cp.Insert.Query == nil {
		return nil, errors.New("the SQL is not a CREATE PIPELINE … AS INSERT … SELECT")
	}
	var errs sql.ErrorList
	q := newQuery(cat, &errs, map[string]bool{}, nil)
	sel := cp.Insert.Query
	if !q.bindSelect(sel, false) || len(errs) > 0 {
		return nil, errors.New("the pipeline's SQL no longer plans")
	}
	if len(g.Nodes) == 0 || g.Nodes[len(g.Nodes)-1].Sink == nil {
		return nil, errors.New("the plan does not end in a sink")
	}
	planned := q.pipelineGraph(cp.Name.Name, g.Nodes[len(g.Nodes)-1].Sink)
	q.split(planned, sel, pipelineSplitOptions(cp, &errs), &errs)
	if len(errs) > 0 {
		return nil, errors.New("the pipeline's SQL no longer plans")
	}
	if len(planned.Nodes) != len(g.Nodes) {
		return nil, fmt.Errorf("the plan has %d nodes, its SQL plans to %d", len(g.Nodes), len(planned.Nodes))
	}
	for i, n := range planned.Nodes {
		if g.Nodes[i].Kind != n.Kind {
			return nil, fmt.Errorf("node %d is a %s in the plan, a %s planned from its SQL", i, g.Nodes[i].Kind, n.Kind)
		}
	}
	r := sql.NewRanges(text)
	span := func(from sql.Pos, last sql.Node) Span {
		return Span{From: from, To: r.End(last)}
	}
	out := map[int]Span{}
	refs := []sql.TableRef{sel.From}
	if sel.Join != nil {
		refs = append(refs, sel.Join.Right)
	}
	where := func() (Span, bool) {
		switch {
		case sel.Where != nil:
			return span(sel.Where.Pos(), sel.Where), true
		case sel.Join != nil && sel.Join.On != nil:
			return span(sel.Join.On.Pos(), sel.Join.On), true
		}
		return Span{}, false
	}
	side, dedup := -1, 0
	last := len(planned.Nodes) - 1 // the sink
	for _, n := range planned.Nodes[:last] {
		switch n.Kind {
		case dag.KindSource:
			side++
			dedup = 0
			if side < len(refs) {
				ref := refs[side]
				var last sql.Node = ref.Name
				if ref.Alias != nil {
					last = *ref.Alias
				}
				out[n.ID] = span(ref.Name.P, last)
			}
		case dag.KindDedup:
			if side >= 0 && side < len(q.sides) && dedup < len(q.sides[side].dedups) {
				if d := q.sides[side].dedups[dedup].at; d != nil {
					var last sql.Node = d
					if d.Within != nil {
						last = d.Within
					} else if len(d.Keys) > 0 {
						last = d.Keys[len(d.Keys)-1]
					}
					out[n.ID] = span(d.P, last)
				}
			}
			dedup++
		case dag.KindFilter:
			if sp, ok := where(); ok {
				out[n.ID] = sp
			}
		case dag.KindJoin:
			if j := sel.Join; j != nil {
				var last sql.Node = j
				if j.Within != nil {
					last = j.Within
				} else if j.On != nil {
					last = j.On
				}
				out[n.ID] = span(j.P, last)
			}
		case dag.KindWindow:
			if len(sel.GroupBy) > 0 {
				var last sql.Node = sel.GroupBy[len(sel.GroupBy)-1]
				if sel.Having != nil {
					last = sel.Having
				}
				out[n.ID] = span(sel.GroupBy[0].Pos(), last)
			}
		case dag.KindProject:
			if n.ID != last-1 {
				// A join input narrowed to the columns used above it: the
				// source it reads.
				if sp, ok := out[n.Inputs[0]]; ok {
					out[n.ID] = sp
				}
				continue
			}
			if len(sel.Items) > 0 {
				it := sel.Items[len(sel.Items)-1]
				var last sql.Node
				switch {
				case it.Alias != nil:
					last = *it.Alias
				case it.Expr != nil:
					last = it.Expr
				default:
					last = sql.Keywords{P: it.StarPos, Last: "*"}
				}
				out[n.ID] = span(sel.P, last)
			}
		}
	}
	ins := cp.Insert
	out[last] = span(ins.P, ins)
	return out, nil
}

// NodeText is how EXPLAIN shows node n of g: its title ("source orders",
// "join INNER") and the lines that say what it does.
func NodeText(g *dag.Graph, n *dag.Node) (string, []string) {
	var in dag.Schema
	if len(n.Inputs) > 0 {
		for _, m := range g.Nodes {
			if m.ID == n.Inputs[0] {
				in = m.Schema
			}
		}
	}
	return title(n), details(n, in)
}
