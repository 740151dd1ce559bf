package catalog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

func postgresOnly(t *testing.T) opener {
	t.Helper()
	o, ok := backends(t)["postgres"]
	if !ok {
		t.Skip("SLUICE_TEST_POSTGRES is not set")
	}
	return o
}

// One owner at a time: a lease is taken only when free, run out or the
// taker's own; every taking raises the fence; a forced takeover fences the
// holder at once; and the checkpoint store refuses whatever a fenced owner
// saves, with an error that says who holds the pipeline now.
func TestLeasesFenceCheckpoints(t *testing.T) {
	s := postgresOnly(t)(t)
	defer s.Close()
	if d, _ := catalog.OpenDir(context.Background(), t.TempDir()); d != nil {
		if _, ok := d.Leases(); ok {
			t.Error("the embedded catalog offers leases")
		}
		d.Close()
	}
	l, _ := s.Leases()
	c, _ := s.Checkpoints()
	ctx := context.Background()
	const ttl = time.Minute

	f1, ok, err := l.Acquire(ctx, "P", "n1", ttl, false)
	if err != nil || !ok || f1 != 1 {
		t.Fatalf("first acquire = %d %v %v", f1, ok, err)
	}
	if _, ok, err := l.Acquire(ctx, "p", "n2", ttl, false); ok || err != nil {
		t.Fatalf("n2 took a live lease of n1: %v %v", ok, err)
	}
	n1 := runtime.Owner{ID: "n1", Fence: f1}
	if err := c.Save(ctx, "P", &runtime.Checkpoint{Epoch: 1, Owner: n1}); err != nil {
		t.Fatalf("owner's save: %v", err)
	}
	if err := c.SaveIntent(ctx, "P", &runtime.Intent{Epoch: 2, Token: "t2", Owner: n1}); err != nil {
		t.Fatalf("owner's intent: %v", err)
	}
	// Renewal keeps it; the owner taking it again (a new run) raises the
	// fence and fences its own earlier run.
	if kept, err := l.Renew(ctx, "n1", map[string]int64{"p": f1}, ttl); err != nil || !kept["p"] {
		t.Fatalf("renew = %v %v", kept, err)
	}
	f2, ok, _ := l.Acquire(ctx, "P", "n1", ttl, false)
	if !ok || f2 != f1+1 {
		t.Fatalf("re-acquire by its owner = %d %v, want fence %d", f2, ok, f1+1)
	}
	if err := c.Save(ctx, "P", &runtime.Checkpoint{Epoch: 2, Owner: n1}); !errors.Is(err, runtime.ErrFenced) {
		t.Fatalf("save under the superseded fence: %v", err)
	}
	// A forced takeover by n2.
	f3, ok, _ := l.Acquire(ctx, "P", "n2", ttl, true)
	if !ok || f3 != f2+1 {
		t.Fatalf("forced takeover = %d %v", f3, ok)
	}
	if kept, _ := l.Renew(ctx, "n1", map[string]int64{"p": f2}, ttl); kept["p"] {
		t.Error("n1 renewed a lease n2 took over")
	}
	err = c.Save(ctx, "P", &runtime.Checkpoint{Epoch: 2, Owner: runtime.Owner{ID: "n1", Fence: f2}})
	var fe *catalog.FencedError
	if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) || fe.Holder != "n2" || fe.HolderFence != f3 {
		t.Fatalf("fenced save: %v", err)
	}
	if !strings.Contains(err.Error(), "n2 took it over at lease epoch 3") {
		t.Errorf("message: %v", err)
	}
	if err := c.SaveIntent(ctx, "P", &runtime.Intent{Epoch: 2, Owner: runtime.Owner{ID: "n1", Fence: f2}}); !errors.Is(err, runtime.ErrFenced) {
		t.Errorf("fenced intent: %v", err)
	}
	if in, _ := c.LoadIntent(ctx, "P"); in == nil || in.Token != "t2" {
		t.Errorf("a fenced intent replaced the stored one: %+v", in)
	}
	chain, _ := c.Load(ctx, "P")
	if len(chain) != 1 || chain[0].Epoch != 1 || chain[0].Owner != n1 {
		t.Errorf("chain after fenced saves = %+v", chain)
	}
	n2 := runtime.Owner{ID: "n2", Fence: f3}
	if err := c.Save(ctx, "P", &runtime.Checkpoint{Epoch: 2, Owner: n2}); err != nil {
		t.Fatalf("new owner's save: %v", err)
	}
	// Released: fenced at once, and free for anyone.
	if err := l.Release(ctx, "P", "n2", f3); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, "P", &runtime.Checkpoint{Epoch: 3, Owner: n2}); !errors.Is(err, runtime.ErrFenced) {
		t.Errorf("save after release: %v", err)
	}
	f4, ok, _ := l.Acquire(ctx, "P", "n1", ttl, false)
	if !ok || f4 != f3+1 {
		t.Fatalf("acquire after release = %d %v", f4, ok)
	}
	// Run out: a short lease not renewed.
	if _, ok, _ := l.Acquire(ctx, "Q", "n1", 200*time.Millisecond, false); !ok {
		t.Fatal("acquire Q")
	}
	time.Sleep(400 * time.Millisecond)
	err = c.Save(ctx, "Q", &runtime.Checkpoint{Epoch: 1, Owner: runtime.Owner{ID: "n1", Fence: 1}})
	if !errors.Is(err, runtime.ErrFenced) || !strings.Contains(err.Error(), "ran out") {
		t.Errorf("save under a lease that ran out: %v", err)
	}
	if kept, _ := l.Renew(ctx, "n1", map[string]int64{"q": 1}, ttl); kept["q"] {
		t.Error("a lease that ran out was renewed")
	}
	if f, ok, _ := l.Acquire(ctx, "Q", "n2", ttl, false); !ok || f != 2 {
		t.Errorf("takeover of a lease that ran out = %d %v", f, ok)
	}
	// Saves without a lease (no owner) are not checked.
	if err := c.Save(ctx, "R", &runtime.Checkpoint{Epoch: 1}); err != nil {
		t.Errorf("save without an owner: %v", err)
	}
	ls, err := l.List(ctx)
	if err != nil || len(ls) != 2 || ls[0].Pipeline != "p" || ls[0].Owner != "n1" || ls[0].Fence != f4 || !ls[0].Live {
		t.Errorf("list = %+v %v", ls, err)
	}
}

