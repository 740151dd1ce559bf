package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/sluice-sql/sluice/web"
)

// GET /api/v1/connectors serves the registered declarations in the shape
// of CONTRACT §2, sorted by name, behind the API token.
func TestConnectorsAPI(t *testing.T) {
	e := start(t, web.Config{Token: "s3cret"})
	anon := *e
	anon.token = ""
	if code := anon.call(http.MethodGet, "/api/v1/connectors", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("without token: %d", code)
	}
	var raw json.RawMessage
	if code := e.call(http.MethodGet, "/api/v1/connectors", "", nil, &raw); code != 200 {
		t.Fatalf("GET /api/v1/connectors: %d %s", code, raw)
	}
	type option struct {
		Name     string   `json:"name"`
		Type     string   `json:"type"`
		Default  *string  `json:"default"`
		Required *bool    `json:"required"`
		Secret   *bool    `json:"secret"`
		Doc      string   `json:"doc"`
		Values   []string `json:"values"`
		Kinds    []string `json:"kinds"`
	}
	var ans struct {
		Connectors []struct {
			Name            string   `json:"name"`
			Kinds           []string `json:"kinds"`
			Formats         []string `json:"formats"`
			Doc             string   `json:"doc"`
			PerColumnPrefix *string  `json:"per_column_prefix"`
			Options         []option `json:"options"`
		} `json:"connectors"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]int{}
	for i, c := range ans.Connectors {
		names = append(names, c.Name)
		byName[c.Name] = i
		if c.Doc == "" || c.PerColumnPrefix == nil || c.Formats == nil || len(c.Kinds) == 0 {
			t.Errorf("%s: incomplete: %+v", c.Name, c)
		}
		for _, o := range c.Options {
			if o.Default == nil || o.Required == nil || o.Secret == nil || o.Values == nil || len(o.Kinds) == 0 || o.Doc == "" {
				t.Errorf("%s.%s: incomplete: %+v", c.Name, o.Name, o)
			}
			if !slices.Contains([]string{"string", "count", "duration", "bool", "ratio", "enum"}, o.Type) {
				t.Errorf("%s.%s: type %q", c.Name, o.Name, o.Type)
			}
		}
	}
	if want := []string{"blackhole", "clickhouse", "datagen", "delta", "file", "kafka", "postgres", "stdout"}; !slices.Equal(names, want) {
		t.Fatalf("connectors %v, want %v", names, want)
	}
	opt := func(conn, name string) option {
		t.Helper()
		for _, o := range ans.Connectors[byName[conn]].Options {
			if o.Name == name {
				return o
			}
		}
		t.Fatalf("%s has no option %s", conn, name)
		return option{}
	}
	k := ans.Connectors[byName["kafka"]]
	if !slices.Equal(k.Kinds, []string{"source", "sink"}) || !slices.Equal(k.Formats, []string{"json"}) {
		t.Errorf("kafka: kinds %v formats %v", k.Kinds, k.Formats)
	}
	if o := opt("kafka", "brokers"); !*o.Required || o.Type != "string" || !slices.Equal(o.Kinds, []string{"source", "sink"}) {
		t.Errorf("kafka brokers: %+v", o)
	}
	if o := opt("kafka", "sasl_password"); !*o.Secret {
		t.Errorf("sasl_password is not secret: %+v", o)
	}
	if o := opt("kafka", "start"); o.Type != "enum" || !slices.Equal(o.Values, []string{"earliest", "latest"}) || *o.Default != "earliest" || !slices.Equal(o.Kinds, []string{"source"}) {
		t.Errorf("kafka start: %+v", o)
	}
	if o := opt("kafka", "key"); !slices.Equal(o.Kinds, []string{"sink"}) {
		t.Errorf("kafka key: %+v", o)
	}
	if o := opt("postgres", "batch_size"); o.Type != "count" || *o.Default != "10000" {
		t.Errorf("postgres batch_size: %+v", o)
	}
	if p := ans.Connectors[byName["datagen"]].PerColumnPrefix; *p != "fields." {
		t.Errorf("datagen per_column_prefix %q", *p)
	}
}
