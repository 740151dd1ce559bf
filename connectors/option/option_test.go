package option

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/secret"
)

func TestGetters(t *testing.T) {
	t.Setenv("SLUICE_OPTION_TEST", "42")
	s, err := Resolve(map[string]string{
		"connector": "x", "n": "env:SLUICE_OPTION_TEST", "d": "1m30s", "b": "TRUE", "e": "latest", "f": "0.5",
		"fields.a.kind": "sequence",
	}, "n", "d", "b", "e", "f", "missing", "fields.*")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Int("n", 1, 0, 100); n != 42 {
		t.Errorf("Int = %d", n)
	}
	if d := s.Duration("d", 0, 0); d != 90*time.Second {
		t.Errorf("Duration = %v", d)
	}
	if !s.Bool("b", false) || s.OneOf("e", "earliest", "earliest", "latest") != "latest" || s.Float("f", 0, 0, 1) != 0.5 {
		t.Error("Bool, OneOf or Float")
	}
	if s.Int("missing", 7, 0, 10) != 7 || s.String("missing", "def") != "def" || s.Has("missing") {
		t.Error("defaults")
	}
	if got := s.Names("fields."); len(got) != 1 || got[0] != "fields.a.kind" {
		t.Errorf("Names = %v", got)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	t.Setenv("SLUICE_OPTION_SECRET", "hunter2")
	_, err := Resolve(map[string]string{"bogus": "1", "p": "env:SLUICE_OPTION_UNSET"}, "p", "q")
	if err == nil || !strings.Contains(err.Error(), `unknown option "bogus" (known: p, q)`) ||
		!strings.Contains(err.Error(), "option p = 'env:SLUICE_OPTION_UNSET': environment variable SLUICE_OPTION_UNSET is not set") {
		t.Fatalf("Resolve: %v", err)
	}
	s, err := Resolve(map[string]string{"n": "x", "d": "5", "b": "yes", "e": "middle", "sasl_password": "hunter2", "k": "env:SLUICE_OPTION_SECRET", "u": "postgres://me:hunter2@db/x"},
		"n", "d", "b", "e", "sasl_password", "k", "r", "u")
	if err != nil {
		t.Fatal(err)
	}
	s.Int("n", 10, 1, 100)
	s.Duration("d", time.Second, 0)
	s.Bool("b", false)
	s.OneOf("e", "a", "a", "b")
	s.Int("sasl_password", 0, 0, 1)
	s.Int("k", 0, 0, 1)
	s.Required("r", "example")
	s.Int("u", 0, 0, 1)
	msg := s.Err().Error()
	for _, want := range []string{
		"option n = 'x': want a whole number from 1 to 100, such as '10'",
		"option d = '5': want a duration of at least 0s such as '500ms', '1s' or '5m'",
		"option b = 'yes': want 'true' or 'false'",
		"option e = 'middle': want one of 'a', 'b'",
		"option sasl_password = '…'",
		"option k = 'env:SLUICE_OPTION_SECRET'",
		"option r is required (for example r = 'example')",
		"option u = 'postgres://me:****@db/x'",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors %q lack %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("a secret is printed: %s", msg)
	}
}

func TestSealedValues(t *testing.T) {
	secret.SetKey([]byte("test key"))
	sealed, err := secret.Seal("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(map[string]string{"password": sealed, "user": "u"}, "password", "user")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String("password", ""); got != "hunter2" {
		t.Fatalf("password = %q, want the opened value", got)
	}
	secret.SetKey([]byte("another key"))
	if _, err := Resolve(map[string]string{"password": sealed}, "password"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a value sealed under another key: %v", err)
	}
}
