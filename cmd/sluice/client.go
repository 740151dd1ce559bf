package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/sql"
	"github.com/sluice-sql/sluice/web"
)

// client talks to a Sluice server's HTTP API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// clientFlags adds --server to fs; the token comes from SLUICE_API_TOKEN,
// never from a flag, so it stays out of shell history and process lists.
func clientFlags(fs *flag.FlagSet) *string {
	return fs.String("server", defaultServer(), "URL of the Sluice server (env SLUICE_SERVER); the token is read from SLUICE_API_TOKEN")
}

// defaultServer is the server the CLI talks to without --server.
func defaultServer() string { return envOr("SLUICE_SERVER", "http://localhost:8080") }

func newClient(base string) *client {
	return &client{base: strings.TrimRight(base, "/"), token: os.Getenv("SLUICE_API_TOKEN"), http: &http.Client{Timeout: 5 * time.Minute}}
}

// apiFailure is an error response of the API.
type apiFailure struct {
	status int
	Error  string           `json:"error"`
	Errors []web.Diagnostic `json:"errors"`
	More   int              `json:"more"` // errors the answer does not list
}

func (c *client) do(method, path, contentType string, body io.Reader, out any) (*apiFailure, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("cannot reach the Sluice server at %s: %v (start one with `sluice server` or `make run`, or point --server at it)", c.base, rootCause(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the server's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		f := &apiFailure{status: resp.StatusCode}
		if json.Unmarshal(raw, f) != nil || f.Error == "" {
			f.Error = strings.TrimSpace(string(raw))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			f.Error += " — set SLUICE_API_TOKEN to the server's token"
		}
		return f, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode the server's answer: %w", err)
		}
	}
	return nil, nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// failure turns an API error into exit code 1 with its message.
func (f *apiFailure) exit() error {
	return &exitError{code: 1, msg: f.Error}
}

// script is a set of files sent as one script, so they apply together or
// not at all; lines lets errors point into the right file.
type script struct {
	src   string
	files []scriptFile
}

type scriptFile struct {
	name      string
	text      string
	firstLine int // line of the combined script where the file starts
}

// readScripts reads -f: a file, "-" for standard input, or a directory
// whose *.sql files are taken in name order.
func readScripts(path string) (*script, error) {
	if path == "" {
		return nil, &exitError{code: 2, msg: "-f FILE|DIR is required"}
	}
	var names []string
	if path != "-" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("read script: %w", err)
		}
		if st.IsDir() {
			m, err := filepath.Glob(filepath.Join(path, "*.sql"))
			if err != nil {
				return nil, err
			}
			slices.Sort(m)
			if len(m) == 0 {
				return nil, &exitError{code: 1, msg: fmt.Sprintf("%s has no .sql files", path)}
			}
			names = m
		}
	}
	if names == nil {
		names = []string{path}
	}
	s := &script{}
	line := 1
	var b strings.Builder
	for _, n := range names {
		text, err := readScript(n)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		s.files = append(s.files, scriptFile{name: n, text: text, firstLine: line})
		b.WriteString(text)
		line += strings.Count(text, "\n")
	}
	s.src = b.String()
	return s, nil
}

// render prints diagnostics against the files they point into.
func (s *script) render(w io.Writer, diags []web.Diagnostic) {
	for _, d := range diags {
		f := s.files[0]
		for _, cand := range s.files {
			if cand.firstLine <= d.Line {
				f = cand
			}
		}
		local := d.Line - f.firstLine + 1
		e := errorAt(local, d)
		fmt.Fprintf(w, "%s:%s", f.name, strings.TrimPrefix(e.Render(f.text), "error at "))
	}
}

func errorAt(line int, d web.Diagnostic) *sql.Error {
	return &sql.Error{Pos: sql.Pos{Line: line, Col: d.Column}, Msg: d.Message, Hint: d.Hint}
}

func applyCmd(args []string, stdout, stderr io.Writer) error {
	return submit("apply", args, stdout, stderr, false)
}

func validateCmd(args []string, stdout, stderr io.Writer) error {
	return submit("validate", args, stdout, stderr, true)
}

