package server

import (
	"testing"

	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/planner/dag"
)

func TestMaskOptions(t *testing.T) {
	in := map[string]string{
		"password":      "hunter2",
		"sasl_password": "env:KAFKA_PASSWORD",
		"url":           "postgres://me:hunter2@db:5432/x",
		"plain_url":     "clickhouse://db:9000/default",
		"user_only":     "postgres://me@db/x",
		"key":           "order_id",
		"api_token":     "t0k",
		"topic":         "orders",
	}
	want := map[string]string{
		"password":      "****",
		"sasl_password": "env:KAFKA_PASSWORD",
		"url":           "postgres://me:****@db:5432/x",
		"plain_url":     "clickhouse://db:9000/default",
		"user_only":     "postgres://me@db/x",
		"key":           "order_id",
		"api_token":     "****",
		"topic":         "orders",
	}
	got := MaskOptions(in)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func plan(t *testing.T, pipeline string) *dag.Graph {
	t.Helper()
	cat := planner.NewMem()
	src := `CREATE SOURCE ev (id UInt64, name String, ts DateTime64(3), WATERMARK FOR ts AS ts - INTERVAL 1 SECOND)
  WITH (connector = 'datagen');
CREATE SOURCE other (id UInt64, ts DateTime64(3), WATERMARK FOR ts AS ts) WITH (connector = 'datagen');
CREATE SINK out WITH (connector = 'file', path = '/tmp/x');
` + pipeline
	if _, errs := planner.ApplyScript(src, cat); len(errs) > 0 {
		t.Fatalf("%s", errs.Render(src))
	}
	o, _ := cat.Lookup("p")
	return o.Pipeline.Graph
}

func TestStateFits(t *testing.T) {
	base := plan(t, "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;")
	for _, tc := range []struct {
		name     string
		pipeline string
		fits     bool
	}{
		{"same", "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;", true},
		{"select list", "CREATE PIPELINE p AS INSERT INTO out SELECT UPPER(name) AS n, id + 1 AS id FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;", true},
		// Reading fewer columns changes the rows the operators hold.
		{"columns read", "CREATE PIPELINE p AS INSERT INTO out SELECT id FROM ev DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;", false},
		{"where", "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev WHERE id > 3 DEDUPLICATE BY id WITHIN INTERVAL 1 MINUTE;", true},
		{"dedup window", "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev DEDUPLICATE BY id WITHIN INTERVAL 2 MINUTE;", false},
		{"dedup key", "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev DEDUPLICATE BY name WITHIN INTERVAL 1 MINUTE;", false},
		{"no dedup", "CREATE PIPELINE p AS INSERT INTO out SELECT id, name FROM ev;", false},
		{"join", "CREATE PIPELINE p AS INSERT INTO out SELECT e.id FROM ev AS e JOIN other AS o ON e.id = o.id WITHIN INTERVAL 1 MINUTE;", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stateFits(base, plan(t, tc.pipeline)); got != tc.fits {
				t.Errorf("stateFits = %v, want %v", got, tc.fits)
			}
		})
	}
}
