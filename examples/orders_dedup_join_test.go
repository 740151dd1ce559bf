package examples

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOrdersDedupJoin runs examples/orders-dedup-join: orders and users
// produced by kcat, resends and records that find no user among them, go
// through `sluice server` into ClickHouse, and the table holds each order
// with a positive amount exactly once, with its user when one was
// announced within an hour of it and NULLs otherwise.
func TestOrdersDedupJoin(t *testing.T) {
	st, srv := runScenario(t, "orders-dedup-join", needs{topics: []string{"orders", "users"}, clickhouse: true})

	user := func(id int, email, country, at string) string {
		return fmt.Sprintf(`{"user_id":%d,"email":%q,"country":%q,"updated_at":"2025-03-01 %s"}`, id, email, country, at)
	}
	order := func(id string, user int, amount float64, at string) string {
		return fmt.Sprintf(`{"order_id":%q,"user_id":%d,"amount":%g,"created_at":"2025-03-01 %s"}`, id, user, amount, at)
	}
	st.produce(t, "users",
		user(1, "ada@example.com", "UK", "09:59:00"),
		user(1, "ada@example.com", "UK", "09:59:00"), // resent by the producer: dropped
		user(2, "grace@example.com", "US", "10:01:00"),
		user(3, "linus@example.com", "FI", "08:00:00"), // more than an hour before its order
		`not json`, // to users.dlq
	)
	st.produce(t, "orders",
		order("o-1", 1, 25, "10:00:10"),
		order("o-1", 1, 25, "10:00:10"), // resent: dropped
		order("o-2", 2, 40.5, "10:02:00"),
		order("o-3", 1, -3, "10:03:00"),   // not a positive amount: filtered
		order("o-4", 9, 12, "10:04:00"),   // no such user: NULLs
		order("o-2", 2, 40.5, "10:02:00"), // resent two records later: dropped
		order("o-5", 3, 30, "10:05:00"),   // its user is 2 h 5 min older: NULLs
		order("o-6", 2, 15, "10:30:00"),
		order("o-7", 1, 20, "10:20:00"),          // arrives after a later order, still joins
		order("o-8", 2, 50, "11:30:00"),          // 89 minutes after its user: NULLs
		`{"order_id": "o-9", "amount": "a lot"}`, // mistyped: to orders.dlq
	)
	// Later records on both topics move the watermarks past every order's
	// hour, so the orders without a user are written too. o-end's own hour
	// is still open: it is not written.
	st.produce(t, "users", user(99, "end@example.com", "SE", "13:00:00"))
	st.produce(t, "orders", order("o-end", 0, 1, "13:00:00"))

	want := []string{
		"o-1 | 1 | 25 | ada@example.com | UK | 2025-03-01 10:00:10.000",
		"o-2 | 2 | 40.5 | grace@example.com | US | 2025-03-01 10:02:00.000",
		"o-4 | 9 | 12 | NULL | NULL | 2025-03-01 10:04:00.000",
		"o-5 | 3 | 30 | NULL | NULL | 2025-03-01 10:05:00.000",
		"o-6 | 2 | 15 | grace@example.com | US | 2025-03-01 10:30:00.000",
		"o-7 | 1 | 20 | ada@example.com | UK | 2025-03-01 10:20:00.000",
		"o-8 | 2 | 50 | NULL | NULL | 2025-03-01 11:30:00.000",
	}
	query := "SELECT order_id, user_id, amount, email, country, created_at FROM enriched_orders ORDER BY order_id, created_at"
	var got []string
	waitFor(t, "the enriched orders in ClickHouse", 60*time.Second, func() bool {
		got = st.clickhouseRows(t, query)
		return len(got) >= len(want)
	})
	p := srv.pipeline(t, "dedup_join_orders")
	// A clean stop writes what is produced and holds o-end's open hour.
	srv.stop(t)
	got = st.clickhouseRows(t, query)
	if !slices.Equal(got, want) {
		t.Errorf("enriched_orders:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Metrics.DedupDropped != 3 || p.Metrics.DeadLettered != 2 {
		t.Errorf("dedup_dropped = %d (want 3: o-1, o-2, user 1), dead_lettered = %d (want 2)", p.Metrics.DedupDropped, p.Metrics.DeadLettered)
	}
	for _, topic := range []string{"orders.dlq", "users.dlq"} {
		recs := st.topicRecords(t, topic)
		if len(recs) != 1 || recs[0].Headers["sluice.error"] == "" || recs[0].Headers["sluice.topic"] != strings.TrimSuffix(topic, ".dlq") {
			t.Errorf("%s: %+v", topic, recs)
		}
	}
}
