package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultEvents is N, the events of one run. A million keeps a run a few
// seconds long on two cores, long enough that opening the consumer group
// and the ClickHouse connection (~0.1 s) stays small next to it.
const defaultEvents = 1_000_000

// partitions per topic: more than the cores, as in production, so the
// consumer fetches from several partitions at once.
const partitions = 4

// batchRows is the rows per ClickHouse insert, for the baseline and (as
// batch_size) for Sluice.
const batchRows = 100_000

// Event time runs at eventRate events per second of event time, so a
// one-minute dedup window holds 600 k live keys: the state is bigger than
// the CPU caches, as it is for a real high-volume stream.
const eventRate = 10_000

// t0 is the event time of the first event.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// numEvents returns N: SLUICE_BENCH_EVENTS, else defaultEvents.
func numEvents(b *testing.B) int {
	b.Helper()
	s := os.Getenv("SLUICE_BENCH_EVENTS")
	if s == "" {
		return defaultEvents
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		b.Fatalf("SLUICE_BENCH_EVENTS = %q: want a whole number of at least 1000", s)
	}
	return n
}

// clickhouseURL returns the server the benchmarks write to, or skips the
// benchmark: the numbers mean nothing without a real server.
func clickhouseURL(b *testing.B) string {
	b.Helper()
	u := os.Getenv("SLUICE_TEST_CLICKHOUSE")
	if u == "" {
		b.Skip(`SLUICE_TEST_CLICKHOUSE is not set: start a server with eval "$(bash scripts/clickhouse.sh start)" (see docs/benchmarks.md)`)
	}
	return u
}

func openClickHouse(ctx context.Context, url string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(url)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse url: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse: %w", err)
	}
	return conn, nil
}

// checkConn opens the connection the benchmark uses to check and drop its
// tables, outside the timed runs.
func checkConn(b *testing.B, url string) driver.Conn {
	b.Helper()
	conn, err := openClickHouse(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// uniqueName returns a table or consumer group name no earlier run used:
// every run starts from an empty table and the start of the topic.
func uniqueName(base string) string {
	return fmt.Sprintf("bench_%s_%d", base, time.Now().UnixNano())
}

// finishTable checks that table holds the written rows and drops it, so
// that ClickHouse's background merges of one run do not burn CPU during
// the next. A pipeline may also have written up to possibleDups rows
// twice: an insert interrupted by the stop is written again by the stop
// sequence, and servers without insert deduplication tokens (18.16) keep
// both copies if the first one landed. That is logged, not failed: it is
// the documented bound of the delivery promise, not a benchmark error.
func finishTable(b *testing.B, conn driver.Conn, table string, written, possibleDups int64) {
	b.Helper()
	ctx := context.Background()
	defer conn.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
		b.Fatalf("count %s: %v", table, err)
	}
	switch got := int64(n); {
	case got == written:
	case got > written && got <= written+possibleDups:
		b.Logf("table %s has %d rows: %d written and %d written twice (%d possible duplicates counted)",
			table, got, written, got-written, possibleDups)
	default:
		b.Fatalf("table %s has %d rows, want %d (%d possible duplicates counted)", table, got, written, possibleDups)
	}
}

// The broker: one in-process kfake cluster for the whole test binary,
// whose topics are produced once, on first use, outside every timer.
var (
	brokerOnce sync.Once
	cluster    *kfake.Cluster
	brokerErr  error
	// The topics produced so far; nil until then.
	eventsMade *eventsData
	joinMade   *joinData
)

func TestMain(m *testing.M) {
	// The sink logs each open; a line in the middle of a benchmark's
	// result line breaks what benchstat reads.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	code := m.Run()
	if cluster != nil {
		cluster.Close()
	}
	os.Exit(code)
}

func brokerAddr(b *testing.B) string {
	b.Helper()
	brokerOnce.Do(func() {
		cluster, brokerErr = kfake.NewCluster(kfake.NumBrokers(1),
			kfake.SeedTopics(partitions, "events", "orders", "payments"))
	})
	if brokerErr != nil {
		b.Fatalf("start kfake: %v", brokerErr)
	}
	return cluster.ListenAddrs()[0]
}

// record is one record to produce.
type record struct {
	key, value []byte
}

// produce writes recs to topic with the client's defaults (snappy
// batches), as an ordinary producer would.
func produce(b *testing.B, addr, topic string, recs []record) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatalf("kafka client: %v", err)
	}
	defer cl.Close()
	var mu sync.Mutex
	var first error
	for _, r := range recs {
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: r.key, Value: r.value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatalf("flush %s: %v", topic, err)
	}
	if first != nil {
		b.Fatalf("produce to %s: %v", topic, first)
	}
}

