package planner

import (
	"strings"

	"github.com/sluice-sql/sluice/sql"
)

// replaceWith adds to e the fix that replaces its range with text, titled
// after what it puts there (shown, else text).
func replaceWith(e *sql.Error, text string, shown ...string) {
	title := text
	if len(shown) > 0 {
		title = shown[0]
	}
	e.Replace(text, "Replace with "+title)
}

// objectFix adds the closest name of an object of the given kinds, when
// one is close, as a fix replacing e's range (a name).
func objectFix(e *sql.Error, name string, cat Catalog, kinds ...sql.ObjectKind) {
	if s := sql.Suggest(name, names(cat, kinds...)); len(s) > 0 {
		replaceWith(e, sql.QuoteIdent(s[0]), s[0])
	}
}

// suggestColumn returns the column of the sides closest to name, or "".
func (q *query) suggestColumn(name string, sides []*side) string {
	var all []string
	for _, s := range sides {
		for _, id := range s.ids {
			all = append(all, q.cols[id].name)
		}
	}
	if sg := sql.Suggest(name, all); len(sg) > 0 {
		return sg[0]
	}
	return ""
}

// havingWord is the word HAVING of sel, which an error about the clause as
// a whole underlines.
func havingWord(sel *sql.Select) sql.Node {
	if sel.HavingP == (sql.Pos{}) {
		return sel.Having
	}
	return sql.Keywords{P: sel.HavingP, Last: "HAVING"}
}

// optionKey writes an option name as it may stand in a WITH list: dotted
// words as they are, anything else as a string.
func optionKey(k string) string {
	for _, part := range strings.Split(k, ".") {
		if part == "" || sql.QuoteIdent(part) != part {
			return sql.QuoteString(k)
		}
	}
	return k
}
