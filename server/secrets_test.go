package server

import (
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/sql"
)

func TestClearSecretsAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		errors       int
		want         []string // the rendered errors must contain these
	}{
		{"password", `CREATE SINK s WITH (connector = 'clickhouse', url = 'clickhouse://h:9000/db', password = 'hunter2');`,
			1, []string{"1:90: option password holds a secret in clear text", "env:NAME"}},
		{"sasl", "CREATE SOURCE k (id String) WITH (connector = 'kafka', brokers = 'b:9092', topic = 't',\n  sasl_username = 'u', sasl_password = 'p');",
			1, []string{"2:40: option sasl_password holds a secret in clear text"}},
		{"url", `CREATE SINK p WITH (connector = 'postgres', url = 'postgres://app:pw@db/x', table = 't');`,
			1, []string{"1:51: option url has a password in clear text"}},
		{"env and empty are fine", `CREATE SINK s WITH (connector = 'clickhouse', url = 'clickhouse://h:9000/db', password = 'env:CH_PASSWORD', user = 'default');
CREATE SINK t WITH (connector = 'clickhouse', url = 'env:CH_URL', password = '');
CREATE SINK k WITH (connector = 'kafka', brokers = 'b', topic = 't', key = 'id');`, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, errs := sql.Parse(tc.script)
			if len(errs) > 0 {
				t.Fatalf("parse: %v", errs)
			}
			got := clearSecrets(script)
			if len(got) != tc.errors {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), tc.errors, got.Render(tc.script))
			}
			r := got.Render(tc.script)
			for _, w := range tc.want {
				if !strings.Contains(r, w) {
					t.Errorf("errors do not mention %q:\n%s", w, r)
				}
			}
		})
	}
}
