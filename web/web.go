package web

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/sql"
)

//go:embed openapi.json
var openAPI []byte

// Config configures the HTTP handler.
type Config struct {
	Server *server.Server
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every /api call, websockets included.
	Token string
	// Origins are the browser origins (scheme://host[:port]) allowed to
	// open websockets besides the server's own host. Clients that send no
	// Origin (the CLI, scripts) are not browsers and are allowed.
	Origins []string
	// Gatherer serves /metrics; nil serves the default registry.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// MaxBodyBytes limits a request body (a script); default 4 MiB.
	MaxBodyBytes int64
	// PreviewTimeout ends a preview that has not ended by itself; default
	// 2 minutes. PreviewMaxRows ends it after that many rows; default
	// 10000.
	PreviewTimeout time.Duration
	PreviewMaxRows int64
	// PreviewStatsEvery is how often a preview sends its counters (a
	// stats message); default 1 second. One more is sent at its end.
	PreviewStatsEvery time.Duration
	// MaxPlanning bounds the scripts and previews planned at once (every
	// POST /api/v1/scripts and /validate, every preview request); default
	// one less than the CPUs Go uses, at least 1, so that large requests
	// never take every core from the pipelines and /healthz. PlanWait is
	// how long a request waits for its turn before it is answered 503;
	// default 30 s.
	MaxPlanning int
	PlanWait    time.Duration
	// PlanTimeout bounds the time one request spends parsing, checking and
	// planning once its turn has come; default 10 s. A script that takes
	// longer is answered 422 with an error at the statement being checked
	// ("checking stopped here: planning took longer than the server allows
	// one request (10s)"), and nothing is applied; a preview gets the same
	// error message.
	PlanTimeout time.Duration
	// AllowedHosts, when not empty, are the only host names (without the
	// port) a request's Host header may name; others are answered 421.
	// `sluice dev` admits only localhost, 127.0.0.1 and ::1, so that a web
	// page cannot reach it through a DNS name re-pointed at 127.0.0.1 (DNS
	// rebinding).
	AllowedHosts []string
}

// LocalHosts are the host names of the local machine: `sluice dev`'s
// AllowedHosts.
var LocalHosts = []string{"localhost", "127.0.0.1", "::1"}

type handler struct {
	cfg     Config
	srv     *server.Server
	log     *slog.Logger
	session string // the session cookie's value (see login.go)
	// planning holds a token per request being planned (see MaxPlanning).
	planning chan struct{}
}

// errBusy answers a request that waited PlanWait for its turn to plan.
var errBusy = errors.New("the server is busy planning other requests; retry later")