func submit(name string, args []string, stdout, stderr io.Writer, dryRun bool) error {
	fs := newFlags(name, stderr)
	file := fs.String("f", "", "the SQL file, or a directory of .sql files applied together (- for standard input)")
	srvURL := clientFlags(fs)
	explain := fs.Bool("explain", false, "print the operator graph of every pipeline and SELECT")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := readScripts(*file)
	if err != nil {
		return err
	}
	path := "/api/v1/scripts?mode=apply"
	if dryRun {
		path = "/api/v1/validate?mode=apply"
	}
	var res server.ScriptResult
	fail, err := newClient(*srvURL).do(http.MethodPost, path, "application/sql", strings.NewReader(s.src), &res)
	if err != nil {
		return err
	}
	if fail != nil {
		if len(fail.Errors) > 0 {
			s.render(stderr, fail.Errors)
			if fail.More > 0 {
				fmt.Fprintf(stderr, "… and %d more error(s)\n", fail.More)
			}
			return &exitError{code: 1, msg: fmt.Sprintf("%s: %d error(s); nothing was applied", *file, len(fail.Errors)+fail.More)}
		}
		return fail.exit()
	}
	changed, unchanged := 0, 0
	for _, st := range res.Statements {
		fmt.Fprintln(stdout, statementLine(st, dryRun))
		switch st.Action {
		case server.ActionUnchanged:
			unchanged++
		case server.ActionCreated, server.ActionReplaced, server.ActionDropped, server.ActionStarted, server.ActionStopped:
			changed++
		}
		if st.Result != nil {
			fmt.Fprint(stdout, indent(st.Result.String()))
		}
	}
	if *explain || dryRun {
		for _, p := range res.Plans {
			title := "SELECT"
			if p.Name != "" {
				title = "pipeline " + p.Name
			}
			fmt.Fprintf(stdout, "\n%s:\n%s", title, indent(p.Explain))
		}
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(stdout, "%d %s, %d unchanged\n", changed, verb, unchanged)
	if dryRun {
		return nil
	}
	return checkStarted(newClient(*srvURL), startedBy(res), stderr)
}

// startSettle is how long the CLI watches the pipelines a command started
// for a failure at once (a sink that cannot connect, a bad option).
var startSettle = 1500 * time.Millisecond

// startedBy returns the pipelines res (re)started: created, replaced or
// started ones, and those replanned because a source or sink they use
// was replaced.
func startedBy(res server.ScriptResult) []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, st := range res.Statements {
		if st.Kind == "pipeline" && (st.Action == server.ActionCreated || st.Action == server.ActionStarted || st.Action == server.ActionReplaced) {
			add(st.Name)
		}
		for _, a := range st.Also {
			if name, ok := strings.CutPrefix(a, "replace pipeline "); ok {
				add(name)
			}
		}
	}
	return out
}

// checkStarted watches the pipelines for startSettle and reports those
// that failed (exit 1), so that `sluice start` and `sluice apply` do not
// say a pipeline started when it failed at once. A pipeline that is told
// not to run is not watched.
func checkStarted(c *client, names []string, stderr io.Writer) error {
	return reportFailed(names, watchStarted(c, names), stderr)
}

