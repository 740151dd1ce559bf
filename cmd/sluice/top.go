package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sluice-sql/sluice/server"
)

// operatorTable prints a running pipeline's per-operator counters, the
// ones the web page's graph shows, with each operator named as EXPLAIN
// names it (the graph endpoint), then each source's progress and the
// sink's last write.
func operatorTable(c *client, name string, m *server.PipelineMetrics, w io.Writer) {
	titles := map[int]string{}
	var g server.PipelineGraph
	if fail, err := c.do(http.MethodGet, "/api/v1/pipelines/"+url.PathEscape(name)+"/graph", "", nil, &g); err == nil && fail == nil {
		for _, n := range g.Nodes {
			titles[n.ID] = n.Title
		}
	}
	fmt.Fprintln(w, "\noperators:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ID\tOPERATOR\tIN\tOUT\tDEDUP DROPS\tLATE\tJOIN MATCHES\tEXPIRED\tWAITING\tSTATE\tSTATE BYTES\tBUSY\t")
	for _, op := range m.Operators {
		title := titles[op.ID]
		if title == "" {
			title = op.Kind
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", op.ID, title, op.RowsIn, op.RowsOut,
			op.DedupDrops, op.LateRows, op.JoinMatches, op.JoinExpired, op.JoinWaiting, op.State, byteSize(op.StateBytes),
			fmt.Sprintf("%dms", op.BusyMS))
	}
	tw.Flush()
	for _, s := range m.Sources {
		lag := "unknown"
		if s.Lag >= 0 {
			lag = fmt.Sprint(s.Lag)
		}
		wm := "no watermark yet"
		if s.Watermark != nil && s.WatermarkDelayMS != nil {
			wm = fmt.Sprintf("watermark %s, %s behind now", s.Watermark.Format(time.RFC3339Nano), (time.Duration(*s.WatermarkDelayMS) * time.Millisecond).String())
		}
		fmt.Fprintf(w, "source %s: lag %s, %s\n", s.Name, lag, wm)
	}
	fmt.Fprintf(w, "sink: last write %d rows, mean write %.1f ms; queues: operators %.0f%%, sink %.0f%% full\n",
		m.SinkBatchRows, m.SinkLatencyMS, m.OperatorQueue*100, m.SinkQueue*100)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// topCmd shows the pipelines list again every interval until Ctrl-C (or
// --count refreshes). On a terminal each refresh replaces the screen; to a
// file or pipe each is printed after the last, under a time stamp line.
func topCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("top", stderr)
	srvURL := clientFlags(fs)
	every := fs.Duration("interval", time.Second, "time between refreshes (at least 100ms)")
	count := fs.Int("count", 0, "stop after this many refreshes (0: until Ctrl-C)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *every < 100*time.Millisecond {
		return &exitError{code: 2, msg: fmt.Sprintf("--interval %s: want at least 100ms", *every)}
	}
	if *count < 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("--count %d: want 0 (until Ctrl-C) or more", *count)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := newClient(*srvURL)
	tty := isTerminal(stdout)
	prev := map[string]topSample{}
	for n := 1; ; n++ {
		var list []server.Object
		fail, err := c.do(http.MethodGet, "/api/v1/pipelines", "", nil, &list)
		if n == 1 {
			// The first look fails like every other command.
			if err != nil {
				return err
			}
			if fail != nil {
				return fail.exit()
			}
		}
		now := time.Now()
		var b strings.Builder
		if tty {
			b.WriteString("\x1b[H\x1b[2J")
		} else if n > 1 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "sluice top — %s — %s (every %s, Ctrl-C to quit)\n", c.base, now.Format("15:04:05"), *every)
		switch {
		case err != nil:
			fmt.Fprintf(&b, "server unreachable: %v\n", err)
		case fail != nil:
			fmt.Fprintf(&b, "error: %s\n", fail.Error)
		default:
			writeTop(&b, list, prev, now)
		}
		io.WriteString(stdout, b.String())
		if *count > 0 && n >= *count {
			return nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(stdout)
			}
			return nil
		case <-time.After(*every):
		}
	}
}

type topSample struct {
	at      time.Time
	since   time.Time
	in, out int64
}

func writeTop(w io.Writer, list []server.Object, prev map[string]topSample, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tIN\tOUT\tIN/S\tOUT/S\tLAG\tDUPS\tDLQ\tCHECKPOINT\tERROR")
	seen := map[string]bool{}
	for _, p := range list {
		seen[p.Name] = true
		in, out, rin, rout, lag, dups, dlq, ckpt := "-", "-", "-", "-", "-", "-", "-", "-"
		if m := p.Metrics; m != nil && p.Since != nil {
			in, out = fmt.Sprint(m.RecordsIn), fmt.Sprint(m.RowsWritten)
			dups, dlq = fmt.Sprint(m.DedupDropped), fmt.Sprint(m.DeadLettered)
			lag = fmt.Sprint(m.Lag)
			if m.Lag < 0 {
				lag = "?"
			}
			if m.CheckpointAgeS != nil {
				ckpt = fmt.Sprintf("%.0fs ago", *m.CheckpointAgeS)
			}
			if old, ok := prev[p.Name]; ok && old.since.Equal(*p.Since) {
				if dt := now.Sub(old.at).Seconds(); dt > 0 {
					rin = fmt.Sprintf("%.1f", float64(m.RecordsIn-old.in)/dt)
					rout = fmt.Sprintf("%.1f", float64(m.RowsWritten-old.out)/dt)
				}
			}
			prev[p.Name] = topSample{at: now, since: *p.Since, in: m.RecordsIn, out: m.RowsWritten}
		} else {
			delete(prev, p.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.State, in, out, rin, rout, lag, dups, dlq, ckpt, firstLine(p.Error))
	}
	for k := range prev {
		if !seen[k] {
			delete(prev, k)
		}
	}
	tw.Flush()
	if len(list) == 0 {
		fmt.Fprintln(w, "(no pipelines)")
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