// eventsData is the "events" topic: n JSON events of about 150 bytes, of
// which a fifth repeat an earlier event_id less than a minute of event
// time later.
type eventsData struct {
	addr string
	n    int
	kept int // rows DEDUPLICATE BY event_id WITHIN INTERVAL 1 MINUTE keeps
}

// eventsTopic produces the events topic on first use. Events are in event
// time order and keyed by event_id, so each key's rows stay in order in
// one partition and no row is late: every duplicate is dropped and the
// originals are exactly the rows kept.
func eventsTopic(b *testing.B, n int) eventsData {
	b.Helper()
	addr := brokerAddr(b)
	if eventsMade != nil {
		return *eventsMade
	}
	type ev struct {
		orig int // index of the original event: the event_id
		at   time.Duration
	}
	rng := rand.New(rand.NewSource(1))
	nDup := n / 5
	nOrig := n - nDup
	evs := make([]ev, 0, n)
	for i := range nOrig {
		evs = append(evs, ev{orig: i, at: time.Duration(i) * time.Second / eventRate})
	}
	for range nDup {
		o := evs[rng.Intn(nOrig)]
		evs = append(evs, ev{orig: o.orig, at: o.at + time.Duration(rng.Int63n(int64(59*time.Second)))})
	}
	// Stable: an original sorts before a duplicate of the same time.
	slices.SortStableFunc(evs, func(a, b ev) int { return int(a.at - b.at) })
	recs := make([]record, n)
	var buf []byte
	for i, e := range evs {
		seq := uint64(i + 1)
		key := fmt.Appendf(nil, "e%08d", e.orig)
		buf = append(buf[:0], `{"event_id":"`...)
		buf = append(buf, key...)
		buf = append(buf, `","seq":`...)
		buf = strconv.AppendUint(buf, seq, 10)
		buf = append(buf, `,"user_id":`...)
		buf = strconv.AppendUint(buf, seq%977, 10)
		buf = append(buf, `,"ts":"`...)
		buf = t0.Add(e.at).AppendFormat(buf, "2006-01-02T15:04:05.000Z07:00")
		buf = append(buf, `","page":"/products/item-`...)
		buf = strconv.AppendUint(buf, seq%10007, 10)
		buf = append(buf, `","payload":"lorem ipsum dolor sit amet"}`...)
		recs[i] = record{key: key, value: slices.Clone(buf)}
	}
	produce(b, addr, "events", recs)
	eventsMade = &eventsData{addr: addr, n: n, kept: nOrig}
	return *eventsMade
}

// joinData is the "orders" and "payments" topics: n/2 orders, each paid
// once less than 30 s of event time after it; records of about 145
// bytes.
type joinData struct {
	addr   string
	orders int
}

