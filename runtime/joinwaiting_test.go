package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// TestJoinWaiting checks the join's waiting gauge against a count of the
// stored rows whose time plus the interval the watermark has not passed,
// over several chunks of rows whose times are out of order, as the
// watermark rises.
func TestJoinWaiting(t *testing.T) {
	for _, typ := range []dag.JoinType{dag.Inner, dag.Left} {
		t.Run(string(typ), func(t *testing.T) {
			const within = 10 * time.Second
			node := joinNode(kvSchema, kvSchema, typ, within, 1, 1, 0, 0)
			st := &operatorStats{}
			j := newJoin(node, kvSchema, kvSchema, func(*Batch) {}, st)
			rnd := rand.New(rand.NewPCG(1, 2))
			var times []float64 // seconds, of every stored row
			wm := 0.0
			for round := 0; round < 12; round++ {
				for port := 0; port < 2; port++ {
					var rows []string
					for i := 0; i < 700; i++ {
						// Mostly rising with round, 30 s out of order.
						ts := float64(round*20) + rnd.Float64()*30
						rows = append(rows, fmt.Sprintf("k%d@%.3f", rnd.IntN(5000), ts))
						times = append(times, ts)
					}
					j.process(port, kvBatch(rows...))
				}
				want := func() int64 {
					limit := int64(wm*float64(sec)) - int64(within)
					var n int64
					for _, ts := range times {
						if int64(ts*float64(sec)) >= limit { // as kvBatch converts
							n++
						}
					}
					return n
				}
				if got := st.Waiting.Load(); got != want() {
					t.Fatalf("round %d after rows: waiting %d, want %d", round, got, want())
				}
				wm = float64(round*20) + 5
				j.watermark(int64(wm * float64(sec)))
				if got := st.Waiting.Load(); got != want() {
					t.Fatalf("round %d after watermark %.0f: waiting %d, want %d", round, wm, got, want())
				}
			}
		})
	}
}
