package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaSinkScript deduplicates events into the Kafka topic out.
func kafkaSinkScript(brokers, delivery, every string) string {
	return fmt.Sprintf(`
CREATE SOURCE events (
    event_id String NOT NULL,
    seq      UInt64 NOT NULL,
    user_id  UInt64,
    ts       DateTime64(3) NOT NULL,
    WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'events', idle_timeout = '1s');

CREATE SINK out WITH (connector = 'kafka', brokers = '%[1]s', topic = 'out', key = 'event_id', delivery = '%[2]s');

CREATE PIPELINE dedup_events WITH (checkpoint_interval = '%[3]s') AS
INSERT INTO out
SELECT event_id, seq, user_id, ts
FROM events
DEDUPLICATE BY event_id WITHIN INTERVAL 1 MINUTE;
`, brokers, delivery, every)
}

// outSeqs reads topic out with kcat (librdkafka, an independent client)
// to its end, as a read_committed or read_uncommitted consumer, and
// counts each seq.
func outSeqs(t *testing.T, addr string, committed bool) map[uint64]int {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	iso := "read_uncommitted"
	if committed {
		iso = "read_committed"
	}
	out, err := exec.Command(kcat, "-C", "-b", addr, "-t", "out", "-o", "beginning", "-e", "-q",
		"-X", "isolation.level="+iso, "-f", "%s\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	got := map[uint64]int{}
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" {
			continue
		}
		var row struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("kcat read %q: %v", l, err)
		}
		got[row.Seq]++
	}
	return got
}

// stableEnd sums the last stable offsets of topic out's partitions: the
// end of what read_committed readers may read (records of committed
// transactions and the transactions' markers). It grows with each commit.
func stableEnd(t *testing.T, addr string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).ListCommittedOffsets(context.Background(), "out")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func waitSeqs(t *testing.T, addr string, committed bool, n int, timeout time.Duration) map[uint64]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := outSeqs(t, addr, committed)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d distinct rows in out after %v, want %d", len(got), timeout, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestKafkaSinkExactlyOnceAcrossKills runs Kafka → dedup → Kafka with
// delivery = 'exactly_once' and kills the process with SIGKILL several
// times mid-stream (mid-transaction, and wherever else the kill falls):
// a read_committed reader (kcat) sees every expected row exactly once.
func TestKafkaSinkExactlyOnceAcrossKills(t *testing.T) {
	_, addr := broker(t, 4, "events", "out")
	evs, want := dedupEvents(60_000, 0.2, 5)
	msgs := eventMsgs(evs)
	cl := producer(t, addr)
	state := t.TempDir()
	script := kafkaSinkScript(addr, "exactly_once", "300ms")

	produce(t, cl, "events", msgs[:10_000])
	done := make(chan error, 1)
	go func() {
		// About 5,000 events/s: the stream lasts through the kills.
		for i := 10_000; i < len(msgs); i += 500 {
			if err := produceErr(cl, "events", msgs[i:min(i+500, len(msgs))]); err != nil {
				done <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()
	rng := rand.New(rand.NewSource(7))
	output := ""
	for kill := 0; kill < 4; kill++ {
		r := startRun(t, script, state)
		// Let it write for a while: at least one commit, then a kill at a
		// random point of a transaction.
		before := stableEnd(t, addr)
		deadline := time.Now().Add(30 * time.Second)
		for stableEnd(t, addr) <= before {
			if time.Now().After(deadline) {
				t.Fatalf("run %d committed nothing in 30 s", kill+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Intn(600)) * time.Millisecond)
		r.checkAlive()
		r.kill()
		output += r.Output()
		t.Logf("kill %d: read_committed may read to offset %d (all partitions)", kill+1, stableEnd(t, addr))
	}
	select {
	case <-done:
		t.Fatal("the input was all produced before the last kill: the kills may have missed the stream")
	default:
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := startRun(t, script, state)
	// Every input record read (caught up, idle), then a stop, which
	// commits the last transaction.
	deadline := time.Now().Add(90 * time.Second)
	caughtUp := func() bool {
		lines := strings.Split(strings.TrimSpace(r.Output()), "\n")
		last := lines[len(lines)-1]
		return strings.Contains(last, " lag=0 ") && strings.Contains(last, " rate=0/s")
	}
	for !caughtUp() {
		if time.Now().After(deadline) {
			t.Fatalf("the last run did not read every record in 90 s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	r.stop()
	// Stopped: no transaction is open, kcat reads to the end.
	got := outSeqs(t, addr, true)
	var missing, extra, twice int
	for s := range want {
		switch got[s] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	for s := range got {
		if !want[s] {
			extra++
		}
	}
	if missing+extra+twice > 0 {
		t.Fatalf("read_committed: %d rows missing, %d unexpected, %d seen more than once (of %d)", missing, extra, twice, len(want))
	}
	all := outSeqs(t, addr, false)
	n := 0
	for _, c := range all {
		n += c
	}
	t.Logf("%d rows exactly once for read_committed; %d records in the log (aborted ones included); replays aborted: %d",
		len(want), n, strings.Count(output+r.Output(), "aborting the replay"))
}

// TestKafkaSinkAtLeastOnceKill kills an at-least-once Kafka sink's
// process mid-stream: nothing is lost, and the rows written twice are
// counted.
func TestKafkaSinkAtLeastOnceKill(t *testing.T) {
	_, addr := broker(t, 4, "events", "out")
	evs, want := dedupEvents(60_000, 0.2, 6)
	msgs := eventMsgs(evs)
	cl := producer(t, addr)
	state := t.TempDir()
	script := kafkaSinkScript(addr, "at_least_once", "1s")

	produce(t, cl, "events", msgs[:20_000])
	r := startRun(t, script, state)
	waitSeqs(t, addr, false, 5_000, 60*time.Second)
	r.checkAlive()
	r.kill()
	produce(t, cl, "events", msgs[20_000:])
	r2 := startRun(t, script, state)
	waitSeqs(t, addr, false, len(want), 90*time.Second)
	time.Sleep(time.Second)
	r2.stop()
	got := outSeqs(t, addr, false)
	dups := 0
	for s := range want {
		if got[s] == 0 {
			t.Fatalf("row seq %d lost", s)
		}
		dups += got[s] - 1
	}
	counted := r2.counter("replay_dups")
	if int64(dups) > counted {
		t.Fatalf("%d rows written twice, %d counted as possible duplicates", dups, counted)
	}
	t.Logf("%d rows written twice, %d counted", dups, counted)
}