func joinTopics(b *testing.B, n int) joinData {
	b.Helper()
	addr := brokerAddr(b)
	if joinMade != nil {
		return *joinMade
	}
	rng := rand.New(rand.NewSource(2))
	nOrders := n / 2
	orders := make([]record, nOrders)
	type pay struct {
		order int
		at    time.Duration
	}
	pays := make([]pay, nOrders)
	var buf []byte
	// Both topics together run at eventRate events per second of event
	// time, like the events topic.
	step := 2 * time.Second / eventRate
	for i := range nOrders {
		at := time.Duration(i) * step
		key := fmt.Appendf(nil, "o%08d", i)
		buf = append(buf[:0], `{"order_id":"`...)
		buf = append(buf, key...)
		buf = append(buf, `","user_id":`...)
		buf = strconv.AppendUint(buf, uint64(i%977), 10)
		buf = append(buf, `,"amount":`...)
		buf = strconv.AppendFloat(buf, float64(i%10000)/100, 'f', 2, 64)
		buf = append(buf, `,"ts":"`...)
		buf = t0.Add(at).AppendFormat(buf, "2006-01-02T15:04:05.000Z07:00")
		buf = append(buf, `","note":"lorem ipsum dolor sit amet, consectetur adipiscing"}`...)
		orders[i] = record{key: key, value: slices.Clone(buf)}
		pays[i] = pay{order: i, at: at + time.Duration(rng.Int63n(int64(30*time.Second)))}
	}
	slices.SortStableFunc(pays, func(a, b pay) int { return int(a.at - b.at) })
	payments := make([]record, nOrders)
	methods := []string{"card", "wire", "cash", "voucher"}
	for i, p := range pays {
		key := fmt.Appendf(nil, "o%08d", p.order)
		buf = append(buf[:0], `{"order_id":"`...)
		buf = append(buf, key...)
		buf = append(buf, `","method":"`...)
		buf = append(buf, methods[p.order%len(methods)]...)
		buf = append(buf, `","ts":"`...)
		buf = t0.Add(p.at).AppendFormat(buf, "2006-01-02T15:04:05.000Z07:00")
		buf = append(buf, `","reference":"payment reference lorem ipsum dolor sit amet, consectetur"}`...)
		payments[i] = record{key: key, value: slices.Clone(buf)}
	}
	produce(b, addr, "orders", orders)
	produce(b, addr, "payments", payments)
	joinMade = &joinData{addr: addr, orders: nOrders}
	return *joinMade
}

// meter adds up, over the timed runs of one benchmark, the wall time, the
// CPU time of this process (Sluice or the baseline client, the in-process
// kfake broker included) and of the ClickHouse server, and the Go heap
// allocations, and reports them per event.
type meter struct {
	b      *testing.B
	chPID  int // 0 when unknown: ClickHouse CPU is then not reported
	events int
	rows   int64

	wall, cpu, chCPU, hostCPU    time.Duration
	mallocs, bytes               uint64
	gcs                          uint32
	startWall                    time.Time
	startCPU, startCH, startHost time.Duration
	startMem                     runtime.MemStats

	profDir string // SLUICE_BENCH_CPUPROFILE: one CPU profile per timed run
	runs    int
}

// profiles numbers the profiles of SLUICE_BENCH_CPUPROFILE across the
// whole test binary, so that -count does not overwrite them.
var profiles int

func newMeter(b *testing.B) *meter {
	m := &meter{b: b, chPID: clickhousePID(), profDir: os.Getenv("SLUICE_BENCH_CPUPROFILE")}
	if m.chPID == 0 {
		b.Log("SLUICE_CLICKHOUSE_PID and SLUICE_CLICKHOUSE_DIR are not set: ClickHouse CPU is not reported")
	}
	return m
}

// clickhousePID finds the server's pid the way scripts/clickhouse.sh
// exports it, or in the server directory it keeps (which stays right after
// a stop-server / start-server).
func clickhousePID() int {
	if dir := os.Getenv("SLUICE_CLICKHOUSE_DIR"); dir != "" {
		if s, err := os.ReadFile(filepath.Join(dir, "server.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(s))); err == nil {
				return pid
			}
		}
	}
	pid, _ := strconv.Atoi(os.Getenv("SLUICE_CLICKHOUSE_PID"))
	return pid
}

