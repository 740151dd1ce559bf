package connector

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Every pipeline option is declared well and has its row in docs/sql.md's
// table of pipeline options, with its default.
func TestPipelineOptionsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Pipeline options")
	if !ok {
		t.Fatal("docs/sql.md has no ### Pipeline options section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	c := Connector{Name: "pipeline", Kinds: []Kind{Source}, Options: slices.Clone(PipelineOptions)}
	if err := c.validate(); err != nil {
		t.Errorf("pipeline options: %v", err)
	}
	for _, o := range PipelineOptions {
		def, ok := rows[o.Name]
		switch {
		case !ok:
			t.Errorf("docs/sql.md's pipeline options have no row for %s", o.Name)
		case o.Default != "" && !strings.Contains(def, "`"+o.Default+"`"):
			t.Errorf("docs/sql.md gives %s the default %q, declared %q", o.Name, def, o.Default)
		}
		delete(rows, o.Name)
	}
	for name := range rows {
		t.Errorf("docs/sql.md documents pipeline option %s, which is not declared", name)
	}
}

func TestURLOption(t *testing.T) {
	o := Option{Name: "notify_url", Type: URL}
	for _, good := range []string{"https://hooks.slack.com/services/T0/B0/x", "http://127.0.0.1:9000/hook?a=b"} {
		if msg, _ := o.Check(good); msg != "" {
			t.Errorf("%s: %s", good, msg)
		}
	}
	for _, bad := range []string{"hooks.example.com/x", "ftp://host/x", "https://", "http//x", ""} {
		if msg, hint := o.Check(bad); msg == "" || hint == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
