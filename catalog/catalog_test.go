package catalog_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

// opener opens the same catalog again, as a restarted server would.
type opener func(t *testing.T) *catalog.Store

// backends returns one opener per store kind: every test runs against the
// embedded store, the in-memory one and, when SLUICE_TEST_POSTGRES is set,
// PostgreSQL.
func backends(t *testing.T) map[string]opener {
	out := map[string]opener{}
	mem := &catalog.Memory{}
	out["memory"] = func(t *testing.T) *catalog.Store {
		s, err := catalog.OpenMemory(context.Background(), mem)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	out["embedded"] = func(t *testing.T) *catalog.Store {
		s, err := catalog.OpenDir(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if url := os.Getenv("SLUICE_TEST_POSTGRES"); url != "" {
		schema := fmt.Sprintf("sluice_test_%d_%d", os.Getpid(), time.Now().UnixNano())
		t.Cleanup(func() {
			if err := catalog.DropSchema(context.Background(), url, schema); err != nil {
				t.Errorf("drop test schema: %v", err)
			}
		})
		out["postgres"] = func(t *testing.T) *catalog.Store {
			s, err := catalog.OpenPostgres(context.Background(), url, schema)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	} else {
		t.Log("SLUICE_TEST_POSTGRES is not set: the PostgreSQL store is not tested")
	}
	return out
}

const script = `
CREATE SOURCE orders (order_id String, user_id UInt64, amount Float64, created_at DateTime64(3),
  WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND)
  WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'orders', sasl_password = 'env:KAFKA_PASSWORD');
CREATE SOURCE Users (user_id UInt64, email String) WITH (connector = 'datagen');
CREATE SINK out WITH (connector = 'file', path = '/tmp/out.jsonl');
CREATE PIPELINE enrich WITH (description = 'joins') AS INSERT INTO out
SELECT o.order_id, u.email FROM orders AS o JOIN Users AS u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR;
CREATE PIPELINE copy AS INSERT INTO out SELECT order_id FROM orders;
STOP PIPELINE copy;
`

func apply(t *testing.T, s planner.Store, src string) []planner.Step {
	t.Helper()
	steps, errs := planner.ApplyScript(src, s)
	if len(errs) > 0 {
		t.Fatalf("apply:\n%s", errs.Render(src))
	}
	return steps
}

func TestSuite(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { suite(t, open) })
	}
}

func suite(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	apply(t, s, script)

	t.Run("objects", func(t *testing.T) { checkObjects(t, s) })
	before, _ := s.Entry("enrich")

	t.Run("reopen", func(t *testing.T) {
		s.Close()
		s = open(t)
		if len(s.LoadErrors) > 0 {
			t.Fatalf("load errors: %v", s.LoadErrors)
		}
		checkObjects(t, s)
		after, _ := s.Entry("enrich")
		if !after.Created.Equal(before.Created) || !after.Updated.Equal(before.Updated) {
			t.Errorf("times changed across reopen: %v/%v → %v/%v", before.Created, before.Updated, after.Created, after.Updated)
		}
	})

	t.Run("state", func(t *testing.T) {
		if err := s.SetState(ctx, "ENRICH", catalog.Failed, "sink unreachable"); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = open(t)
		e, _ := s.Entry("enrich")
		if e.State != catalog.Failed || e.Error != "sink unreachable" || !e.Running {
			t.Errorf("state after reopen = %q %q running=%v", e.State, e.Error, e.Running)
		}
		if err := s.SetState(ctx, "nope", catalog.Running, ""); err == nil {
			t.Error("SetState of a missing pipeline succeeded")
		}
	})

	t.Run("bad script changes nothing", func(t *testing.T) {
		src := "DROP PIPELINE copy;\nCREATE SINK x WITH (connector = 'nosuch');"
		if _, errs := planner.ApplyScript(src, s); len(errs) == 0 {
			t.Fatal("bad script applied")
		}
		s.Close()
		s = open(t)
		if _, ok := s.Lookup("copy"); !ok {
			t.Error("pipeline copy was dropped by a script with errors")
		}
	})

	t.Run("replace keeps created", func(t *testing.T) {
		old, _ := s.Entry("enrich")
		time.Sleep(2 * time.Millisecond)
		apply(t, s, "CREATE OR REPLACE PIPELINE enrich AS INSERT INTO out SELECT order_id FROM orders;")
		s.Close()
		s = open(t)
		e, _ := s.Entry("enrich")
		if !e.Created.Equal(old.Created) || !e.Updated.After(old.Updated) {
			t.Errorf("replace: created %v→%v updated %v→%v", old.Created, e.Created, old.Updated, e.Updated)
		}
		if !slices.Equal(e.Sources, []string{"orders"}) {
			t.Errorf("sources after replace = %v", e.Sources)
		}
		if got := s.UsedBy("Users"); len(got) != 0 {
			t.Errorf("Users still used by %v", got)
		}
	})

	t.Run("replace source replans pipelines", func(t *testing.T) {
		apply(t, s, "CREATE OR REPLACE SOURCE orders (order_id String, extra Int32) WITH (connector = 'datagen');")
		s.Close()
		s = open(t)
		if len(s.LoadErrors) > 0 {
			t.Fatalf("load errors: %v", s.LoadErrors)
		}
		o, _ := s.Lookup("orders")
		if o.Source.Connector != "datagen" {
			t.Errorf("orders connector = %s", o.Source.Connector)
		}
	})

	t.Run("drop", func(t *testing.T) {
		apply(t, s, "DROP PIPELINE copy; DROP PIPELINE enrich; DROP SINK out; DROP SOURCE Users;")
		s.Close()
		s = open(t)
		for _, k := range []sql.ObjectKind{sql.ObjPipeline, sql.ObjSink} {
			if l := s.Entries(k); len(l) != 0 {
				t.Errorf("%s left after drop: %v", k, l)
			}
		}
		if l := s.Entries(sql.ObjSource); len(l) != 1 || l[0].Name != "orders" {
			t.Errorf("sources after drop = %v", l)
		}
	})
	s.Close()
}

func checkObjects(t *testing.T, s *catalog.Store) {
	t.Helper()
	e, ok := s.Entry("enrich")
	if !ok {
		t.Fatal("pipeline enrich missing")
	}
	if e.Kind != sql.ObjPipeline || !e.Running || e.State != catalog.Stopped {
		t.Errorf("enrich = kind %s running %v state %q", e.Kind, e.Running, e.State)
	}
	if !slices.Equal(e.Sources, []string{"orders", "Users"}) || e.Sink != "out" {
		t.Errorf("enrich uses %v → %s", e.Sources, e.Sink)
	}
	if e.Created.IsZero() || e.Updated.Before(e.Created) {
		t.Errorf("times %v %v", e.Created, e.Updated)
	}
	if e.Canonical == "" || e.SQL == "" {
		t.Error("SQL or canonical form missing")
	}
	c, _ := s.Entry("copy")
	if c.Running {
		t.Error("copy should be stopped")
	}
	if o, ok := s.Lookup("copy"); !ok || o.Pipeline.Running {
		t.Error("planner view of copy is not stopped")
	}
	if got := s.UsedBy("users"); !slices.Equal(got, []string{"enrich"}) {
		t.Errorf("UsedBy(users) = %v", got)
	}
	o, _ := s.Lookup("orders")
	if o.Source.Options["sasl_password"] != "env:KAFKA_PASSWORD" {
		t.Errorf("secret reference stored as %q", o.Source.Options["sasl_password"])
	}
	if l := s.List(sql.ObjSource); len(l) != 2 {
		t.Errorf("sources = %d", len(l))
	}
	p, _ := s.Lookup("enrich")
	if p.Pipeline.Graph == nil || p.Pipeline.Options["description"] != "joins" {
		t.Error("pipeline not rebuilt with its graph and options")
	}
}

func TestCheckpoints(t *testing.T) {
	var open opener
	for name, o := range backends(t) {
		if name == "postgres" {
			open = o
		}
	}
	if open == nil {
		t.Skip("SLUICE_TEST_POSTGRES is not set")
	}
	s := open(t)
	defer s.Close()
	if d, _ := catalog.OpenDir(context.Background(), t.TempDir()); d != nil {
		if _, ok := d.Checkpoints(); ok {
			t.Error("the embedded catalog offers PostgreSQL checkpoints")
		}
		d.Close()
	}
	c, ok := s.Checkpoints()
	if !ok {
		t.Fatal("no checkpoint store")
	}
	epochs := func(p string) []uint64 {
		chain, err := c.Load(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, cp := range chain {
			out = append(out, cp.Epoch)
		}
		return out
	}
	if got := epochs("P"); len(got) != 0 {
		t.Errorf("empty store loads %v", got)
	}
	save := func(epoch uint64, full bool) {
		cp := &runtime.Checkpoint{Epoch: epoch, State: map[int][]byte{1: {byte(epoch)}}, Kinds: map[int]string{1: "dedup"}}
		if !full {
			cp.Delta = map[int]bool{1: true}
		}
		if err := c.Save(context.Background(), "P", cp); err != nil {
			t.Fatal(err)
		}
	}
	save(1, true)
	save(2, false)
	save(3, false)
	if got := epochs("p"); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("chain = %v", got)
	}
	save(4, true)
	save(5, false)
	if got := epochs("P"); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("chain after a full checkpoint = %v", got)
	}
	chain, _ := c.Load(context.Background(), "P")
	if chain[0].State[1][0] != 4 || !chain[1].Delta[1] {
		t.Errorf("checkpoint contents did not round-trip: %+v", chain[0])
	}
	if in, err := c.LoadIntent(context.Background(), "P"); in != nil || err != nil {
		t.Errorf("intent before any = %v %v", in, err)
	}
	c.SaveIntent(context.Background(), "P", &runtime.Intent{Epoch: 6, Token: "t6", Rows: 10})
	c.SaveIntent(context.Background(), "P", &runtime.Intent{Epoch: 7, Token: "t7", Rows: 11})
	if in, err := c.LoadIntent(context.Background(), "P"); err != nil || in.Token != "t7" || in.Rows != 11 {
		t.Errorf("intent = %+v %v", in, err)
	}
	if err := c.Remove(context.Background(), "P"); err != nil {
		t.Fatal(err)
	}
	if in, _ := c.LoadIntent(context.Background(), "P"); in != nil || len(epochs("P")) != 0 {
		t.Error("Remove left checkpoints")
	}
}
