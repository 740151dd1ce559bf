package server

import (
	"context"
	"testing"
	"time"
)

// The throughput history holds a rate per sample for every pipeline,
// 0 while it is stopped, at most HistoryLen samples, and forgets a
// dropped pipeline.
func TestHistory(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, supPipeline("h1", "ok")+supPipeline("h2", "ok"))
	apply(t, s, "STOP PIPELINE h2;")
	waitFor(t, "rows read", func() bool {
		st, ok := s.PipelineStats("h1")
		return ok && st.RecordsIn > 100
	})
	now := time.Now()
	s.sampleHistory(now)
	time.Sleep(200 * time.Millisecond)
	s.sampleHistory(time.Now())
	h1, h2 := s.History("h1"), s.History("h2")
	if len(h1.In) != 2 || len(h1.Out) != 2 || h1.In[0] <= 0 || h1.In[1] <= 0 {
		t.Fatalf("h1 history %+v", h1)
	}
	// The source makes 10 records every 5 ms: about 2000 a second.
	if h1.In[1] < 200 || h1.In[1] > 4000 {
		t.Errorf("h1 rate %v/s, want about 2000", h1.In[1])
	}
	if len(h2.In) != 2 || h2.In[0] != 0 || h2.In[1] != 0 {
		t.Fatalf("stopped h2 history %+v", h2)
	}
	if obj, _ := s.Object("PIPELINE", "h1"); obj.History == nil || len(obj.History.In) != 2 || obj.History.EverySeconds != 10 {
		t.Fatalf("object history %+v", obj.History)
	}
	for i := 0; i < HistoryLen+5; i++ {
		now = now.Add(time.Second)
		s.sampleHistory(now)
	}
	if h := s.History("h1"); len(h.In) != HistoryLen || !h.End.Equal(now.UTC()) {
		t.Fatalf("history holds %d samples ending %v, want %d ending %v", len(h.In), h.End, HistoryLen, now)
	}
	if _, _, err := s.Apply(context.Background(), "DROP PIPELINE h2;", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	s.sampleHistory(now.Add(time.Second))
	if h := s.History("h2"); len(h.In) != 0 {
		t.Fatalf("dropped pipeline still has history %+v", h)
	}
}

// A dry run says whether applying would restart a running pipeline and
// whether its state would be kept; applying then does what it said.
func TestDryRunForeseesState(t *testing.T) {
	s := newTestServer(t)
	apply(t, s, supPipeline("f1", "ok"))
	waitFor(t, "f1 running", func() bool { return len(s.runsOf("f1")) > 0 })
	check := func(src string, restarted, kept bool) {
		t.Helper()
		for _, dry := range []bool{true, false} {
			res, errs, err := s.Apply(context.Background(), src, ApplyOptions{DryRun: dry, Declarative: true})
			if err != nil || len(errs) > 0 {
				t.Fatal(err, errs)
			}
			st := res.Statements[len(res.Statements)-1]
			got := st.Restarted && st.StateKept != nil && *st.StateKept == kept
			if !restarted {
				got = !st.Restarted && st.StateKept == nil
			}
			if !got {
				t.Errorf("dry run %v of %q: restarted %v state kept %v, want %v %v", dry, src, st.Restarted, st.StateKept, restarted, kept)
			}
		}
	}
	// A filter added: no stateful operator changes.
	check("CREATE PIPELINE f1 AS INSERT INTO f1_out SELECT id FROM f1_in WHERE id > 0;", true, true)
	// A dedup added: its state starts empty.
	check("CREATE PIPELINE f1 AS INSERT INTO f1_out SELECT id FROM f1_in WHERE id > 1 DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;", true, false)
	// Stopped: nothing restarts.
	apply(t, s, "STOP PIPELINE f1;")
	check("CREATE PIPELINE f1 AS INSERT INTO f1_out SELECT id FROM f1_in WHERE id > 2;", false, false)
}
