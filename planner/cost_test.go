package planner

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-sql/sluice/sql"
)

// longSum is SELECT 1 + 1 + … with n terms.
func longSum(n int) string {
	return "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " + strings.TrimSuffix(strings.Repeat("1 + ", n), " + ") + " AS total FROM s"
}

// TestLongExpressionPlansQuickly: planning is linear in the size of an
// expression, so a 100 000-term sum (about 400 kB, within the API's body
// limit) plans in well under a second — it took 12 s when planning was
// quadratic. The machine may be busy with other work, so the process's CPU
// time is what counts (garbage collection included), the best of three.
func TestLongExpressionPlansQuickly(t *testing.T) {
	src := longSum(100_000)
	best, bestWall := time.Hour, time.Hour
	for range 3 {
		cpu0, start := cpuTime(t), time.Now()
		steps, errs := ApplyScript(src, NewMem())
		best, bestWall = min(best, cpuTime(t)-cpu0), min(bestWall, time.Since(start))
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs[0])
		}
		if len(steps) != 2 || steps[1].Preview == nil {
			t.Fatalf("steps: %+v", steps)
		}
		if best < time.Second {
			break
		}
	}
	t.Logf("100 000 terms: %v CPU, %v wall", best, bestWall)
	if best > time.Second {
		t.Errorf("a 100 000-term expression took %v of CPU to plan", best)
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestTooDeepExpression: an expression nested deeper than the parser
// allows is an error at its place, not a crash of the process (a 4 MiB
// script can nest two million levels).
func TestTooDeepExpression(t *testing.T) {
	for _, src := range []string{
		longSum(sql.MaxExprDepth + 10),
		"CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " + strings.Repeat("(", sql.MaxExprDepth+10) + "1" + strings.Repeat(")", sql.MaxExprDepth+10) + " FROM s",
		"CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\nSELECT " + strings.Repeat("- ", sql.MaxExprDepth+10) + "1 FROM s",
	} {
		_, errs := ApplyScript(src, NewMem())
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, "nests more than 100000 levels") || errs[0].Pos.Line != 2 {
			t.Errorf("errors: %v", errs)
		}
	}
}

// TestLongExpressionText: the text of a long expression (EXPLAIN, the name
// of an output column without an alias) is cut, at a character, with "…".
func TestLongExpressionText(t *testing.T) {
	src := "CREATE SOURCE s (id UInt64, name String) WITH (connector = 'datagen');\nSELECT " +
		"name = '" + strings.Repeat("é", 300) + "' FROM s"
	steps, errs := ApplyScript(src, NewMem())
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	g := steps[1].Preview
	name := g.Nodes[len(g.Nodes)-1].Schema[0].Name
	if !strings.HasSuffix(name, "…") || len(name) > maxExprText+len("…") || !utf8.ValidString(name) {
		t.Errorf("column name %q", name)
	}
	if !strings.HasPrefix(name, "name = 'éé") {
		t.Errorf("column name %q", name)
	}
}

func BenchmarkLongExpression(b *testing.B) {
	src := longSum(10_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := ApplyScript(src, NewMem()); len(errs) > 0 {
			b.Fatal(errs[0])
		}
	}
}

// TestPlanningStopsAtDeadline: once the context ends, parsing stops before
// the next statement and checking within the statement being bound, with
// one error at that statement that gives the context's cause; the errors
// stopping may have caused are not reported.
func TestPlanningStopsAtDeadline(t *testing.T) {
	one := "SELECT " + strings.TrimSuffix(strings.Repeat("1 + ", 99_000), " + ") + " AS total FROM s;\n"
	src := "CREATE SOURCE s (id UInt64) WITH (connector = 'datagen');\n" + strings.Repeat(one, 10)
	cause := errors.New("planning took longer than the test allows")
	check := func(errs sql.ErrorList, what string) {
		t.Helper()
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, "checking stopped here: "+cause.Error()) {
			t.Fatalf("%s: errors %v", what, errs)
		}
		if l := errs[0].Pos.Line; l < 1 || l > 11 || errs[0].Pos.Col != 1 {
			t.Fatalf("%s: error at %d:%d, want the start of a statement", what, l, errs[0].Pos.Col)
		}
	}

	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, cause)
	defer cancel()
	start := time.Now()
	script, errs := sql.ParseContext(ctx, src)
	parsed, took := len(script.Stmts), time.Since(start)
	if len(errs) > 0 {
		check(errs, "parse")
		if parsed >= 11 {
			t.Fatalf("parse stopped after every statement")
		}
	} else {
		// The machine parsed everything within 50 ms: check with a
		// context that has already ended.
		ended, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		ctx = ended
	}
	script, _ = sql.Parse(src)
	steps, errs := CheckContext(ctx, script, NewMem())
	if steps != nil {
		t.Fatalf("steps after the deadline: %d", len(steps))
	}
	check(errs, "check")
	t.Logf("parsed %d statements, stopped after %v", parsed, took)

	// Binding stops within a statement: a context that ends while the
	// first long SELECT is being bound leaves one error, at it.
	ctx, cancel = context.WithTimeoutCause(context.Background(), 20*time.Millisecond, cause)
	defer cancel()
	_, errs = CheckContext(ctx, script, NewMem())
	check(errs, "check within a statement")

	_, errs = PlanPreviewSQLContext(ctx, strings.TrimSuffix(one, ";\n"), NewMem())
	check(errs, "preview")
}
