package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/confine"
	jsonformat "github.com/sluice-sql/sluice/format/json"
	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/web"
)

// serverConfig is what `sluice server` and `sluice dev` start a server
// with.
type serverConfig struct {
	listen   string
	postgres string // catalog database; "" for the embedded store
	schema   string
	dataDir  string
	token    string
	origins  []string
	hosts    []string // allowed Host names; none: any
	// filesDir is the files root (package confine); "" for
	// <dataDir>/files.
	filesDir string
	// checkpoints is "postgres" (in the catalog database), "dir" (under
	// dataDir), or "" for postgres when the catalog is there, else dir.
	checkpoints string
	// groupID is the default prefix of consumer groups.
	groupID string
	// checkpointEvery is the default checkpoint interval of pipelines
	// with a continuous sink.
	checkpointEvery time.Duration
	// nodeID and leaseTime: see server.Config (servers sharing a
	// PostgreSQL catalog).
	nodeID    string
	leaseTime time.Duration
	// notify configures failure notifications; its PublicURL defaults
	// to the URL the server listens on.
	notify   server.NotifyConfig
	logLevel slog.Level
	stderr   io.Writer
}

func serverCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("server", stderr)
	cfg := serverConfig{stderr: stderr}
	fs.StringVar(&cfg.listen, "listen", envOr("SLUICE_LISTEN", ":8080"), "address to serve the API on (env SLUICE_LISTEN)")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("SLUICE_POSTGRES_URL"), "PostgreSQL URL of the catalog (env SLUICE_POSTGRES_URL); empty keeps the catalog in -data-dir")
	fs.StringVar(&cfg.schema, "schema", envOr("SLUICE_POSTGRES_SCHEMA", "sluice"), "PostgreSQL schema of the catalog (env SLUICE_POSTGRES_SCHEMA)")
	fs.StringVar(&cfg.dataDir, "data-dir", envOr("SLUICE_DATA_DIR", ".sluice"), "where the server keeps checkpoints and, without -postgres, the catalog (env SLUICE_DATA_DIR)")
	fs.StringVar(&cfg.checkpoints, "checkpoints", os.Getenv("SLUICE_CHECKPOINTS"), "where pipeline checkpoints are kept: postgres (the catalog database) or dir (-data-dir); default postgres with -postgres, else dir (env SLUICE_CHECKPOINTS)")
	fs.StringVar(&cfg.groupID, "group-id", envOr("SLUICE_GROUP_ID", "sluice"), "default prefix of the pipelines' Kafka consumer groups, <group-id>.<pipeline>, for sources without a group_id option (env SLUICE_GROUP_ID)")
	fs.StringVar(&cfg.filesDir, "files-dir", os.Getenv("SLUICE_FILES_DIR"), "the only directory file sinks may write in; a relative sink path is taken under it (env SLUICE_FILES_DIR; default <data-dir>/files)")
	origins := fs.String("allowed-origins", os.Getenv("SLUICE_ALLOWED_ORIGINS"), "comma-separated browser origins allowed to open websockets besides the server's own (env SLUICE_ALLOWED_ORIGINS)")
	hosts := fs.String("allowed-hosts", os.Getenv("SLUICE_ALLOWED_HOSTS"), "comma-separated host names requests may be addressed to (the Host header, without port); empty admits any (env SLUICE_ALLOWED_HOSTS)")
	checkpointEvery := fs.String("checkpoint-interval", envOr("SLUICE_CHECKPOINT_INTERVAL", runtime.DefaultCheckpointInterval.String()), "how often a pipeline whose sink writes continuously (Kafka, file, stdout) checkpoints, unless its checkpoint_interval option says otherwise (env SLUICE_CHECKPOINT_INTERVAL)")
	fs.StringVar(&cfg.nodeID, "node-id", os.Getenv("SLUICE_NODE_ID"), "this server's name among the servers sharing the -postgres catalog, recorded as the owner of the pipelines it runs; unique per process (env SLUICE_NODE_ID; default <host name>-<pid>)")
	leaseTime := fs.String("lease-time", envOr("SLUICE_LEASE_TIME", server.DefaultLeaseTime.String()), "how long a pipeline's lease lasts unless renewed (every third of it): the longest a dead server's pipelines wait before another server of the -postgres catalog takes them over (env SLUICE_LEASE_TIME)")
	fs.StringVar(&cfg.notify.URL, "notify-url", os.Getenv("SLUICE_NOTIFY_URL"), "webhook told when a pipeline fails, recovers or falls behind, for pipelines without a notify_url option (env SLUICE_NOTIFY_URL)")
	fs.StringVar(&cfg.notify.Format, "notify-format", envOr("SLUICE_NOTIFY_FORMAT", "json"), "payload of -notify-url: json or slack (env SLUICE_NOTIFY_FORMAT)")
	fs.StringVar(&cfg.notify.PublicURL, "public-url", os.Getenv("SLUICE_PUBLIC_URL"), "the server's URL as users reach it, for the links in notifications (env SLUICE_PUBLIC_URL; default the listen address)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if d, err := time.ParseDuration(*checkpointEvery); err != nil || d <= 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("-checkpoint-interval %q: want a positive duration such as 5s or 500ms", *checkpointEvery)}
	} else {
		cfg.checkpointEvery = d
	}
	d, err := time.ParseDuration(*leaseTime)
	if err != nil || d < time.Second || d > time.Hour {
		return &exitError{code: 2, msg: fmt.Sprintf("-lease-time %q: give a duration from 1s to 1h, e.g. 15s", *leaseTime)}
	}
	cfg.leaseTime = d
	if err := checkNotifyFlags(cfg.notify); err != nil {
		return err
	}
	cfg.token = os.Getenv("SLUICE_API_TOKEN")
	if *origins != "" {
		cfg.origins = strings.Split(*origins, ",")
	}
	if *hosts != "" {
		cfg.hosts = strings.Split(*hosts, ",")
	}
	if *debug {
		cfg.logLevel = slog.LevelDebug
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rs, err := startServer(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sluice server listening on %s\n", rs.url)
	<-ctx.Done()
	return rs.shutdown()
}

// checkNotifyFlags refuses a -notify-url that is not an http(s) URL and
// a -notify-format other than json or slack.
func checkNotifyFlags(n server.NotifyConfig) error {
	if n.URL != "" {
		if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &exitError{code: 2, msg: fmt.Sprintf("-notify-url %q: want an http:// or https:// URL", secret.MaskText(n.URL))}
		}
	}
	if f := strings.ToLower(n.Format); f != "" && f != "json" && f != "slack" {
		return &exitError{code: 2, msg: fmt.Sprintf("-notify-format %q: want json or slack", n.Format)}
	}
	if u := n.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return &exitError{code: 2, msg: fmt.Sprintf("-public-url %q: want the server's URL, e.g. https://sluice.example.com", u)}
		}
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runningServer is a started server and its HTTP listener.
type runningServer struct {
	url  string
	srv  *server.Server
	http *http.Server
	cat  *catalog.Store
	log  *slog.Logger
	errc chan error
}

