package secret

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestMaskValue(t *testing.T) {
	SetKey([]byte("mask test"))
	sealedURL, _ := Seal("clickhouse://u:hunter2@h:9000/db")
	sealedPW, _ := Seal("hunter2")
	for _, c := range []struct{ name, in, want string }{
		{"password", "hunter2", Masked},
		{"sasl_password", "env:KAFKA_PASSWORD", "env:KAFKA_PASSWORD"},
		{"api_token", "t0k", Masked},
		{"access_key", "AKIA", Masked},
		{"client_secret", "s", Masked},
		{"key", "order_id", "order_id"},
		{"fields.key.kind", "values", "values"},
		{"fields.user_id.max", "100", "100"},
		{"topic", "orders", "orders"},
		{"password", "", ""},
		{"url", "postgres://me:hunter2@db:5432/x", "postgres://me:****@db:5432/x"},
		{"url", "clickhouse://u:p%40ss@h:9000/db?dial_timeout=1s", "clickhouse://u:****@h:9000/db?dial_timeout=1s"},
		{"url", "clickhouse://db:9000/default", "clickhouse://db:9000/default"},
		{"url", "postgres://me@db/x", "postgres://me@db/x"},
		{"url", "clickhouse://h:9000/db?username=u&password=hunter2&secure=false", "clickhouse://h:9000/db?username=u&password=****&secure=false"},
		{"url", "tcp://h:9000?password=hunter2", "tcp://h:9000?password=****"},
		{"url", "postgres://db/x?sslmode=disable&token=abc", "postgres://db/x?sslmode=disable&token=****"},
		{"url", "host=db port=5432 password=hunter2 dbname=x", "host=db port=5432 password=**** dbname=x"},
		{"url", "host=db password = 'hun ter\\'2' dbname=x", "host=db password = **** dbname=x"},
		{"url", "Server=db;User Id=u;Password=hunter2;", "Server=db;User Id=u;Password=****;"},
		{"url", "host=db sslmode=disable", "host=db sslmode=disable"},
		{"url", sealedURL, "clickhouse://u:****@h:9000/db"},
		{"password", sealedPW, Masked},
		{"url", "enc:v1:damaged", Masked},
	} {
		if got := MaskValue(c.name, c.in); got != c.want {
			t.Errorf("MaskValue(%q, %q) = %q, want %q", c.name, c.in, got, c.want)
		}
		clear := c.in != "" && !strings.HasPrefix(c.in, EnvPrefix) && !IsSealed(c.in) && c.want != c.in
		if got := InClear(c.name, c.in); got != clear {
			t.Errorf("InClear(%q, %q) = %v, want %v", c.name, c.in, got, clear)
		}
	}
}

func TestMaskText(t *testing.T) {
	in := `open sink: cannot parse "host=db password=hunter2": failed to dial clickhouse://u:hunter2@h:9000?secret=s3 (token=abc)`
	got := MaskText(in)
	for _, s := range []string{"hunter2", "s3", "abc"} {
		if strings.Contains(got, s) {
			t.Errorf("MaskText left %q: %s", s, got)
		}
	}
	if !strings.Contains(got, "host=db") || !strings.Contains(got, "u:****@h:9000") {
		t.Errorf("MaskText hid too much: %s", got)
	}
}

func TestLogHandler(t *testing.T) {
	var b strings.Builder
	l := slog.New(LogHandler(slog.NewJSONHandler(&b, nil)))
	l = l.With("dsn", "host=db password=hunter1")
	l.Error("open clickhouse://u:hunter2@h:9000", "error", errors.New("dial ?token=hunter3: refused"),
		slog.Group("g", "url", "postgres://me:hunter4@db/x"), "n", 3)
	out := b.String()
	for _, s := range []string{"hunter1", "hunter2", "hunter3", "hunter4"} {
		if strings.Contains(out, s) {
			t.Errorf("log line holds %q: %s", s, out)
		}
	}
	if !strings.Contains(out, `"n":3`) || !strings.Contains(out, "me:****@db") {
		t.Errorf("log line lost what is not secret: %s", out)
	}
}