// Two stores on one PostgreSQL catalog: what one applies, the other
// learns by notification and takes in with Reload, which names the
// pipelines that changed and leaves the others' plans as they were.
func TestReloadAndWatch(t *testing.T) {
	open := postgresOnly(t)
	a, b := open(t), open(t)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notes := make(chan struct{}, 100)
	go b.Watch(ctx, func() { notes <- struct{}{} })
	wait := func() {
		t.Helper()
		select {
		case <-notes:
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
	}
	wait() // the first, on listening
	apply(t, a, script)
	wait()
	got, err := b.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := reloadedNames(got); names != "copy,enrich" {
		t.Errorf("reloaded %q", names)
	}
	checkObjects(t, b)
	enrich, _ := b.Lookup("enrich")
	// Nothing changed: nothing reloaded, plans kept.
	if got, _ := b.Reload(ctx); len(got) != 0 {
		t.Errorf("second reload = %+v", got)
	}
	apply(t, a, "START PIPELINE copy;")
	got, _ = b.Reload(ctx)
	if names := reloadedNames(got); names != "copy" {
		t.Errorf("after START: %q", names)
	}
	if o, _ := b.Lookup("copy"); !o.Pipeline.Running {
		t.Error("START not taken in")
	}
	if o, _ := b.Lookup("enrich"); o != enrich {
		t.Error("an unchanged pipeline was planned again")
	}
	// Replacing a source replans the pipelines that read it.
	apply(t, a, `CREATE OR REPLACE SOURCE Users (user_id UInt64, email String, name String) WITH (connector = 'datagen');`)
	got, _ = b.Reload(ctx)
	if names := reloadedNames(got); names != "enrich" {
		t.Errorf("after replacing a source: %q", names)
	}
	if got[0].Old != enrich.Pipeline.Graph {
		t.Error("the old plan is not reported")
	}
	// A pipeline state set elsewhere is seen without replanning.
	if err := a.SetState(ctx, "enrich", catalog.Failed, "boom"); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Reload(ctx); len(got) != 0 {
		t.Errorf("a state change reloaded %+v", got)
	}
	if e, _ := b.Entry("enrich"); e.State != catalog.Failed || e.Error != "boom" {
		t.Errorf("state = %q %q", e.State, e.Error)
	}
	apply(t, a, "DROP PIPELINE copy;")
	got, _ = b.Reload(ctx)
	if len(got) != 1 || got[0].Name != "copy" || !got[0].Gone {
		t.Errorf("after DROP: %+v", got)
	}
	if _, ok := b.Lookup("copy"); ok || len(b.List(sql.ObjPipeline)) != 1 {
		t.Error("the dropped pipeline is still there")
	}
}

func reloadedNames(rs []catalog.Reloaded) string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.ToLower(r.Name))
	}
	return strings.Join(out, ",")
}

// Heartbeats: a node is live while its heartbeat is renewed, gone at once
// when it leaves, and live again (rejoined, a new start time) after.
func TestHeartbeats(t *testing.T) {
	s := postgresOnly(t)(t)
	defer s.Close()
	l, _ := s.Leases()
	ctx := context.Background()
	if err := l.Heartbeat(ctx, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := l.Heartbeat(ctx, "n2", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	live := func() string {
		ns, err := l.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range ns {
			if n.Live {
				out = append(out, n.ID)
			}
		}
		return strings.Join(out, ",")
	}
	if got := live(); got != "n1,n2" {
		t.Errorf("live = %q", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := live(); got != "n1" {
		t.Errorf("after n2's heartbeat ran out: %q", got)
	}
	ns, _ := l.Nodes(ctx)
	started := ns[0].Started
	if err := l.Leave(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if got := live(); got != "" {
		t.Errorf("after n1 left: %q", got)
	}
	l.Heartbeat(ctx, "n1", time.Minute)
	ns, _ = l.Nodes(ctx)
	if !ns[0].Live || !ns[0].Started.After(started) {
		t.Errorf("rejoined n1 = %+v (first started %v)", ns[0], started)
	}
}