// startServer opens the catalog, resumes the pipelines and serves the API.
func startServer(ctx context.Context, cfg serverConfig) (*runningServer, error) {
	log := slog.New(secret.LogHandler(slog.NewJSONHandler(cfg.stderr, &slog.HandlerOptions{Level: cfg.logLevel})))
	// Connectors log through the default logger: make theirs structured
	// and levelled like the server's.
	slog.SetDefault(log)
	if cfg.filesDir == "" {
		cfg.filesDir = filepath.Join(cfg.dataDir, "files")
	}
	if err := confine.SetRoot(cfg.filesDir); err != nil {
		return nil, err
	}
	log.Info("file sinks write under the files directory", "dir", confine.Root())
	var cat *catalog.Store
	var err error
	if cfg.postgres != "" {
		cat, err = catalog.OpenPostgres(ctx, cfg.postgres, cfg.schema)
		log.Info("catalog in PostgreSQL", "schema", cfg.schema)
	} else {
		cat, err = catalog.OpenDir(ctx, filepath.Join(cfg.dataDir, "catalog"))
		log.Info("catalog in the data directory", "dir", filepath.Join(cfg.dataDir, "catalog"))
	}
	if err != nil {
		return nil, err
	}
	var ckpt runtime.CheckpointStore
	switch cfg.checkpoints {
	case "", "postgres":
		if c, ok := cat.Checkpoints(); ok {
			ckpt = c
			log.Info("checkpoints in PostgreSQL")
		} else if cfg.checkpoints == "postgres" {
			cat.Close()
			return nil, &exitError{code: 2, msg: "-checkpoints postgres needs -postgres"}
		}
	case "dir":
	default:
		cat.Close()
		return nil, &exitError{code: 2, msg: fmt.Sprintf("-checkpoints %q: use postgres or dir", cfg.checkpoints)}
	}
	if ckpt == nil {
		log.Info("checkpoints in the data directory", "dir", filepath.Join(cfg.dataDir, "checkpoints"))
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		cat.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	notify := cfg.notify
	notify.Format = strings.ToLower(notify.Format)
	if notify.PublicURL == "" {
		notify.PublicURL = "http://" + displayAddr(ln.Addr())
	}
	srv, err := server.New(server.Config{
		Catalog:            cat,
		StateDir:           cfg.dataDir,
		Checkpoints:        ckpt,
		GroupID:            cfg.groupID,
		NodeID:             cfg.nodeID,
		LeaseTime:          cfg.leaseTime,
		Logger:             log,
		CheckpointInterval: cfg.checkpointEvery,
		Notify:             notify,
		NewRowEncoder: func(s dag.Schema) server.RowEncoder {
			return jsonformat.NewEncoder(s).AppendRow
		},
	})
	if err != nil {
		ln.Close()
		cat.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector(), srv.NotifyCollector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hs := &http.Server{
		Handler:           web.Handler(web.Config{Server: srv, Token: cfg.token, Origins: cfg.origins, AllowedHosts: cfg.hosts, Gatherer: reg, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	rs := &runningServer{url: "http://" + displayAddr(ln.Addr()), srv: srv, http: hs, cat: cat, log: log, errc: make(chan error, 1)}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rs.errc <- err
		}
	}()
	// Serving before the pipelines resume lets /healthz answer and /readyz
	// tell "starting" while checkpoints load.
	srv.Start()
	log.Info("server ready", "url", rs.url, "auth", cfg.token != "")
	return rs, nil
}

// displayAddr turns a wildcard listen address into one a browser opens.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// shutdown stops serving, then stops every pipeline in order (rows
// written, state checkpointed) without marking them stopped, so the next
// start resumes them.
func (rs *runningServer) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs.http.Shutdown(ctx)
	rs.srv.Close()
	rs.log.Info("server stopped: pipelines checkpointed")
	return rs.cat.Close()
}
