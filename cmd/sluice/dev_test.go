package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDev runs the zero-setup demo with nothing but this process: the
// embedded broker, catalog and generators, and the README pipeline
// writing the file sink.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- runDev(ctx, devConfig{listen: "127.0.0.1:0", kafkaPort: 0, dataDir: dir,
			clickhouse: "clickhouse://127.0.0.1:1/default", ready: ready}, &stdout, &stderr)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("dev ended: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not start")
	}
	if !strings.Contains(stdout.String(), "Sluice is running: open "+url) {
		t.Errorf("no URL printed:\n%s", stdout.String())
	}
	out := filepath.Join(dir, "files", "orders_enriched.jsonl")
	waitUntil(t, "enriched orders in the file sink", 30*time.Second, func() bool { return countLines(out) > 20 })
	resp, err := http.Get(url + "/api/v1/pipelines/enrich_orders")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		State   string `json:"state"`
		Metrics struct {
			DedupDropped int64 `json:"dedup_dropped"`
			JoinMatches  int64 `json:"join_matches"`
		} `json:"metrics"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if p.State != "running" || p.Metrics.JoinMatches == 0 {
		t.Errorf("enrich_orders = %+v", p)
	}
	// Only localhost names reach the demo: a DNS name re-pointed at
	// 127.0.0.1 (DNS rebinding) does not.
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/pipelines", nil)
	req.Host = "attacker.example:8080"
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host attacker.example: %d", resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("dev stop: %v", err)
	}
}

// TestDevTopics: --topics creates topics on the embedded broker, on its
// first start and on a later one whose log already exists.
func TestDevTopics(t *testing.T) {
	dir := t.TempDir()
	start := func(topics ...string) []string {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		var stdout, stderr bytes.Buffer
		port := freePort(t)
		go func() {
			done <- runDev(ctx, devConfig{listen: "127.0.0.1:0", kafkaPort: port, dataDir: dir, topics: topics,
				clickhouse: "clickhouse://127.0.0.1:1/default", ready: ready}, &stdout, &stderr)
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("dev ended: %v\n%s", err, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("dev did not start")
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:" + strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		md, err := kadm.NewClient(cl).ListTopics(context.Background())
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range md.Sorted() {
			if len(d.Partitions) != 3 {
				t.Errorf("topic %s has %d partitions, want 3", d.Topic, len(d.Partitions))
			}
			names = append(names, d.Topic)
		}
		if !strings.Contains(stdout.String(), "(topics "+strings.Join(append([]string{"orders", "users"}, topics...), ", ")+")") {
			t.Errorf("banner does not list the topics:\n%s", stdout.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev stop: %v", err)
		}
		return names
	}
	if got := start("students", "http_requests"); !slices.Equal(got, []string{"http_requests", "orders", "students", "users"}) {
		t.Errorf("first start: topics %v", got)
	}
	if got := start("pos_sales"); !slices.Equal(got, []string{"http_requests", "orders", "pos_sales", "students", "users"}) {
		t.Errorf("second start: topics %v", got)
	}
}

// TestDevUsersOnce: the demo announces its users again and again, but
// feed_users passes each one once per two hours, so within the demo's
// first minutes the users topic holds each of the 100 users exactly once
// and no order is written twice (without the dedup, a user would come
// every two seconds and each order would meet many).
func TestDevUsersOnce(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	port := freePort(t)
	go func() {
		done <- runDev(ctx, devConfig{listen: "127.0.0.1:0", kafkaPort: port, dataDir: dir,
			clickhouse: "clickhouse://127.0.0.1:1/default", ready: ready}, &stdout, &stderr)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("dev ended: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not start")
	}
	defer func() { cancel(); <-done }()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:"+strconv.Itoa(port)), kgo.ConsumeTopics("users"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[uint64]int{}
	pctx, pcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer pcancel()
	for len(seen) < 100 && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var u struct {
				ID    uint64 `json:"user_id"`
				Email string `json:"email"`
			}
			if err := json.Unmarshal(r.Value, &u); err != nil || u.Email != "user"+strconv.FormatUint(u.ID, 10) {
				t.Errorf("users record %s", r.Value)
			}
			seen[u.ID]++
		})
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct users announced in 60 s, want 100", len(seen))
	}
	// Some more seconds of orders meeting the announced users, and of
	// users that must not come again.
	more, mcancel := context.WithTimeout(context.Background(), 3*time.Second)
	for more.Err() == nil {
		cl.PollFetches(more).EachRecord(func(r *kgo.Record) {
			var u struct {
				ID uint64 `json:"user_id"`
			}
			json.Unmarshal(r.Value, &u)
			seen[u.ID]++
		})
	}
	mcancel()
	for id, n := range seen {
		if id < 1 || id > 100 || n != 1 {
			t.Errorf("user %d announced %d times", id, n)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "files", "orders_enriched.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	orders := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var o struct {
			ID string `json:"order_id"`
		}
		json.Unmarshal([]byte(line), &o)
		orders[o.ID]++
	}
	for id, n := range orders {
		if n != 1 {
			t.Errorf("order %s written %d times", id, n)
		}
	}
	if len(orders) < 50 {
		t.Errorf("only %d enriched orders", len(orders))
	}
}
