package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/sluice-sql/sluice/confine"
	"github.com/sluice-sql/sluice/server"
	"github.com/sluice-sql/sluice/web"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed demo/demo.sql
var demoSQL string

var demoTemplate = template.Must(template.New("demo").Parse(demoSQL))

// demoConfig fills the demo script's template.
type demoConfig struct {
	Brokers    string
	ClickHouse string // "" when none is reachable
	File       string
	// ClickHouseUser and ClickHousePassword, when set, are the sink's
	// credentials (the compose demo's env: references).
	ClickHouseUser, ClickHousePassword string
	// Compose renders deploy/compose/demo.sql, the demo of docker
	// compose, instead of the `sluice dev` one.
	Compose bool
}

func devCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	listen := fs.String("listen", "localhost:8080", "address of the API")
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka-protocol broker")
	dataDir := fs.String("data-dir", ".sluice/dev", "where the demo keeps its catalog, checkpoints and broker data; delete it to start over")
	filesDir := fs.String("files-dir", os.Getenv("SLUICE_FILES_DIR"), "the only directory file sinks may write in (env SLUICE_FILES_DIR; default <data-dir>/files)")
	topics := fs.String("topics", "", "more topics for the embedded broker to create besides orders and users, comma-separated (3 partitions each), e.g. the topics of an example under examples/")
	chURL := fs.String("clickhouse", "clickhouse://localhost:9000/default", "ClickHouse the demo writes to when it is reachable; otherwise it writes a file")
	verbose := fs.Bool("v", false, "log every request and pipeline event")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runDev(ctx, devConfig{listen: *listen, kafkaPort: *kafkaPort, dataDir: *dataDir, filesDir: *filesDir, clickhouse: *chURL, topics: splitTopics(*topics), verbose: *verbose}, stdout, stderr)
}

type devConfig struct {
	listen     string
	kafkaPort  int
	dataDir    string
	filesDir   string // "" for <dataDir>/files
	clickhouse string
	topics     []string // created besides the demo's
	verbose    bool
	// ready, when set, receives the server's URL once the demo runs.
	ready chan<- string
}

// runDev runs the demo until ctx ends.
func runDev(ctx context.Context, cfg devConfig, stdout, stderr io.Writer) error {
	data, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("demo data directory: %w", err)
	}

	// The broker keeps its log in the data directory, so a restarted demo
	// resumes its pipelines on the topics it had.
	broker, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(cfg.kafkaPort),
		kfake.SeedTopics(3, "orders", "users"),
		kfake.DataDir(filepath.Join(data, "kafka")),
	)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("start the embedded Kafka-protocol broker on port %d: %v (is another broker running? use --kafka-port)", cfg.kafkaPort, err)}
	}
	defer broker.Close()
	brokers := "localhost:" + strconv.Itoa(cfg.kafkaPort)
	if addrs := broker.ListenAddrs(); len(addrs) > 0 {
		if _, port, err := net.SplitHostPort(addrs[0]); err == nil {
			brokers = "localhost:" + port
		}
	}

	// Seeds apply only to a new log: topics asked for on a later start are
	// created here.
	if err := createTopics(ctx, brokers, cfg.topics); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("create topics %s on the embedded broker: %v", strings.Join(cfg.topics, ", "), err)}
	}

	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	rs, err := startServer(ctx, serverConfig{listen: cfg.listen, dataDir: data, filesDir: cfg.filesDir, hosts: web.LocalHosts, logLevel: level, stderr: stderr})
	if err != nil {
		return err
	}
	defer rs.shutdown()

	demo := demoConfig{Brokers: brokers, File: filepath.Join(confine.Root(), "orders_enriched.jsonl")}
	if reachable(cfg.clickhouse) {
		demo.ClickHouse = cfg.clickhouse
	}
	var script bytes.Buffer
	if err := demoTemplate.Execute(&script, demo); err != nil {
		return fmt.Errorf("demo script: %w", err)
	}
	res, errs, err := rs.srv.Apply(ctx, script.String(), server.ApplyOptions{Declarative: true})
	if err != nil {
		return fmt.Errorf("apply the demo script: %w", err)
	}
	if len(errs) > 0 {
		fmt.Fprint(stderr, errs.Render(script.String()))
		return &exitError{code: 1, msg: "the demo script does not apply"}
	}
	changed := 0
	for _, st := range res.Statements {
		if st.Action != server.ActionUnchanged {
			changed++
		}
	}

	// The pipelines log their sinks' delivery warnings as they open them:
	// let that happen before the banner, so that the banner is the last
	// thing on the screen.
	waitSinksOpen(ctx, rs.srv, []string{"feed_users", "feed_orders", "enrich_orders"}, 2*time.Second)

	out := "the ClickHouse table orders_enriched at " + demo.ClickHouse
	if demo.ClickHouse == "" {
		out = demo.File + " (no ClickHouse at " + cfg.clickhouse + ")"
	}
	fmt.Fprintf(stdout, `
Sluice is running: open %s

  embedded Kafka-protocol broker  %s (topics %s)
  catalog and checkpoints         %s
  demo pipelines                  feed_users, feed_orders → Kafka; enrich_orders → %s
  demo objects changed            %d of %d

Try, in another terminal:
  bin/sluice pipelines%[8]s
  bin/sluice describe enrich_orders%[8]s
  bin/sluice preview%[8]s "SELECT order_id, amount FROM orders LIMIT 10"
  bin/sluice validate -f examples/orders.sql%[8]s

Ports: --listen (the API, now %[9]s) and --kafka-port (the broker, now %[10]s);
e.g. bin/sluice dev --listen localhost:8081 --kafka-port 9093.
Ctrl-C stops; the next 'make run' resumes where this one stopped.
`, rs.url, brokers, strings.Join(append([]string{"orders", "users"}, cfg.topics...), ", "), data, out, changed, len(res.Statements), serverFlag(rs.url), strings.TrimPrefix(rs.url, "http://"), brokerPort(brokers))
	if cfg.ready != nil {
		cfg.ready <- rs.url
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: writing rows, checkpointing state")
	return nil
}

// waitSinksOpen waits, at most max, until each named pipeline has opened
// its sink (a sink that cannot drop replayed batches says so then).
func waitSinksOpen(ctx context.Context, srv *server.Server, names []string, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		open := 0
		for _, n := range names {
			if st, ok := srv.PipelineStats(n); ok && st.SinkWarning != "" {
				open++
			}
		}
		if open == len(names) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createTopics creates topics with 3 partitions each on the broker at
// brokers; a topic that exists is left as it is.
func createTopics(ctx context.Context, brokers string, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, 3, 1, nil, topics...)
	if err != nil {
		return err
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("%s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// splitTopics reads --topics: names separated by commas, blanks ignored.
func splitTopics(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// serverFlag is the --server flag the CLI needs to reach url, "" for the
// CLI's default.
func serverFlag(url string) string {
	if strings.TrimRight(url, "/") == strings.TrimRight(defaultServer(), "/") {
		return ""
	}
	return " --server " + url
}

func brokerPort(brokers string) string {
	if _, port, err := net.SplitHostPort(brokers); err == nil {
		return port
	}
	return brokers
}

// reachable reports whether something accepts connections at the host of
// a URL, which is all the demo needs to choose its sink.
func reachable(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
