package examples

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sale is one point-of-sale record the test produces, and whether the
// silver layer's rules keep it.
type sale struct {
	id, store, amount, soldAt string
	cents                     int64 // the amount, when valid
	minute                    time.Time
	valid                     bool
	line                      string // the record as produced: key TAB JSON
}

// medallionSales makes n sales in [from, from+span), in time order, with
// resends, invalid values and records that are not JSON mixed in, from a
// seeded generator: the same every run.
func medallionSales(rng *rand.Rand, first, n int, from time.Time, span time.Duration) []sale {
	stores := []string{" Berlin", "PARIS ", "rome", "Berlin", "paris"}
	var out []sale
	for i := 0; i < n; i++ {
		at := from.Add(span * time.Duration(i) / time.Duration(n))
		cents := 100 + rng.Int63n(9900)
		s := sale{
			id:     fmt.Sprintf("s-%05d", first+i),
			store:  stores[rng.Intn(len(stores))],
			amount: fmt.Sprintf("%d.%02d", cents/100, cents%100),
			soldAt: at.Format("2006-01-02 15:04:05.000"),
			cents:  cents, minute: at.Truncate(time.Minute), valid: true,
		}
		switch r := rng.Intn(100); {
		case r < 3:
			s.amount, s.valid = "n/a", false
		case r < 5:
			s.amount, s.valid = "-"+s.amount, false
		case r < 7:
			s.store, s.valid = "  ", false
		case r < 8:
			s.id, s.valid = "", false
		}
		out = append(out, s)
	}
	return out
}

// encode renders the sale as the till sends it: amounts sometimes as JSON
// numbers, sometimes as strings.
func (s *sale) encode(asNumber bool) {
	amount := fmt.Sprintf("%q", s.amount)
	if asNumber && s.valid {
		amount = s.amount
	}
	key := s.id
	if key == "" {
		key = "none"
	}
	s.line = fmt.Sprintf(`%s	{"sale_id":%q,"store":%q,"amount":%s,"sold_at":%q}`, key, s.id, s.store, amount, s.soldAt)
}

