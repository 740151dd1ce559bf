package sql

import (
	"math/rand"
	"strings"
	"testing"
)

// TestRoundTripGenerated builds random expressions from a small grammar that
// mixes every operator and precedence level, and checks that each one that
// parses formats back to the same AST. Random bytes (FuzzParse) rarely reach
// this deep into the expression grammar.
func TestRoundTripGenerated(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	n := 3000
	if testing.Short() {
		n = 300
	}
	parsed := 0
	for i := 0; i < n; i++ {
		src := "SELECT " + genExpr(rng, 4) + " AS x FROM t WHERE " + genExpr(rng, 4) +
			" GROUP BY TUMBLE(ts, " + genInterval(rng) + "), t.b" +
			" DEDUPLICATE BY " + genExpr(rng, 2) + " WITHIN " + genInterval(rng)
		script, errs := Parse(src)
		if len(errs) > 0 {
			continue
		}
		parsed++
		checkPositions(t, src, script)
		if msg := checkRoundTrip(script, FormatScript(script)); msg != "" {
			t.Fatalf("%s\nfrom: %s", msg, src)
		}
	}
	if parsed < n/2 {
		t.Fatalf("only %d of %d generated statements parse: the generator is off", parsed, n)
	}
}

func genInterval(rng *rand.Rand) string {
	units := []string{"SECOND", "MINUTES", "hour", "DAY"}
	n := []string{"1", "'10'", "-5", "'2 HOURS'"}[rng.Intn(4)]
	if strings.Contains(n, " ") {
		return "INTERVAL " + n
	}
	return "INTERVAL " + n + " " + units[rng.Intn(len(units))]
}

func genExpr(rng *rand.Rand, depth int) string {
	leaves := []string{"a", "t.b", "`we ird`", `"q"`, "1", "2.5", ".5", "1e3", "'s'", "'it''s'", "TRUE", "NULL", "_key"}
	if depth == 0 || rng.Intn(4) == 0 {
		return leaves[rng.Intn(len(leaves))]
	}
	e := func() string { return genExpr(rng, depth-1) }
	switch rng.Intn(16) {
	case 0:
		return e() + " " + []string{"+", "-", "*", "/", "%", "MOD"}[rng.Intn(6)] + " " + e()
	case 1:
		return e() + " " + []string{"=", "<>", "!=", "<", "<=", ">", ">="}[rng.Intn(7)] + " " + e()
	case 2:
		return e() + " " + []string{"AND", "OR", "&&"}[rng.Intn(3)] + " " + e()
	case 3:
		return []string{"NOT ", "-", "- ", "+"}[rng.Intn(4)] + e()
	case 4:
		return "(" + e() + ")"
	case 5:
		return e() + []string{" IS NULL", " IS NOT NULL"}[rng.Intn(2)]
	case 6:
		return e() + []string{" IN (", " NOT IN ("}[rng.Intn(2)] + e() + ", " + e() + ")"
	case 7:
		return e() + []string{" BETWEEN ", " NOT BETWEEN "}[rng.Intn(2)] + e() + " AND " + e()
	case 8:
		return e() + []string{" LIKE ", " NOT LIKE "}[rng.Intn(2)] + e()
	case 9:
		return "CASE WHEN " + e() + " THEN " + e() + " ELSE " + e() + " END"
	case 10:
		return "CASE " + e() + " WHEN " + e() + " THEN " + e() + " END"
	case 11:
		return "CAST(" + e() + " AS " + []string{"String", "VARCHAR(10)", "Nullable(BIGINT)", "Decimal(10, 2)", "TIMESTAMP", "DateTime64(6)"}[rng.Intn(6)] + ")"
	case 12:
		return []string{"LOWER", "coalesce", "ROUND", "toStartOfInterval"}[rng.Intn(4)] + "(" + e() + ", " + e() + ")"
	case 13:
		return []string{"COUNT(*)", "COUNT(DISTINCT a)", "SUM(a)", "MAX(t.b)"}[rng.Intn(4)]
	case 14:
		return e() + " || " + e()
	default:
		return e() + " " + []string{"+", "-"}[rng.Intn(2)] + " " + genInterval(rng)
	}
}