// watchStarted watches the pipelines for startSettle and returns the
// errors of those that failed, by name.
func watchStarted(c *client, names []string) map[string]string {
	failed := map[string]string{}
	if len(names) == 0 {
		return failed
	}
	deadline := time.Now().Add(startSettle)
	for {
		pending := false
		for _, name := range names {
			if _, done := failed[name]; done {
				continue
			}
			var o server.Object
			fail, err := c.do(http.MethodGet, "/api/v1/pipelines/"+url.PathEscape(name), "", nil, &o)
			if err != nil || fail != nil {
				continue // dropped meanwhile, or the server went away
			}
			switch {
			case o.State == "failed":
				failed[name] = o.Error
			case o.Metrics != nil && (o.Metrics.RowsWritten > 0 || o.Metrics.Checkpoints > 0):
				// It has written: its sources and sink are open.
			case o.Running != nil && *o.Running:
				pending = true
			}
		}
		if !pending || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return failed
}

// reportFailed writes the error of each failed pipeline and returns the
// exit error that names them, or nil when none failed.
func reportFailed(names []string, failed map[string]string, stderr io.Writer) error {
	if len(failed) == 0 {
		return nil
	}
	var list []string
	for _, name := range names {
		if msg, ok := failed[name]; ok {
			fmt.Fprintf(stderr, "pipeline %s failed: %s\n", name, msg)
			list = append(list, name)
		}
	}
	return &exitError{code: 1, msg: fmt.Sprintf("%s failed to start (sluice describe %s)", strings.Join(list, ", "), list[0])}
}

func statementLine(st server.StatementResult, dryRun bool) string {
	what := strings.TrimSpace(st.Kind + " " + st.Name)
	if what == "" {
		what = fmt.Sprintf("statement %d", st.Index+1)
	}
	action := st.Action
	if dryRun {
		switch action {
		case server.ActionCreated, server.ActionReplaced, server.ActionDropped, server.ActionStarted, server.ActionStopped:
			action = "would be " + action
		}
	}
	line := what + " " + action
	if st.Restarted {
		restarted := "restarted"
		if dryRun {
			restarted = "would restart"
		}
		if st.StateKept != nil && *st.StateKept {
			line += " (" + restarted + ", state kept)"
		} else {
			line += " (" + restarted + "; its plan changed, so dedup/join/window state starts empty from the committed offsets)"
		}
	}
	for _, a := range st.Also {
		line += "\n  also: " + a
	}
	if st.Notice != "" {
		line += " — " + st.Notice
	}
	return line
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}

func pipelinesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pipelines", stderr)
	srvURL := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var list []server.Object
	fail, err := newClient(*srvURL).do(http.MethodGet, "/api/v1/pipelines", "", nil, &list)
	if err != nil {
		return err
	}
	if fail != nil {
		return fail.exit()
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSOURCES\tSINK\tIN\tOUT\tDEDUP\tLAG\tERROR")
	for _, p := range list {
		in, out, dd, lag := "-", "-", "-", "-"
		if m := p.Metrics; m != nil {
			in, out, dd, lag = fmt.Sprint(m.RecordsIn), fmt.Sprint(m.RowsWritten), fmt.Sprint(m.DedupDropped), fmt.Sprint(m.Lag)
		}
		state := p.State
		if p.Running != nil && !*p.Running && state != "stopped" {
			state += " (stopping)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, state, strings.Join(p.Sources, ","), p.Sink, in, out, dd, lag, firstLine(p.Error))
	}
	return tw.Flush()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// describeTasks prints where the tasks of a split pipeline run: per stage
// (the pipeline's own graph last), how many tasks each server holds, and
// the tasks no server holds.
func describeTasks(tw io.Writer, tasks []server.TaskView) {
	var stages []string
	byStage := map[string][]server.TaskView{}
	for _, t := range tasks {
		if _, ok := byStage[t.Stage]; !ok {
			stages = append(stages, t.Stage)
		}
		byStage[t.Stage] = append(byStage[t.Stage], t)
	}
	for _, st := range stages {
		ts := byStage[st]
		label := "tasks"
		if st != "" {
			label = "stage " + st
		}
		var owners []string
		count := map[string]int{}
		var free []string
		for _, t := range ts {
			owner := t.Owner
			switch {
			case owner == "" && t.RunningHere:
				// A server with its own catalog: no leases.
				owner = "this server"
			case owner == "" || !t.LeaseLive:
				free = append(free, fmt.Sprint(t.Index))
				continue
			}
			if count[owner] == 0 {
				owners = append(owners, owner)
			}
			count[owner]++
		}
		slices.Sort(owners)
		var parts []string
		for _, n := range owners {
			parts = append(parts, fmt.Sprintf("%d on %s", count[n], n))
		}
		if len(free) > 0 {
			parts = append(parts, fmt.Sprintf("%d on no server (task %s)", len(free), strings.Join(free, ", ")))
		}
		fmt.Fprintf(tw, "%s\t%d: %s\n", label, len(ts), strings.Join(parts, ", "))
	}
}

func describeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("describe", stderr)
	srvURL := clientFlags(fs)
	name, err := parseNamed(fs, args)
	if err != nil {
		return err
	}
	var o server.Object
	fail, err := newClient(*srvURL).do(http.MethodGet, "/api/v1/objects/"+url.PathEscape(name), "", nil, &o)
	if err != nil {
		return err
	}
	if fail != nil {
		return fail.exit()
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", o.Kind, o.Name)
	if o.Connector != "" {
		fmt.Fprintf(tw, "connector\t%s\n", o.Connector)
	}
	if o.Kind == "pipeline" {
		fmt.Fprintf(tw, "state\t%s\n", o.State)
		if o.Error != "" {
			fmt.Fprintf(tw, "error\t%s\n", o.Error)
		}
		for _, w := range o.Warnings {
			fmt.Fprintf(tw, "warning\t%s\n", w)
		}
		if o.NextRetry != nil {
			fmt.Fprintf(tw, "retry\tattempt %d at %s (in %s)\n", o.Attempts+1, o.NextRetry.Format(time.RFC3339),
				max(time.Until(*o.NextRetry), 0).Round(time.Second))
		}
		if len(o.Tasks) > 1 {
			describeTasks(tw, o.Tasks)
		} else if o.Owner != "" {
			// Servers sharing a catalog: which one holds the lease.
			if o.LeaseLive != nil && *o.LeaseLive {
				fmt.Fprintf(tw, "runs on\t%s (lease epoch %d)\n", o.Owner, o.LeaseEpoch)
			} else {
				fmt.Fprintf(tw, "runs on\tno server: the lease of %s (epoch %d) was given up or ran out\n", o.Owner, o.LeaseEpoch)
			}
		}
		fmt.Fprintf(tw, "reads\t%s\nwrites\t%s\n", strings.Join(o.Sources, ", "), o.Sink)
		if o.Since != nil {
			fmt.Fprintf(tw, "running since\t%s\n", o.Since.Format(time.RFC3339))
		}
	}
	if len(o.UsedBy) > 0 {
		fmt.Fprintf(tw, "used by\t%s\n", strings.Join(o.UsedBy, ", "))
	}
	fmt.Fprintf(tw, "created\t%s\nupdated\t%s\n", o.Created.Format(time.RFC3339), o.Updated.Format(time.RFC3339))
	keys := make([]string, 0, len(o.Options))
	for k := range o.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "option %s\t%s\n", k, o.Options[k])
	}
	for _, c := range o.Columns {
		if c.Pseudo {
			fmt.Fprintf(tw, "pseudo-column %s\t%s\n", c.Name, c.Type)
			continue
		}
		fmt.Fprintf(tw, "column %s\t%s\n", c.Name, c.Type)
	}
	if m := o.Metrics; m != nil {
		fmt.Fprintf(tw, "metrics\tin=%d out=%d dedup_dropped=%d join_matches=%d join_expired=%d late=%d dlq=%d lag=%d checkpoints=%d sink_latency=%.1fms\n",
			m.RecordsIn, m.RowsWritten, m.DedupDropped, m.JoinMatches, m.JoinExpired, m.LateRows, m.DeadLettered, m.Lag, m.Checkpoints, m.SinkLatencyMS)
	}
	tw.Flush()
	if m := o.Metrics; m != nil && o.Kind == "pipeline" {
		operatorTable(newClient(*srvURL), o.Name, m, stdout)
	}
	fmt.Fprintf(stdout, "\n%s;\n", o.Canonical)
	if o.Explain != "" {
		fmt.Fprintf(stdout, "\n%s\n", strings.TrimRight(o.Explain, "\n"))
	}
	return nil
}

// parseNamed parses flags followed by one NAME argument; flags may also
// come after the name.
func parseNamed(fs *flag.FlagSet, args []string) (string, error) {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	switch len(rest) {
	case 0:
		return "", &exitError{code: 2, msg: fmt.Sprintf("%s: a NAME is required", fs.Name())}
	case 1:
		return rest[0], nil
	}
	return "", &exitError{code: 2, msg: fmt.Sprintf("unexpected argument %q", rest[1])}
}

func controlCmd(verb string) func([]string, io.Writer, io.Writer) error {
	return func(args []string, stdout, stderr io.Writer) error {
		fs := newFlags(verb, stderr)
		srvURL := clientFlags(fs)
		name, err := parseNamed(fs, args)
		if err != nil {
			return err
		}
		method, path := http.MethodPost, "/api/v1/pipelines/"+url.PathEscape(name)+"/"+verb
		if verb == "drop" {
			method, path = http.MethodDelete, "/api/v1/pipelines/"+url.PathEscape(name)
		}
		var res server.ScriptResult
		fail, err := newClient(*srvURL).do(method, path, "", nil, &res)
		if err != nil {
			return err
		}
		if fail != nil {
			return fail.exit()
		}
		if verb != "start" {
			for _, st := range res.Statements {
				fmt.Fprintln(stdout, statementLine(st, false))
			}
			return nil
		}
		// A pipeline that fails at once is reported as failed, not as
		// started.
		names := startedBy(res)
		failed := watchStarted(newClient(*srvURL), names)
		for _, st := range res.Statements {
			if _, bad := failed[st.Name]; bad && st.Kind == "pipeline" && st.Action == server.ActionStarted {
				continue
			}
			fmt.Fprintln(stdout, statementLine(st, false))
		}
		return reportFailed(names, failed, stderr)
	}
}

func previewCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("preview", stderr)
	srvURL := clientFlags(fs)
	limit := fs.Int64("limit", 0, "stop after this many rows (default: the SELECT's LIMIT, else the server's cap)")
	pipeline := fs.String("pipeline", "", "preview the SELECT of this pipeline instead, without writing its sink")
	asJSON := fs.Bool("json", false, "print each row as a JSON object")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	src := strings.Join(rest, " ")
	if src == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		src = string(b)
	}
	if src == "" && *pipeline == "" {
		return &exitError{code: 2, msg: `preview: give a SELECT ("SELECT … FROM source") or --pipeline NAME`}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := newClient(*srvURL)
	u, err := url.Parse(c.base + "/api/v1/preview")
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			var f apiFailure
			if json.Unmarshal(body, &f) == nil && f.Error != "" {
				return &exitError{code: 1, msg: f.Error}
			}
			return &exitError{code: 1, msg: fmt.Sprintf("preview: the server answered %s", resp.Status)}
		}
		return &exitError{code: 1, msg: fmt.Sprintf("cannot reach the Sluice server at %s: %v (start one with `sluice server` or `make run`, or point --server at it)", c.base, rootCause(err))}
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		conn.Close()
	}()
	req, _ := json.Marshal(map[string]any{"sql": src, "pipeline": *pipeline, "limit": *limit})
	if err := conn.WriteMessage(websocket.TextMessage, req); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	var cols []server.Column
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return &exitError{code: 1, msg: fmt.Sprintf("preview: the connection ended: %v", err)}
		}
		var m struct {
			Type    string            `json:"type"`
			Columns []server.Column   `json:"columns"`
			Rows    []json.RawMessage `json:"rows"`
			Total   int64             `json:"total"`
			Reason  string            `json:"reason"`
			Message string            `json:"message"`
			Errors  []web.Diagnostic  `json:"errors"`
			More    int               `json:"more"`
			Elapsed int64             `json:"elapsed_ms"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			return fmt.Errorf("preview: bad message from the server: %w", err)
		}
		switch m.Type {
		case "schema":
			cols = m.Columns
			if !*asJSON {
				names := make([]string, len(cols))
				for i, c := range cols {
					names[i] = c.Name
				}
				fmt.Fprintln(tw, strings.Join(names, "\t"))
				tw.Flush()
			}
		case "rows":
			for _, r := range m.Rows {
				if *asJSON {
					fmt.Fprintf(stdout, "%s\n", r)
					continue
				}
				fmt.Fprintln(tw, rowLine(r, cols))
			}
			// Rows show as they arrive; the columns align within a batch.
			tw.Flush()
		case "end":
			fmt.Fprintf(stderr, "-- %d row(s), %s (%s)\n", m.Total, time.Duration(m.Elapsed)*time.Millisecond, m.Reason)
			return nil
		case "error":
			if len(m.Errors) > 0 {
				s := &script{src: src, files: []scriptFile{{name: "preview", text: src, firstLine: 1}}}
				s.render(stderr, m.Errors)
				if m.More > 0 {
					fmt.Fprintf(stderr, "… and %d more error(s)\n", m.More)
				}
				return &exitError{code: 1, msg: fmt.Sprintf("preview: %d error(s)", len(m.Errors)+m.More)}
			}
			return &exitError{code: 1, msg: "preview: " + m.Message}
		}
	}
}

// rowLine renders a JSON row object as tab-separated values in column
// order; strings without their quotes.
func rowLine(raw json.RawMessage, cols []server.Column) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return string(raw)
	}
	vals := make([]string, len(cols))
	for i, c := range cols {
		v := obj[c.Name]
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			vals[i] = s
		} else {
			vals[i] = string(bytes.TrimSpace(v))
		}
	}
	return strings.Join(vals, "\t")
}
