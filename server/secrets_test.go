package server

import (
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/secret"
	"github.com/sluice-sql/sluice/sql"
)

func TestSealSecrets(t *testing.T) {
	secret.SetKey([]byte("test"))
	src := `CREATE SINK s WITH (connector = 'clickhouse', url = 'clickhouse://h:9000/db', user = 'u', password = 'hun''ter2');
CREATE SOURCE k (id String) WITH (connector = 'kafka', brokers = 'b', topic = 't',
  sasl_username = 'u', sasl_password = 'env:KAFKA_PASSWORD', tls_ca = '');
CREATE SINK p WITH (connector = 'postgres', url = 'postgres://app:pw@db/x', table = 't');`
	seal := func() *sql.Script {
		script, errs := sql.Parse(src)
		if len(errs) > 0 {
			t.Fatal(errs.Render(src))
		}
		if err := sealSecrets(script); err != nil {
			t.Fatal(err)
		}
		return script
	}
	script := seal()
	var texts []string
	for _, st := range script.Stmts {
		text := st.Text()
		texts = append(texts, text)
		if strings.Contains(text, "hun") || strings.Contains(text, ":pw@") {
			t.Errorf("a secret is left in clear text: %s", text)
		}
		// The stored text must parse again to the sealed values.
		again, errs := sql.Parse(text)
		if len(errs) > 0 {
			t.Fatalf("sealed text does not parse: %s\n%s", text, errs.Render(text))
		}
		if got, want := sql.Format(again.Stmts[0]), sql.Format(st); got != want {
			t.Errorf("sealed text and AST differ:\n%s\n%s", got, want)
		}
	}
	sink := script.Stmts[0].(*sql.CreateSink)
	for _, o := range sink.Options {
		switch o.Key.Name {
		case "password":
			if v, err := secret.Open(o.Value); err != nil || v != "hun'ter2" {
				t.Errorf("password opens to %q, %v", v, err)
			}
		case "user", "url":
			if secret.IsSealed(o.Value) {
				t.Errorf("%s was sealed: it is not a secret", o.Key.Name)
			}
		}
	}
	if !strings.Contains(texts[1], "'env:KAFKA_PASSWORD'") || !strings.Contains(texts[1], "tls_ca = ''") {
		t.Errorf("env: references and empty values must stay: %s", texts[1])
	}
	// Sealing is deterministic, so applying one script twice stores one
	// text (and sluice apply finds it unchanged).
	for i, st := range seal().Stmts {
		if st.Text() != texts[i] {
			t.Errorf("sealing twice differs:\n%s\n%s", texts[i], st.Text())
		}
	}
}
