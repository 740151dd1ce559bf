package examples

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestStudentGenerator runs examples/student-generator: datagen at 50 rows
// a second, one in five a resend, feeds the students topic; one pipeline
// copies every record into students_raw, another writes each student once
// into students_unique (PostgreSQL). The raw table is exactly the topic,
// read by kcat; the unique table is exactly one row per distinct student
// of the raw table.
func TestStudentGenerator(t *testing.T) {
	st, srv := runScenario(t, "student-generator", needs{topics: []string{"students"}, partitions: 3, postgres: true,
		env: []string{"SLUICE_NOTIFY_URL="}})

	const rows = 1000 // the script's rows option
	const cols = "student_id, name, course, score, to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')"
	count := func(table string) int {
		got := st.postgresRows(t, "SELECT count(*) FROM "+table)
		if len(got) != 1 {
			return 0
		}
		n, _ := strconv.Atoi(got[0])
		return n
	}
	waitFor(t, "every generated student in students_raw", 90*time.Second, func() bool { return count("students_raw") >= rows })
	distinct := func() int {
		n, _ := strconv.Atoi(st.postgresRows(t, "SELECT count(DISTINCT student_id) FROM students_raw")[0])
		return n
	}
	waitFor(t, "every student in students_unique", 30*time.Second, func() bool { return count("students_unique") >= distinct() })
	srv.stop(t)

	// students_raw is the topic, record for record.
	var topic []string
	for _, r := range st.topicRecords(t, "students") {
		var s struct {
			ID      uint64 `json:"student_id"`
			Name    string `json:"name"`
			Course  string `json:"course"`
			Score   int32  `json:"score"`
			Enroled string `json:"enrolled_at"`
		}
		if err := json.Unmarshal([]byte(r.Value), &s); err != nil {
			t.Fatalf("students record %q: %v", r.Value, err)
		}
		if r.Key != strconv.FormatUint(s.ID, 10) {
			t.Errorf("record %q has key %q, want the student_id", r.Value, r.Key)
		}
		topic = append(topic, fmt.Sprintf("%d | %s | %s | %d | %s | %d | %d", s.ID, s.Name, s.Course, s.Score, s.Enroled, r.Partition, r.Offset))
	}
	raw := st.postgresRows(t, "SELECT "+cols+", kafka_partition, kafka_offset FROM students_raw ORDER BY kafka_partition, kafka_offset")
	if len(topic) != rows || !slices.Equal(raw, topic) {
		t.Errorf("students_raw (%d rows) differs from the students topic (%d records):\n%s\n---\n%s",
			len(raw), len(topic), strings.Join(head(raw, 10), "\n"), strings.Join(head(topic, 10), "\n"))
	}

	// students_unique is the distinct students of the raw table: a resend
	// repeats its original exactly, so each student's rows in raw are one.
	wantUnique := st.postgresRows(t, "SELECT DISTINCT "+cols+" FROM students_raw ORDER BY student_id")
	unique := st.postgresRows(t, "SELECT "+cols+" FROM students_unique ORDER BY student_id")
	if !slices.Equal(unique, wantUnique) {
		t.Errorf("students_unique (%d rows) is not the distinct students of students_raw (%d):\n%s\n---\n%s",
			len(unique), len(wantUnique), strings.Join(head(unique, 10), "\n"), strings.Join(head(wantUnique, 10), "\n"))
	}
	if d := distinct(); d != len(wantUnique) || d > rows*9/10 || d < rows*7/10 {
		t.Errorf("%d distinct students in %d rows (%d distinct rows); duplicate_ratio 0.2 should resend about 200", d, rows, len(wantUnique))
	}
	t.Logf("%d records, %d distinct students", rows, len(unique))
}

// head returns at most the first n of s.
func head(s []string, n int) []string { return s[:min(n, len(s))] }

// TestStudentGeneratorAlert: the scenario's pipelines name their webhook
// with notify_url = 'env:SLUICE_NOTIFY_URL'. When the unique table
// disappears under students_to_unique, its write fails and the webhook
// receives a failed event naming the pipeline and the table; the server
// runs the pipeline again (create_table makes the table anew) and the
// webhook hears that it recovered. The other pipelines send no failure.
func TestStudentGeneratorAlert(t *testing.T) {
	type event struct {
		Pipeline string `json:"pipeline"`
		State    string `json:"state"`
		Error    string `json:"error"`
		URL      string `json:"url"`
	}
	var mu sync.Mutex
	var events []event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.Method != http.MethodPost {
			t.Errorf("webhook got %s: %v", r.Method, err)
		}
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	defer hook.Close()
	find := func(pipeline, state string) (event, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if e.Pipeline == pipeline && e.State == state {
				return e, true
			}
		}
		return event{}, false
	}

	st, srv := runScenario(t, "student-generator", needs{topics: []string{"students"}, partitions: 3, postgres: true,
		env: []string{"SLUICE_NOTIFY_URL=" + hook.URL + "/alerts"}})
	waitFor(t, "rows in students_unique", 60*time.Second, func() bool {
		return len(st.postgresRows(t, "SELECT 1 FROM students_unique LIMIT 1")) == 1
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, st.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE students_unique"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	waitFor(t, "the failed event of students_to_unique", 60*time.Second, func() bool {
		_, ok := find("students_to_unique", "failed")
		return ok
	})
	e, _ := find("students_to_unique", "failed")
	if !strings.Contains(e.Error, "students_unique") || !strings.HasSuffix(e.URL, "/api/v1/pipelines/students_to_unique") {
		t.Errorf("failed event: %+v; want the error naming the table and the pipeline's link", e)
	}
	waitFor(t, "the recovered event of students_to_unique", 90*time.Second, func() bool {
		_, ok := find("students_to_unique", "recovered")
		return ok
	})
	if p := srv.pipeline(t, "students_to_unique"); p.State != "running" {
		t.Errorf("students_to_unique is %s after recovering: %s", p.State, p.Error)
	}
	for _, p := range []string{"produce_students", "students_to_raw"} {
		if e, ok := find(p, "failed"); ok {
			t.Errorf("%s sent a failure: %+v", p, e)
		}
	}
}
