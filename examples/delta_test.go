package examples

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// deltaRows reads a Delta table under the files directory as a Delta
// reader does — the checkpoint _last_checkpoint names, then the log
// entries after it, add minus remove — and returns the rows of the Parquet
// files the log references, each rendered as its cols' values joined by
// " | " (times in UTC to the millisecond, decimals exactly), sorted. A
// table not created yet has no rows.
func (st *stack) deltaRows(t *testing.T, table string, cols ...string) []string {
	t.Helper()
	dir := filepath.Join(st.filesDir, table)
	logDir := filepath.Join(dir, "_delta_log")
	active := map[string]bool{}
	from := 0
	if b, err := os.ReadFile(filepath.Join(logDir, "_last_checkpoint")); err == nil {
		var last struct{ Version int }
		if err := json.Unmarshal(b, &last); err != nil {
			t.Fatalf("%s/_last_checkpoint: %v", table, err)
		}
		type path struct {
			Path string `parquet:"path"`
		}
		type action struct {
			Add    *path `parquet:"add,optional"`
			Remove *path `parquet:"remove,optional"`
		}
		name := filepath.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", last.Version))
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		acts, err := parquet.Read[action](f, fi.Size())
		f.Close()
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		for _, a := range acts {
			if a.Add != nil {
				active[a.Add.Path] = true
			}
		}
		from = last.Version + 1
	}
	for v := from; ; v++ {
		b, err := os.ReadFile(filepath.Join(logDir, fmt.Sprintf("%020d.json", v)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var a struct {
				Add, Remove *struct{ Path string }
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("%s version %d: %v", table, v, err)
			}
			if a.Add != nil {
				active[a.Add.Path] = true
			}
			if a.Remove != nil {
				delete(active, a.Remove.Path)
			}
		}
	}
	var out []string
	for name := range active {
		out = append(out, parquetRows(t, filepath.Join(dir, name), cols)...)
	}
	slices.Sort(out)
	return out
}

// parquetRows renders the rows of one Parquet data file.
func parquetRows(t *testing.T, name string, cols []string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("a file the log references: %v", err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fields := pf.Schema().Fields()
	index := map[string]int{}
	for i, f := range fields {
		index[f.Name()] = i
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	rows := make([]parquet.Row, pf.NumRows())
	n, err := r.ReadRows(rows)
	if err != nil && n != len(rows) {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, row := range rows[:n] {
		cells := make([]string, len(cols))
		for i, c := range cols {
			at, ok := index[c]
			if !ok {
				t.Fatalf("%s has no column %s", name, c)
			}
			cells[i] = render(row[at], fields[at].Type())
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

func render(v parquet.Value, typ parquet.Type) string {
	if v.IsNull() {
		return "NULL"
	}
	var lv format.LogicalTypeValue
	if lt := typ.LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch lt := lv.(type) {
	case *format.TimestampType:
		return time.UnixMicro(v.Int64()).UTC().Format("2006-01-02 15:04:05.000")
	case *format.DecimalType:
		var u *big.Int
		if v.Kind() == parquet.FixedLenByteArray {
			u = new(big.Int).SetBytes(v.ByteArray())
			if len(v.ByteArray()) > 0 && v.ByteArray()[0]&0x80 != 0 {
				u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(v.ByteArray()))))
			}
		} else {
			u = big.NewInt(v.Int64())
		}
		s := lt.Scale
		if s == 0 {
			return u.String()
		}
		r := new(big.Rat).SetFrac(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
		return r.FloatString(int(s))
	}
	switch v.Kind() {
	case parquet.ByteArray:
		return string(v.ByteArray())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	}
	return v.String()
}

// TestStudentGeneratorDelta runs examples/student-generator/delta.sql:
// the generator feeds the students topic, and two pipelines write every
// record into the Delta table lake/students_raw and each student once
// into lake/students_unique. The server is killed with SIGKILL while they
// write and started again. Read back as a Delta reader does, the raw
// table is the topic record for record (partition and offset each once),
// and the unique table the distinct students of the raw table.
func TestStudentGeneratorDelta(t *testing.T) {
	st := newStack(t, needs{topics: []string{"students"}, partitions: 3})
	srv := st.startServer(t)
	srv.apply(t, "student-generator/delta.sql")

	const rows = 1000
	raw := func() []string {
		return st.deltaRows(t, "lake/students_raw", "kafka_partition", "kafka_offset", "student_id", "name", "course", "score", "enrolled_at")
	}
	waitFor(t, "rows in the raw table", 60*time.Second, func() bool { return len(raw()) >= 100 })
	srv.kill()
	srv = st.startServer(t)
	var topic []string
	waitFor(t, "every record of the topic in the raw table", 90*time.Second, func() bool {
		topic = topic[:0]
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
			topic = append(topic, fmt.Sprintf("%d | %d | %d | %s | %s | %d | %s", r.Partition, r.Offset, s.ID, s.Name, s.Course, s.Score, s.Enroled))
		}
		return len(topic) >= rows && len(raw()) >= len(topic)
	})
	srv.stop(t)
	slices.Sort(topic)
	if got := raw(); !slices.Equal(got, topic) {
		t.Errorf("the raw Delta table (%d rows) differs from the students topic (%d records):\n%s\n---\n%s",
			len(got), len(topic), strings.Join(head(got, 10), "\n"), strings.Join(head(topic, 10), "\n"))
	}
	// Each student once, as one of its rows in the raw table (a resend
	// repeats its original, but a row the generator made again after the
	// restart carries a new enrolled_at: its time follows the clock).
	rawRows := map[string]bool{}
	students := map[string]bool{}
	for _, r := range raw() {
		parts := strings.SplitN(r, " | ", 3)
		rawRows[parts[2]] = true
		students[strings.SplitN(parts[2], " | ", 2)[0]] = true
	}
	unique := st.deltaRows(t, "lake/students_unique", "student_id", "name", "course", "score", "enrolled_at")
	seen := map[string]bool{}
	for _, r := range unique {
		id := strings.SplitN(r, " | ", 2)[0]
		if seen[id] || !rawRows[r] {
			t.Errorf("unique table row %q: a second row of the student, or none of its rows in the raw table", r)
		}
		seen[id] = true
	}
	if len(seen) != len(students) {
		t.Errorf("the unique Delta table has %d students, the raw one %d", len(seen), len(students))
	}
	if len(unique) > rows*9/10 || len(unique) < rows*7/10 {
		t.Errorf("%d distinct students of %d rows; duplicate_ratio 0.2 should resend about 200", len(unique), rows)
	}
	t.Logf("%d records, %d distinct students", len(topic), len(unique))
}

// TestMedallionDelta runs examples/medallion/delta.sql: sales produced by
// kcat go into the bronze Delta table as received and into the silver one
// typed, cleaned and deduplicated. The server is killed with SIGKILL once
// bronze has rows, started again, and the rest of the sales come, with
// resends of sales from before the crash. Bronze is then the topic record
// for record, and silver holds every valid sale exactly once.
func TestMedallionDelta(t *testing.T) {
	st := newStack(t, needs{topics: []string{"pos_sales"}, partitions: 3})
	srv := st.startServer(t)
	srv.apply(t, "medallion/delta.sql")

	rng := rand.New(rand.NewSource(11))
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	before := medallionSales(rng, 0, 300, t0, 50*time.Second)
	after := medallionSales(rng, 300, 300, t0.Add(50*time.Second), 60*time.Second)
	var lines1, lines2 []string
	for i := range before {
		before[i].encode(i%2 == 0)
		lines1 = append(lines1, before[i].line)
		if i%10 == 0 {
			lines1 = append(lines1, before[i].line)
		}
	}
	lines1 = append(lines1, "x\tnot json", `bad-time	{"sale_id":"s-bad","store":"rome","amount":"1.00","sold_at":"yesterday"}`)
	for i := range after {
		after[i].encode(i%3 == 0)
		lines2 = append(lines2, after[i].line)
		if i%50 == 0 {
			lines2 = append(lines2, before[i/3].line)
		}
	}
	bronze := func() []string {
		return st.deltaRows(t, "lake/bronze_sales", "source_partition", "source_offset", "sale_id", "store", "amount", "sold_at")
	}
	st.produce(t, "pos_sales", lines1...)
	waitFor(t, "rows in the bronze table", 60*time.Second, func() bool { return len(bronze()) > 0 })
	srv.kill()
	srv = st.startServer(t)
	st.produce(t, "pos_sales", lines2...)

	// Bronze is every JSON record of the topic, as received.
	var topic []string
	var valid []sale
	for _, s := range append(slices.Clone(before), after...) {
		if s.valid {
			valid = append(valid, s)
		}
	}
	var silverWant []string
	for _, s := range valid {
		silverWant = append(silverWant, fmt.Sprintf("%s | %s | %d.%02d | %s", s.id, strings.ToLower(strings.TrimSpace(s.store)), s.cents/100, s.cents%100, s.soldAt))
	}
	slices.Sort(silverWant)
	silver := func() []string {
		return st.deltaRows(t, "lake/silver_sales", "sale_id", "store", "amount", "sold_at")
	}
	waitFor(t, "every record in bronze and every valid sale in silver", 90*time.Second, func() bool {
		topic = topic[:0]
		for _, r := range st.topicRecords(t, "pos_sales") {
			var s struct {
				ID, Store, SoldAt string
				Amount            json.RawMessage
			}
			var m map[string]json.RawMessage
			if json.Unmarshal([]byte(r.Value), &m) != nil {
				continue // not JSON: a dead letter
			}
			json.Unmarshal(m["sale_id"], &s.ID)
			json.Unmarshal(m["store"], &s.Store)
			json.Unmarshal(m["sold_at"], &s.SoldAt)
			amount := strings.Trim(string(m["amount"]), `"`)
			topic = append(topic, fmt.Sprintf("%d | %d | %s | %s | %s | %s", r.Partition, r.Offset, s.ID, s.Store, amount, s.SoldAt))
		}
		return len(bronze()) >= len(topic) && len(silver()) >= len(silverWant)
	})
	srv.stop(t)
	slices.Sort(topic)
	if got := bronze(); !slices.Equal(got, topic) {
		t.Errorf("the bronze Delta table (%d rows) differs from the pos_sales topic (%d JSON records):\n%s\n---\n%s",
			len(got), len(topic), strings.Join(head(got, 10), "\n"), strings.Join(head(topic, 10), "\n"))
	}
	if got := silver(); !slices.Equal(got, silverWant) {
		t.Errorf("the silver Delta table (%d rows) is not the valid sales once each (%d):\n%s\n---\n%s",
			len(got), len(silverWant), strings.Join(head(got, 10), "\n"), strings.Join(head(silverWant, 10), "\n"))
	}
	t.Logf("%d records in bronze, %d sales in silver", len(topic), len(silverWant))
}
