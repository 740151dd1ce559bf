package option

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/secret"
)

func declare(opts ...connector.Option) *connector.Connector {
	c := &connector.Connector{Name: "x", Kinds: []connector.Kind{connector.Source}, PerColumnPrefix: "fields.", Options: opts}
	for i := range c.Options {
		if c.Options[i].Type == connector.Count && c.Options[i].Max == 0 {
			c.Options[i].Max = 1 << 62
		}
	}
	return c
}

func TestGetters(t *testing.T) {
	t.Setenv("SLUICE_OPTION_TEST", "42")
	decl := declare(
		connector.Option{Name: "n", Type: connector.Count, Default: "1", Max: 100},
		connector.Option{Name: "d", Type: connector.Duration, Default: "1s"},
		connector.Option{Name: "b", Type: connector.Bool, Default: "false"},
		connector.Option{Name: "e", Type: connector.Enum, Default: "earliest", Values: []string{"earliest", "latest"}},
		connector.Option{Name: "f", Type: connector.Ratio, Default: "0"},
		connector.Option{Name: "missing", Type: connector.Count, Default: "7", Max: 10},
		connector.Option{Name: "def", Type: connector.String, Default: "def"},
		connector.Option{Name: "dd", Type: connector.Duration, Default: "5s"},
	)
	s, err := Resolve(map[string]string{
		"connector": "x", "n": "env:SLUICE_OPTION_TEST", "d": "1m30s", "b": "TRUE", "e": "LATEST", "f": "0.5",
		"fields.a.kind": "sequence",
	}, decl, connector.Source)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count("n"); n != 42 {
		t.Errorf("Count = %d", n)
	}
	if d := s.Duration("d"); d != 90*time.Second {
		t.Errorf("Duration = %v", d)
	}
	if !s.Bool("b") || s.Enum("e") != "latest" || s.Ratio("f") != 0.5 {
		t.Error("Bool, Enum or Ratio")
	}
	// Options not given are their declared defaults.
	if s.Count("missing") != 7 || s.String("def") != "def" || s.Duration("dd") != 5*time.Second || s.Has("missing") {
		t.Error("defaults")
	}
	if got := s.Names("fields."); len(got) != 1 || got[0] != "fields.a.kind" || s.Value(got[0]) != "sequence" {
		t.Errorf("Names = %v", got)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	t.Setenv("SLUICE_OPTION_SECRET", "hunter2")
	decl := declare(
		connector.Option{Name: "n", Type: connector.Count, Default: "10", Min: 1, Max: 100},
		connector.Option{Name: "d", Type: connector.Duration, Default: "1s"},
		connector.Option{Name: "b", Type: connector.Bool, Default: "false"},
		connector.Option{Name: "e", Type: connector.Enum, Default: "a", Values: []string{"a", "b"}},
		connector.Option{Name: "sasl_password", Type: connector.Count, Max: 1},
		connector.Option{Name: "k", Type: connector.Count, Max: 1},
		connector.Option{Name: "r", Type: connector.String},
		connector.Option{Name: "u", Type: connector.Count, Max: 1},
		connector.Option{Name: "p", Type: connector.String},
		connector.Option{Name: "q", Type: connector.String},
	)
	_, err := Resolve(map[string]string{"bogus": "1", "p": "env:SLUICE_OPTION_UNSET"}, declare(connector.Option{Name: "p", Type: connector.String}, connector.Option{Name: "q", Type: connector.String}), connector.Source)
	if err == nil || !strings.Contains(err.Error(), `unknown option "bogus" (known: p, q, fields.*)`) ||
		!strings.Contains(err.Error(), "option p = 'env:SLUICE_OPTION_UNSET': environment variable SLUICE_OPTION_UNSET is not set") {
		t.Fatalf("Resolve: %v", err)
	}
	s, err := Resolve(map[string]string{"n": "x", "d": "5", "b": "yes", "e": "middle", "sasl_password": "hunter2", "k": "env:SLUICE_OPTION_SECRET", "u": "postgres://me:hunter2@db/x"},
		decl, connector.Source)
	if err != nil {
		t.Fatal(err)
	}
	s.Count("n")
	s.Duration("d")
	s.Bool("b")
	s.Enum("e")
	s.Count("sasl_password")
	s.Count("k")
	s.Required("r", "example")
	s.Count("u")
	msg := s.Err().Error()
	for _, want := range []string{
		"option n = 'x': want a whole number from 1 to 100, such as '10'",
		"option d = '5': want a duration greater than 0 such as '500ms', '1s' or '5m'",
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
	decl := declare(connector.Option{Name: "password", Type: connector.String, Secret: true}, connector.Option{Name: "user", Type: connector.String})
	s, err := Resolve(map[string]string{"password": sealed, "user": "u"}, decl, connector.Source)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String("password"); got != "hunter2" {
		t.Fatalf("password = %q, want the opened value", got)
	}
	secret.SetKey([]byte("another key"))
	if _, err := Resolve(map[string]string{"password": sealed}, decl, connector.Source); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a value sealed under another key: %v", err)
	}
}