// TestMedallion runs examples/medallion: sales produced by kcat flow
// pos_sales → bronze → bronze_sales → silver → silver_sales → gold →
// ClickHouse, through three pipelines and the Kafka sink between layers.
// The server is killed with SIGKILL while the first half is in flight and
// started again; then the rest comes, with resends of sales from before
// the crash. The gold table holds exactly the sales and revenue per store
// per minute of the valid sales, each counted once.
func TestMedallion(t *testing.T) {
	st, srv := runScenario(t, "medallion", needs{topics: []string{"pos_sales", "bronze_sales", "silver_sales"}, partitions: 3, clickhouse: true})

	rng := rand.New(rand.NewSource(7))
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	// Before the crash: 10:00:00–10:00:50, so no window closes before it
	// (the gold table's rows are all written after the restart).
	before := medallionSales(rng, 0, 300, t0, 50*time.Second)
	// After: 10:00:50–10:04:00, and resends of sales from before.
	after := medallionSales(rng, 300, 900, t0.Add(50*time.Second), 190*time.Second)
	var lines1 []string
	for i := range before {
		before[i].encode(i%2 == 0)
		lines1 = append(lines1, before[i].line)
		if i%10 == 0 { // resent at once by an at-least-once producer
			lines1 = append(lines1, before[i].line)
		}
	}
	lines1 = append(lines1, "x\tnot json", `bad-time	{"sale_id":"s-bad","store":"rome","amount":"1.00","sold_at":"yesterday"}`)
	// After the restart the sales come a minute at a time, each minute once
	// the one before is in silver_sales, as a live stream does: then no
	// layer's merge of partitions can put a sale behind the next minute's.
	var chunks [][]string
	var ends []int // after[:ends[k]] are produced with chunk k
	for i := range after {
		after[i].encode(i%3 == 0)
		if i == 0 || !after[i].minute.Equal(after[i-1].minute) {
			chunks = append(chunks, nil)
			ends = append(ends, 0)
		}
		ends[len(ends)-1] = i + 1
		c := &chunks[len(chunks)-1]
		*c = append(*c, after[i].line)
		if i%50 == 0 { // a sale from before the crash, sent again
			*c = append(*c, before[i/3].line)
		}
	}
	inSilver := func(want []sale) func() bool {
		return func() bool {
			ids := map[string]bool{}
			for _, r := range st.topicRecords(t, "silver_sales") {
				var s struct {
					ID string `json:"sale_id"`
				}
				json.Unmarshal([]byte(r.Value), &s)
				ids[s.ID] = true
			}
			for _, s := range want {
				if s.valid && !ids[s.id] {
					return false
				}
			}
			return true
		}
	}

	st.produce(t, "pos_sales", lines1...)
	// The kill comes once silver has written, likely before its
	// checkpoint: what it wrote is written again after the restart.
	waitFor(t, "records in silver_sales", 30*time.Second, func() bool {
		return len(st.topicRecords(t, "silver_sales")) > 0
	})
	srv.kill()
	mid := len(st.topicRecords(t, "silver_sales"))
	srv = st.startServer(t)
	waitFor(t, "the sales from before the crash in silver_sales", 60*time.Second, inSilver(before))
	for k, c := range chunks {
		st.produce(t, "pos_sales", c...)
		waitFor(t, "the minute's sales in silver_sales", 60*time.Second, inSilver(after[:ends[k]]))
	}
	// A sale far later closes every minute before it; its own stays open.
	st.produce(t, "pos_sales", `s-end	{"sale_id":"s-end","store":"rome","amount":"1.00","sold_at":"2025-03-01 10:10:00"}`)

	// The oracle: every valid sale once, per minute and store.
	type cell struct {
		minute time.Time
		store  string
	}
	sales, revenue := map[cell]int64{}, map[cell]int64{}
	validIDs := map[string]bool{}
	for _, s := range append(slices.Clone(before), after...) {
		if !s.valid {
			continue
		}
		c := cell{s.minute, strings.ToLower(strings.TrimSpace(s.store))}
		sales[c]++
		revenue[c] += s.cents
		validIDs[s.id] = true
	}
	var want []string
	var total int64
	for c, n := range sales {
		want = append(want, fmt.Sprintf("%s | %s | %d | %d.%02d", c.minute.Format("2006-01-02 15:04:05.000"), c.store, n, revenue[c]/100, revenue[c]%100))
		total += n
	}
	sort.Strings(want)

	query := "SELECT minute, store, sales, toString(revenue) FROM gold_store_minute ORDER BY minute, store"
	var got []string
	waitFor(t, fmt.Sprintf("%d gold rows", len(want)), 120*time.Second, func() bool {
		got = st.clickhouseRows(t, query)
		return len(got) >= len(want)
	})
	srv.stop(t)
	got = st.clickhouseRows(t, query)
	if !slices.Equal(got, want) {
		t.Errorf("gold_store_minute (%d rows):\n%s\nwant (%d rows):\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	// Silver holds every valid sale and nothing else; a sale may stand in
	// it twice only where silver's own write was replayed after the kill.
	seen := map[string]int{}
	silver := st.topicRecords(t, "silver_sales")
	for _, r := range silver {
		var s struct {
			ID string `json:"sale_id"`
		}
		if err := json.Unmarshal([]byte(r.Value), &s); err != nil {
			t.Fatalf("silver_sales record %q: %v", r.Value, err)
		}
		seen[s.ID]++
	}
	delete(seen, "s-end")
	for id := range validIDs {
		if seen[id] == 0 {
			t.Errorf("sale %s is not in silver_sales", id)
		}
	}
	for id := range seen {
		if !validIDs[id] {
			t.Errorf("silver_sales holds %s, which is not a valid sale", id)
		}
	}
	t.Logf("%d valid sales in %d gold rows; silver_sales held %d records at the kill and %d at the end (%d replayed)",
		total, len(want), mid, len(silver), len(silver)-1-len(validIDs))
	// Bronze holds every JSON record of pos_sales as received: its fields
	// as text, with the partition and offset it was read from.
	type raw struct {
		ID     *string         `json:"sale_id"`
		Store  *string         `json:"store"`
		Amount json.RawMessage `json:"amount"`
		SoldAt *string         `json:"sold_at"`
	}
	text := func(r raw) string {
		amount := string(r.Amount)
		if a, err := strconv.Unquote(amount); err == nil {
			amount = a
		}
		return fmt.Sprintf("%s|%s|%s|%s", *r.ID, *r.Store, amount, *r.SoldAt)
	}
	landed := map[string]string{}
	for _, r := range st.topicRecords(t, "pos_sales") {
		var v raw
		if json.Unmarshal([]byte(r.Value), &v) == nil {
			landed[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = text(v)
		}
	}
	bronze := map[string]string{}
	for _, r := range st.topicRecords(t, "bronze_sales") {
		var v struct {
			raw
			Partition int32 `json:"source_partition"`
			Offset    int64 `json:"source_offset"`
		}
		if err := json.Unmarshal([]byte(r.Value), &v); err != nil {
			t.Fatalf("bronze_sales record %q: %v", r.Value, err)
		}
		bronze[fmt.Sprintf("%d/%d", v.Partition, v.Offset)] = text(v.raw)
	}
	if !maps.Equal(bronze, landed) {
		t.Errorf("bronze_sales holds %d records of pos_sales, pos_sales has %d JSON records; they differ", len(bronze), len(landed))
	}
	dlq := st.topicRecords(t, "pos_sales.dlq")
	if len(dlq) < 1 || dlq[0].Value != "not json" || dlq[len(dlq)-1].Value != "not json" {
		t.Errorf("pos_sales.dlq: %+v", dlq)
	}
	dlq = st.topicRecords(t, "bronze_sales.dlq")
	if len(dlq) < 1 || !strings.Contains(dlq[0].Value, `"s-bad"`) || !strings.Contains(dlq[0].Headers["sluice.error"], "sold_at") {
		t.Errorf("bronze_sales.dlq: %+v", dlq)
	}
}