// processCPU returns the user+system CPU time of process pid from
// /proc/<pid>/stat, or -1 when it cannot be read.
func processCPU(pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(s), ") ")
	if !ok {
		return -1
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return -1
	}
	// Fields 14 and 15 (utime, stime) are f[11] and f[12], in clock ticks
	// of USER_HZ, which Linux fixes at 100 for /proc.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// hostCPU returns the CPU time all processes of the machine have used,
// steal time included (the time a virtual machine's cores were taken by
// the hypervisor), from the first line of /proc/stat; -1 when unknown.
func hostCPU() time.Duration {
	s, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(s), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// begin starts a timed run; call it right after b.StartTimer.
func (m *meter) begin() {
	if m.profDir != "" {
		f, err := os.Create(filepath.Join(m.profDir, fmt.Sprintf("%s.%d.pprof", m.b.Name(), profiles)))
		if err != nil {
			m.b.Fatal(err)
		}
		profiles++
		if err := pprof.StartCPUProfile(f); err != nil {
			m.b.Fatalf("SLUICE_BENCH_CPUPROFILE does not work with -cpuprofile: %v", err)
		}
	}
	runtime.ReadMemStats(&m.startMem)
	if m.chPID != 0 {
		m.startCH = processCPU(m.chPID)
	}
	m.startHost = hostCPU()
	m.startCPU = selfCPU()
	m.startWall = time.Now()
}

// end ends a timed run over events events; call it right before
// b.StopTimer.
func (m *meter) end(events int) {
	m.wall += time.Since(m.startWall)
	m.cpu += selfCPU() - m.startCPU
	if h := hostCPU(); h >= 0 && m.startHost >= 0 {
		m.hostCPU += h - m.startHost
	}
	if m.chPID != 0 {
		if c := processCPU(m.chPID); c >= 0 && m.startCH >= 0 {
			m.chCPU += c - m.startCH
		} else {
			m.b.Logf("cannot read the CPU time of ClickHouse pid %d: not reported", m.chPID)
			m.chPID = 0
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallocs += ms.Mallocs - m.startMem.Mallocs
	m.bytes += ms.TotalAlloc - m.startMem.TotalAlloc
	m.gcs += ms.NumGC - m.startMem.NumGC
	if m.profDir != "" {
		pprof.StopCPUProfile()
	}
	m.events += events
	m.runs++
}

// wrote counts the rows a timed run wrote, for the rows/s and
// cpu-s/Mrows metrics.
func (m *meter) wrote(rows int64) { m.rows += rows }

// report adds the per-event metrics to the benchmark's line.
func (m *meter) report() {
	if m.events == 0 {
		return
	}
	mev := float64(m.events) / 1e6
	m.b.ReportMetric(float64(m.events)/m.wall.Seconds(), "events/s")
	m.b.ReportMetric(m.cpu.Seconds()/mev, "cpu-s/Mevents")
	if m.rows > 0 {
		m.b.ReportMetric(float64(m.rows)/m.wall.Seconds(), "rows/s")
		m.b.ReportMetric(m.cpu.Seconds()/(float64(m.rows)/1e6), "cpu-s/Mrows")
	}
	if m.chPID != 0 {
		m.b.ReportMetric(m.chCPU.Seconds()/mev, "ch-cpu-s/Mevents")
	}
	m.b.ReportMetric(float64(m.mallocs)/float64(m.events), "allocs/event")
	m.b.ReportMetric(float64(m.bytes)/float64(m.events), "B/event")
	m.b.ReportMetric(float64(m.gcs)/float64(m.runs), "GCs/op")
	// The cores that other processes (and the hypervisor) took during the
	// runs: the machine is shared, and this says how much a result was
	// disturbed.
	if m.chPID != 0 {
		other := m.hostCPU - m.cpu - m.chCPU
		m.b.ReportMetric(max(other.Seconds(), 0)/m.wall.Seconds(), "other-cores")
	}
}
