package main

import (
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/sluice-sql/sluice/server"
)

// sluice describe sums up where a split pipeline's tasks run: per stage,
// how many each server holds, and which no server holds.
func TestDescribeTasks(t *testing.T) {
	var tasks []server.TaskView
	for i := range 4 {
		tasks = append(tasks, server.TaskView{Task: "p.orders.repartition#" + string(rune('0'+i)), Index: i, Stage: "p.orders.repartition", Owner: []string{"node-b", "node-a"}[i%2], LeaseLive: true})
	}
	for i := range 4 {
		tv := server.TaskView{Task: "p#" + string(rune('0'+i)), Index: i, Owner: "node-a", LeaseLive: true}
		if i >= 2 {
			tv.Owner, tv.LeaseLive = "node-c", i == 2 // task 3's lease ran out
		}
		tasks = append(tasks, tv)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	describeTasks(tw, tasks)
	tw.Flush()
	want := "stage p.orders.repartition  4: 2 on node-a, 2 on node-b\n" +
		"tasks                       4: 2 on node-a, 1 on node-c, 1 on no server (task 3)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	// One server with its own catalog holds no leases: its tasks run here.
	b.Reset()
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	describeTasks(tw, []server.TaskView{{Task: "p#0", RunningHere: true}, {Task: "p#1", Index: 1, RunningHere: true}})
	tw.Flush()
	if want := "tasks  2: 2 on this server\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