// planTurn waits for a turn to plan (parse, check, plan) and returns the
// function that ends it, or errBusy after PlanWait, or the context's error.
// Planning is linear in the size of a script, and a script is at most
// MaxBodyBytes, so each turn is bounded; the number of turns at once
// bounds the CPU all requests take together.
func (h *handler) planTurn(ctx context.Context) (func(), error) {
	t := time.NewTimer(h.cfg.PlanWait)
	defer t.Stop()
	select {
	case h.planning <- struct{}{}:
		return func() { <-h.planning }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Handler returns the HTTP API of cfg.Server.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.PreviewTimeout <= 0 {
		cfg.PreviewTimeout = 2 * time.Minute
	}
	if cfg.PreviewMaxRows <= 0 {
		cfg.PreviewMaxRows = 10000
	}
	if cfg.PreviewStatsEvery <= 0 {
		cfg.PreviewStatsEvery = time.Second
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.MaxPlanning <= 0 {
		cfg.MaxPlanning = max(1, goruntime.GOMAXPROCS(0)-1)
	}
	if cfg.PlanWait <= 0 {
		cfg.PlanWait = 30 * time.Second
	}
	if cfg.PlanTimeout <= 0 {
		cfg.PlanTimeout = 10 * time.Second
	}
	h := &handler{cfg: cfg, srv: cfg.Server, log: cfg.Logger, planning: make(chan struct{}, cfg.MaxPlanning)}
	if cfg.Token != "" {
		h.session = sessionValue(cfg.Token)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.pageGate(h.page))
	mux.Handle("GET /assets/", assets())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))

	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	api.HandleFunc("POST /api/v1/scripts", h.submit)
	api.HandleFunc("POST /api/v1/validate", h.validate)
	api.HandleFunc("GET /api/v1/sources", h.list(sql.ObjSource))
	api.HandleFunc("GET /api/v1/sinks", h.list(sql.ObjSink))
	api.HandleFunc("GET /api/v1/pipelines", h.list(sql.ObjPipeline))
	api.HandleFunc("GET /api/v1/sources/{name}", h.get(sql.ObjSource))
	api.HandleFunc("GET /api/v1/sinks/{name}", h.get(sql.ObjSink))
	api.HandleFunc("GET /api/v1/pipelines/{name}", h.get(sql.ObjPipeline))
	api.HandleFunc("GET /api/v1/objects/{name}", h.get(""))
	api.HandleFunc("POST /api/v1/pipelines/{name}/start", h.control("START PIPELINE"))
	api.HandleFunc("POST /api/v1/pipelines/{name}/stop", h.control("STOP PIPELINE"))
	api.HandleFunc("DELETE /api/v1/pipelines/{name}", h.control("DROP PIPELINE"))
	api.HandleFunc("GET /api/v1/connectors", h.connectors)
	api.HandleFunc("GET /api/v1/functions", h.functions)
	api.HandleFunc("POST /api/v1/session", h.login)
	mux.HandleFunc("DELETE /api/v1/session", h.logout)
	api.HandleFunc("GET /api/v1/preview", h.preview)
	api.HandleFunc("GET /api/v1/pipelines/{name}/tail", h.tail)
	api.HandleFunc("GET /api/v1/pipelines/{name}/graph", h.graph)
	api.HandleFunc("GET /api/v1/pipelines/{name}/live", h.live)
	api.HandleFunc("GET /api/v1/pipelines/{name}/dead_letters", h.deadLetters(sql.ObjPipeline))
	api.HandleFunc("GET /api/v1/sources/{name}/dead_letters", h.deadLetters(sql.ObjSource))
	mux.Handle("/api/", h.auth(api))
	// State-changing calls (POST, PUT, DELETE) from another site are
	// refused: browsers mark them with Sec-Fetch-Site or Origin, while the
	// CLI and curl send neither and pass. Origins allowed for websockets
	// are trusted here too.
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.Origins {
		if err := cop.AddTrustedOrigin(strings.TrimSpace(o)); err != nil {
			h.log.Error("allowed origin ignored", "origin", o, "error", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, apiError{Error: "cross-site request refused: the API takes state-changing calls from its own pages, the CLI and scripts (add the page's origin to --allowed-origins to trust it)"})
	}))
	return h.logRequests(h.checkHost(cop.Handler(mux)))
}

