package bench

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The baseline's decoder: the least work that still finds the fields of a
// record, so that the baseline stays a ceiling. It reads flat objects of
// strings, numbers, booleans and nulls only (what the benchmarks produce),
// and leaves string escapes as they are.

var errSyntax = errors.New("not a flat JSON object")

// scanObject calls fn with the key and raw value of each member of the
// flat JSON object b; str tells a string value (val without its quotes)
// from a literal.
func scanObject(b []byte, fn func(key, val []byte, str bool) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errSyntax
		}
		end := stringEnd(b, i+1)
		if end < 0 {
			return errSyntax
		}
		key := b[i+1 : end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return errSyntax
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return errSyntax
		}
		var val []byte
		str := b[i] == '"'
		if str {
			end = stringEnd(b, i+1)
			if end < 0 {
				return errSyntax
			}
			val, i = b[i+1:end], end+1
		} else {
			start := i
			for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' {
				i++
			}
			val = b[start:i]
		}
		if err := fn(key, val, str); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return errSyntax
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return nil
		default:
			return errSyntax
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the string that starts
// at i, or -1.
func stringEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, errors.New("not an unsigned integer")
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("not an unsigned integer")
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// parseTime reads the layout the benchmarks produce,
// 2006-01-02T15:04:05.000Z, directly, and anything else with time.Parse.
func parseTime(b []byte) (time.Time, error) {
	if len(b) == 24 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
		d := func(from, to int) (int, bool) {
			n := 0
			for _, c := range b[from:to] {
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := d(0, 4)
		mo, ok2 := d(5, 7)
		dd, ok3 := d(8, 10)
		h, ok4 := d(11, 13)
		mi, ok5 := d(14, 16)
		s, ok6 := d(17, 19)
		ms, ok7 := d(20, 23)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 {
			return time.Date(y, time.Month(mo), dd, h, mi, s, ms*1e6, time.UTC), nil
		}
	}
	return time.Parse(time.RFC3339Nano, string(b))
}

// TestEventDecode pins the baseline's decoder: a wrong field would make the
// baseline's numbers meaningless.
func TestEventDecode(t *testing.T) {
	var e event
	err := e.decode([]byte(`{"event_id":"e00000042","seq":7,"user_id":7,"ts":"2026-01-01T00:00:01.250Z","page":"/p","payload":"a \"b\", c"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := event{id: "e00000042", seq: 7, user: 7, ts: time.Date(2026, 1, 1, 0, 0, 1, 250e6, time.UTC)}
	if e.id != want.id || e.seq != want.seq || e.user != want.user || !e.ts.Equal(want.ts) {
		t.Fatalf("decode = %+v, want %+v", e, want)
	}
	if err := e.decode([]byte(`{"event_id":"x","seq":1,"ts":"2026-01-01T00:00:00Z"}`)); err == nil {
		t.Fatal("a record without user_id decoded")
	}
	if err := e.decode([]byte(`{"event_id":"x",`)); err == nil {
		t.Fatal("a cut record decoded")
	}
}
