package all

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/connector/connectortest"
	"github.com/sluice-sql/sluice/secret"
)

var update = flag.Bool("update", false, "rewrite docs/connectors.md's generated tables and connector/connectortest/connectors.json from the declarations")

const (
	docsPath     = "../../docs/connectors.md"
	snapshotPath = "../../connector/connectortest/connectors.json"
)

// The snapshot the planner's and the web API's tests register is the
// connectors' declarations, exactly.
func TestSnapshotMatchesDeclarations(t *testing.T) {
	var decls []connector.Connector
	for _, c := range connector.All() {
		decls = append(decls, *c)
	}
	want, err := json.MarshalIndent(decls, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(snapshotPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the connectors' declarations; run go test ./connectors/all -update", snapshotPath)
	}
	snap := connectortest.Snapshot()
	if len(snap) != len(decls) {
		t.Fatalf("snapshot has %d connectors, want %d", len(snap), len(decls))
	}
}

// docs/connectors.md's option tables are generated from the declarations:
// every block between <!-- generated:NAME --> and <!-- end generated -->
// is what renderBlock makes of NAME.
func TestDocsMatchDeclarations(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)(<!-- generated:([a-z_.:]+) -->\n)(.*?)(<!-- end generated -->)`)
	seen := map[string]bool{}
	var errs []string
	out := re.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		name := string(sub[2])
		seen[name] = true
		want, err := renderBlock(name)
		if err != nil {
			errs = append(errs, err.Error())
			return m
		}
		if string(sub[3]) != want {
			errs = append(errs, fmt.Sprintf("the table %s differs from the declarations", name))
		}
		return []byte(string(sub[1]) + want + string(sub[4]))
	})
	for _, c := range connector.All() {
		if !seen["options:"+c.Name] {
			errs = append(errs, fmt.Sprintf("docs/connectors.md has no <!-- generated:options:%s --> table", c.Name))
		}
	}
	if !seen["connectors"] {
		errs = append(errs, "docs/connectors.md has no <!-- generated:connectors --> table")
	}
	if *update {
		if err := os.WriteFile(docsPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, e := range errs {
		t.Error(e + "; run go test ./connectors/all -update")
	}
}

func renderBlock(name string) (string, error) {
	if name == "connectors" {
		return connectorTable(), nil
	}
	cname, ok := strings.CutPrefix(name, "options:")
	if !ok {
		return "", fmt.Errorf("unknown generated block %q", name)
	}
	c, ok := connector.Lookup(cname)
	if !ok {
		return "", fmt.Errorf("generated block %q: no connector %s is registered", name, cname)
	}
	return optionTable(c), nil
}

func kinds(ks []connector.Kind) string {
	var s []string
	for _, k := range ks {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func connectorTable() string {
	var b strings.Builder
	b.WriteString("| connector | role | formats | sink writes | package |\n|-----------|------|---------|-------------|---------|\n")
	for _, c := range connector.All() {
		formats := "—"
		if len(c.Formats) > 0 {
			formats = "`" + strings.Join(c.Formats, "`, `") + "`"
		}
		writes := "—"
		if c.Plays(connector.Sink) {
			writes = "in batches"
			if c.Continuous {
				writes = "continuously"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | `connectors/%s` |\n", c.Name, kinds(c.Kinds), formats, writes, c.Name)
	}
	return b.String()
}

func optionTable(c *connector.Connector) string {
	var b strings.Builder
	multi := len(c.Kinds) > 1
	if len(c.Options) == 0 && c.PerColumnPrefix == "" {
		return "It takes no options.\n"
	}
	if multi {
		b.WriteString("| option | for | default | what it does |\n|--------|-----|---------|--------------|\n")
	} else {
		b.WriteString("| option | default | what it does |\n|--------|---------|--------------|\n")
	}
	for _, o := range c.Options {
		def := "—"
		switch {
		case o.Required:
			def = "(required)"
		case o.Default != "":
			def = "`" + o.Default + "`"
		case o.DefaultText != "":
			def = o.DefaultText
		}
		doc := o.Doc
		if o.Type == connector.Enum && len(o.Values) > 1 {
			doc += "; one of `" + strings.Join(o.Values, "`, `") + "`"
		}
		if o.Secret {
			doc += " (a secret: never shown)"
		}
		if multi {
			ks := o.Kinds
			if len(ks) == 0 {
				ks = c.Kinds
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Name, kinds(ks), def, doc)
		} else {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Name, def, doc)
		}
	}
	if c.PerColumnPrefix != "" {
		if multi {
			fmt.Fprintf(&b, "| `%s<column>.<setting>` | %s | | per-column settings, below |\n", c.PerColumnPrefix, kinds(c.Kinds))
		} else {
			fmt.Fprintf(&b, "| `%s<column>.<setting>` | | per-column settings, below |\n", c.PerColumnPrefix)
		}
	}
	return b.String()
}

// An option is declared secret exactly when Sluice's masking rule hides
// it, so the API and the docs say what SHOW and the logs do.
func TestSecretsMatchMasking(t *testing.T) {
	for _, c := range connector.All() {
		for _, o := range c.Options {
			if o.Secret != secret.IsSecretName(o.Name) {
				t.Errorf("%s.%s: declared secret %v, masked %v", c.Name, o.Name, o.Secret, secret.IsSecretName(o.Name))
			}
		}
	}
}
