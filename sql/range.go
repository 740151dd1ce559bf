package sql

// Ranges finds where constructs of one text end, lexing the text once.
// It is what diagnostics use to underline a construct, offered to other
// packages that show a range of a script (the monitor's node ↔ SQL link).
type Ranges struct{ s *spans }

// NewRanges lexes src. Positions passed to End must be positions in src.
func NewRanges(src string) *Ranges { return &Ranges{s: newSpans(src)} }

// End returns the position just past n (exclusive), as a diagnostic about
// n would underline it: a name, a whole expression, an interval, the
// keywords of a clause.
func (r *Ranges) End(n Node) Pos {
	off := r.s.endOf(n)
	p := n.Pos()
	if off < p.Offset {
		off = p.Offset
	}
	return advance(r.s.src, p, off)
}
