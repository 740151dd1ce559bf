package runtime

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/sluice-sql/sluice/planner/dag"
)

// TestOperatorsGolden runs the files in testdata/operators: each builds one
// stateful operator over rows (k String, ts Timestamp, v Int64) written
// "k@seconds" (k "-" is NULL; v is the row's position in its batch) and
// shows what it emits. Commands:
//
//	dedup within=10s | join type=inner|left within=10s |
//	window kind=tumble|hop size=10s [slide=5s] [having=N]
//	process [port=1]      rows on the input lines
//	watermark t=SECONDS
//	restart               snapshot, build a fresh operator, restore
//	stats
//
// Run with -rewrite to update the expected output.
func TestOperatorsGolden(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "operators"), func(t *testing.T, path string) {
		var (
			build func(emit emitter, st *operatorStats) operator
			oper  operator
			st    *operatorStats
			col   collector
			show  func(string) string
			join  bool // stats show the rows waiting for a partner
		)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			dur := func(key string) time.Duration {
				var s string
				d.ScanArgs(t, key, &s)
				v, err := time.ParseDuration(s)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			switch d.Cmd {
			case "dedup":
				within := dur("within")
				build = func(e emitter, st *operatorStats) operator {
					return newDedup(dedupNode(within), kvSchema, e, st)
				}
				show = kOnly
			case "join":
				var typ string
				d.ScanArgs(t, "type", &typ)
				node := joinNode(kvSchema, kvSchema, dag.JoinType(strings.ToUpper(typ)), dur("within"), 1, 1, 0, 0)
				join = true
				build = func(e emitter, st *operatorStats) operator {
					return newJoin(node, kvSchema, kvSchema, e, st)
				}
				show = pairs
			case "window":
				var kind string
				d.ScanArgs(t, "kind", &kind)
				size := dur("size")
				slide := size
				if d.HasArg("slide") {
					slide = dur("slide")
				}
				var having *dag.Expr
				if d.HasArg("having") {
					var n int
					d.ScanArgs(t, "having", &n)
					having = op(dag.OpGe, tBool, cast(dag.ColRef(3, dag.T(dag.UInt64), "n"), tInt), ci(int64(n)))
				}
				node := windowNode(dag.WindowKind(strings.ToUpper(kind)), size, slide, having)
				build = func(e emitter, st *operatorStats) operator { return newWindow(node, e, st) }
				show = func(s string) string { return s }
			case "process":
				port := 0
				if d.HasArg("port") {
					d.ScanArgs(t, "port", &port)
				}
				oper.process(port, kvBatch(strings.Fields(d.Input)...))
			case "watermark":
				var s float64
				d.ScanArgs(t, "t", &s)
				oper.watermark(int64(s * float64(sec)))
			case "restart":
				var w stateWriter
				oper.snapshot(&w)
				st = &operatorStats{}
				oper = build(col.emit, st)
				if err := oper.restore(&stateReader{buf: w.buf}); err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("restored %d bytes of state", len(w.buf))
			case "stats":
				out := fmt.Sprintf("dedup drops %d, join matches %d, left unmatched %d, late rows %d, state %d",
					st.DedupDrops.Load(), st.JoinMatch.Load(), st.LeftNulls.Load(), st.LateRows.Load(), st.State.Load())
				if join {
					out += fmt.Sprintf(", waiting %d", st.Waiting.Load())
				}
				return out
			default:
				t.Fatalf("unknown command %q", d.Cmd)
			}
			if d.Cmd == "dedup" || d.Cmd == "join" || d.Cmd == "window" {
				st = &operatorStats{}
				oper = build(col.emit, st)
				return "ok"
			}
			out := show(col.take())
			if out == "" {
				return "(nothing)"
			}
			return strings.ReplaceAll(out, " ", "\n")
		})
	})
}