// checkHost answers 421 to a request whose Host is not one of
// AllowedHosts (when there are any).
func (h *handler) checkHost(next http.Handler) http.Handler {
	if len(h.cfg.AllowedHosts) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, a := range h.cfg.AllowedHosts {
		allowed[strings.ToLower(strings.Trim(strings.TrimSpace(a), "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hp, _, err := net.SplitHostPort(host); err == nil {
			host = hp
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if !allowed[host] {
			writeJSON(w, http.StatusMisdirectedRequest, apiError{Error: fmt.Sprintf("host %q is not served here (allowed: %s)", r.Host, strings.Join(h.cfg.AllowedHosts, ", "))})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.srv.Ready() {
		http.Error(w, "starting: resuming pipelines\n", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

// auth requires the token on every API call when one is set: the bearer
// header, the session cookie or, on a websocket, the bearer subprotocol
// (see login.go).
func (h *handler) auth(next http.Handler) http.Handler {
	if h.cfg.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "unauthorized: send Authorization: Bearer <token> (the server's SLUICE_API_TOKEN), or log in"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack hands the connection to the websocket upgrader, which asks for
// http.Hijacker directly.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over")
	}
	s.code = http.StatusSwitchingProtocols
	return h.Hijack()
}

func (h *handler) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return
		}
		h.log.Info("http request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "duration", time.Since(start).Round(time.Microsecond))
	})
}

// Diagnostic is one SQL error, with its range and the rendered source line
// with the range underlined. Lines and columns count from 1, columns in
// characters (code points) of the submitted text; the end is just past
// the construct.
type Diagnostic struct {
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
	Severity  string `json:"severity"` // "error" or "warning"
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	Fixes     []Fix  `json:"fixes,omitempty"`
	Rendered  string `json:"rendered"`
}

// Fix is an edit that mends a diagnostic: replace the text from From up
// to To (exclusive) with Insert.
type Fix struct {
	Title  string   `json:"title"`
	From   Position `json:"from"`
	To     Position `json:"to"`
	Insert string   `json:"insert"`
}

// Position is a place in the submitted text, as in Diagnostic.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

type apiError struct {
	Error  string       `json:"error"`
	Errors []Diagnostic `json:"errors,omitempty"`
	// More counts the errors after the first maxDiagnostics, not listed.
	More int `json:"more,omitempty"`
}

// maxDiagnostics bounds the diagnostics an answer lists; "more" counts the
// rest (the parser and the planner stop at sql.MaxErrors).
const maxDiagnostics = 100

// firstErrors returns the errors an answer lists and how many more there are.
func firstErrors(errs sql.ErrorList) (sql.ErrorList, int) {
	if len(errs) <= maxDiagnostics {
		return errs, 0
	}
	return errs[:maxDiagnostics], len(errs) - maxDiagnostics
}

func diagnostics(errs sql.ErrorList, src string) []Diagnostic {
	errs.SetEnds(src)
	out := make([]Diagnostic, 0, len(errs))
	for _, e := range errs {
		d := Diagnostic{Line: e.Pos.Line, Column: e.Pos.Col, EndLine: e.End.Line, EndColumn: e.End.Col, Severity: e.Severity(),
			Message: e.Msg, Hint: e.Hint, Rendered: e.Render(src)}
		for _, f := range e.Fixes {
			d.Fixes = append(d.Fixes, Fix{Title: f.Title, From: Position{f.From.Line, f.From.Col}, To: Position{f.To.Line, f.To.Col}, Insert: f.Insert})
		}
		out = append(out, d)
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// readScript reads a script from the body: raw SQL, or the first file of
// a multipart upload (a .sql file).
func (h *handler) readScript(w http.ResponseWriter, r *http.Request) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	fail := func(err error) (string, bool) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the script is larger than %d bytes", h.cfg.MaxBodyBytes)})
		} else {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "read the script: " + err.Error()})
		}
		return "", false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return fail(err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "the upload has no file: send the script as a form file (e.g. curl -F file=@pipeline.sql)"})
				return "", false
			}
			if err != nil {
				return fail(err)
			}
			if part.FileName() == "" && part.FormName() != "file" {
				continue
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return fail(err)
			}
			return string(b), true
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fail(err)
	}
	return string(b), true
}

func boolParam(r *http.Request, name string) bool {
	v := strings.ToLower(r.URL.Query().Get(name))
	return v == "1" || v == "true" || v == "yes"
}

func (h *handler) submit(w http.ResponseWriter, r *http.Request) {
	src, ok := h.readScript(w, r)
	if !ok {
		return
	}
	opts := server.ApplyOptions{DryRun: boolParam(r, "dry_run"), Declarative: r.URL.Query().Get("mode") == "apply"}
	h.apply(w, r.Context(), src, opts)
}

func (h *handler) validate(w http.ResponseWriter, r *http.Request) {
	src, ok := h.readScript(w, r)
	if !ok {
		return
	}
	h.apply(w, r.Context(), src, server.ApplyOptions{DryRun: true, Declarative: r.URL.Query().Get("mode") == "apply"})
}

func (h *handler) apply(w http.ResponseWriter, ctx context.Context, src string, opts server.ApplyOptions) {
	if strings.TrimSpace(src) == "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "the script is empty"})
		return
	}
	done, err := h.planTurn(ctx)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
		return
	}
	opts.PlanTimeout = h.cfg.PlanTimeout
	res, errs, err := h.srv.Apply(ctx, src, opts)
	done()
	switch {
	case err != nil:
		h.log.Error("apply script", "error", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
	case len(errs) > 0:
		shown, more := firstErrors(errs)
		writeJSON(w, http.StatusUnprocessableEntity, apiError{
			Error:  fmt.Sprintf("the script has %d error(s); nothing was applied", len(errs)),
			Errors: diagnostics(shown, src),
			More:   more,
		})
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *handler) list(kind sql.ObjectKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.srv.Objects(kind))
	}
}

func (h *handler) get(kind sql.ObjectKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		obj, err := h.srv.Object(kind, r.PathValue("name"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, obj)
	}
}

// control runs START, STOP or DROP on one pipeline through the same path
// as a script, so the catalog and the supervisor see one kind of change.
func (h *handler) control(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if _, err := h.srv.Object(sql.ObjPipeline, name); err != nil {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
			return
		}
		if strings.ContainsAny(name, "`") {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "pipeline names with a backquote cannot be controlled over HTTP; submit a script"})
			return
		}
		h.apply(w, r.Context(), verb+" `"+name+"`;", server.ApplyOptions{})
	}
}
