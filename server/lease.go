package server

// Ownership of pipelines among the servers of one PostgreSQL catalog.
//
// What a lease covers is a unit (unit.go): a pipeline of one task, or one
// task of a pipeline split into several, so that the tasks of one pipeline
// spread over the servers. Below, "pipeline" stands for either.
//
// Every run holds the pipeline's lease (package catalog): taken when the
// run starts, renewed every third of the lease time, given up when the
// pipeline is stopped or dropped or the server shuts down. A server runs a
// pipeline only while it holds its lease, and a run stops as soon as its
// lease is lost: a renewal that finds it taken over or run out, a renewal
// that could not reach the catalog for a whole lease time, or a checkpoint
// save refused as fenced (runtime.ErrFenced). Each server watches the
// catalog (LISTEN/NOTIFY, and a poll every third of the lease time), so
// what a script applied on any server changes takes effect on all of them,
// and a pipeline whose lease ran out (its owner died) is taken by the
// first server to see it, resuming from its last checkpoint.
//
// The server a script is applied on takes over the pipelines it stops,
// drops or replaces once their owner has stopped them in order (see
// takeOver), so the change never races with another process's run.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/planner"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

// DefaultLeaseTime is how long a pipeline's lease lasts without renewal:
// the longest a dead server's pipelines wait for another to take them
// over (plus a third of it, the other servers' poll interval).
const DefaultLeaseTime = 15 * time.Second

// DefaultNodeID names this process among the servers of a catalog:
// <host name>-<process id>.
func DefaultNodeID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "sluice"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// held is a lease this server holds.
type held struct {
	fence int64
	// pipeline is the lower-case name of the pipeline the unit is of.
	pipeline string
	// until is when the lease surely runs out by this process's clock
	// (monotonic): the start of the last renewal that extended it, plus
	// the lease time.
	until time.Time
}

// leaser keeps the leases of one server.
type leaser struct {
	s   *Server
	l   *catalog.Leases
	id  string
	ttl time.Duration

	mu   sync.Mutex
	held map[string]held          // by unit key
	view map[string]catalog.Lease // every lease, as last read, by unit key
	// freeSince is when the loop first saw each wanted unit without a
	// live lease: past a lease time, any server takes it, over its share
	// or not.
	freeSince map[string]time.Time
	// yielded are the pipelines (by lower-case name) this server stopped
	// because a script on another server changed them, until when it
	// leaves them to that server (which waits to take them over).
	yielded map[string]time.Time
	// nodes are the other live servers, as last read.
	nodes []string

	kick    chan struct{}
	closing atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func newLeaser(s *Server, l *catalog.Leases) *leaser {
	if s.cfg.NodeID == "" {
		s.cfg.NodeID = DefaultNodeID()
	}
	if s.cfg.LeaseTime <= 0 {
		s.cfg.LeaseTime = DefaultLeaseTime
	}
	return &leaser{s: s, l: l, id: s.cfg.NodeID, ttl: s.cfg.LeaseTime, held: map[string]held{}, view: map[string]catalog.Lease{}, freeSince: map[string]time.Time{}, yielded: map[string]time.Time{}, kick: make(chan struct{}, 1)}
}

// claim takes the unit's lease for a run about to start; ok is false
// when another live server holds it, and the run does not start here.
func (s *Server) claim(u unit, force bool) (o runtime.Owner, ok bool, err error) {
	l := s.lease
	if l == nil {
		return runtime.Owner{}, true, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, l.ttl)
	defer cancel()
	t0 := time.Now()
	fence, ok, err := l.l.Acquire(ctx, u.name, l.id, l.ttl, force)
	if err != nil || !ok {
		return runtime.Owner{}, false, err
	}
	k := u.key
	l.mu.Lock()
	l.held[k] = held{fence: fence, pipeline: strings.ToLower(u.pipeline), until: t0.Add(l.ttl)}
	l.view[k] = catalog.Lease{Pipeline: k, Owner: l.id, Fence: fence, Expires: time.Now().Add(l.ttl).UTC(), Live: true}
	l.mu.Unlock()
	return runtime.Owner{ID: l.id, Fence: fence}, true, nil
}

// takeOver makes the lease of a unit of a pipeline that a script stops,
// drops or replaces this server's, so that its state is kept, dropped or replaced
// here with no other run saving it meanwhile. Another server running it
// sees the change (NOTIFY) and stops its run in order — rows written,
// state checkpointed, offsets committed — then gives its lease up; this
// waits for that, up to the lease time and the stop timeout (a dead owner's
// lease runs out in that time), then takes the lease, fencing any run that
// still holds it.
func (s *Server) takeOver(u unit) {
	l := s.lease
	if l == nil {
		return
	}
	deadline := time.Now().Add(l.ttl + s.cfg.StopTimeout)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(s.ctx, l.ttl)
		x, ok, err := l.l.Get(ctx, u.name)
		cancel()
		if err != nil || !ok || !x.Live || x.Owner == l.id {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := s.claim(u, true); err != nil {
		s.log.Error("take over the lease of a changed pipeline", u.logArgs("error", err)...)
	}
}

// takeOverAll takes over the leases of the units that do not run here,
// of one or more plans of a pipeline (a replaced one's old and new).
// Another server stops all the units it runs of a changed pipeline at
// once, so waiting for them one after the other waits about as long as
// for one.
func (s *Server) takeOverAll(lists ...[]unit) {
	if s.lease == nil {
		return
	}
	seen := map[string]bool{}
	for _, us := range lists {
		for _, u := range us {
			s.mu.Lock()
			here := s.runs[u.key] != nil
			s.mu.Unlock()
			if here || seen[u.key] {
				continue
			}
			seen[u.key] = true
			s.takeOver(u)
		}
	}
}

// releasePipeline gives up every lease this server holds of the
// pipeline's units, for a pipeline none of whose units runs here.
func (s *Server) releasePipeline(name string) {
	l := s.lease
	if l == nil {
		return
	}
	var keys []string
	l.mu.Lock()
	for k, h := range l.held {
		if sameKey(h.pipeline, name) {
			keys = append(keys, k)
		}
	}
	l.mu.Unlock()
	for _, k := range keys {
		s.release(k, 0)
	}
}

// release gives up the lease of the unit keyed k held at fence (0:
// whatever this server holds), for a unit that no longer runs here.
func (s *Server) release(k string, fence int64) {
	l := s.lease
	if l == nil {
		return
	}
	l.mu.Lock()
	h, ok := l.held[k]
	if ok && (fence == 0 || h.fence == fence) {
		delete(l.held, k)
		if v, ok := l.view[k]; ok && v.Owner == l.id && v.Fence == h.fence {
			v.Live = false
			l.view[k] = v
		}
	}
	l.mu.Unlock()
	if !ok || (fence != 0 && h.fence != fence) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl)
	defer cancel()
	if err := l.l.Release(ctx, k, l.id, h.fence); err != nil {
		s.log.Warn("give up a pipeline's lease; it runs out by itself", "pipeline", h.pipeline, "lease", k, "error", err)
	}
}

// fenced handles the end of a run whose save was refused because another
// process took the pipeline over: it is not a failure of the pipeline, and
// is not retried here.
func (s *Server) fenced(r *run, err error) bool {
	if s.lease == nil || !errors.Is(err, runtime.ErrFenced) {
		return false
	}
	k := r.u.key
	s.lease.mu.Lock()
	if h, ok := s.lease.held[k]; ok && h.fence == r.owner.Fence {
		delete(s.lease.held, k)
	}
	s.lease.mu.Unlock()
	s.log.Warn("pipeline stopped here: another server took it over", r.u.logArgs("error", err)...)
	s.lease.poke()
	return true
}

// leaseOf returns who holds the unit's lease, for the API.
func (s *Server) leaseOf(key string) (catalog.Lease, bool) {
	if s.lease == nil {
		return catalog.Lease{}, false
	}
	s.lease.mu.Lock()
	defer s.lease.mu.Unlock()
	v, ok := s.lease.view[key]
	return v, ok
}

// NodeID returns this server's name among the servers of its catalog;
// "" when its catalog is not shared (no leases).
func (s *Server) NodeID() string {
	if s.lease == nil {
		return ""
	}
	return s.lease.id
}

func (l *leaser) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// start runs the lease loop and the catalog watch until stop.
func (l *leaser) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.s.cat.Watch(ctx, l.poke)
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			l.tick(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-l.kick:
			}
		}
	}()
}

// stop ends the loop and gives up every lease; the runs have stopped.
func (l *leaser) stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	l.mu.Lock()
	names := make([]string, 0, len(l.held))
	for k := range l.held {
		names = append(names, k)
	}
	l.mu.Unlock()
	for _, k := range names {
		l.s.release(k, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl)
	defer cancel()
	if err := l.l.Leave(ctx, l.id); err != nil {
		l.s.log.Warn("leave the catalog's servers; the heartbeat runs out by itself", "error", err)
	}
}

// tick renews the leases held, stops the runs whose lease is lost, takes
// in what other servers changed in the catalog and starts the wanted
// units that no live server holds.
func (l *leaser) tick(ctx context.Context) {
	l.renew(ctx)
	if l.closing.Load() || ctx.Err() != nil {
		return
	}
	s := l.s
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	if l.closing.Load() {
		return
	}
	s.syncCatalog(ctx)
	lctx, cancel := context.WithTimeout(ctx, l.ttl)
	leases, err := l.l.List(lctx)
	cancel()
	if err != nil {
		s.log.Warn("read the pipelines' leases", "error", err)
		return
	}
	view := make(map[string]catalog.Lease, len(leases))
	for _, x := range leases {
		view[x.Pipeline] = x
	}
	l.mu.Lock()
	l.view = view
	l.mu.Unlock()
	share := l.share(ctx)
	b := l.balance(share)
	free := map[string]bool{}
	for _, obj := range s.cat.List(sql.ObjPipeline) {
		if !l.wanted(obj.Name, obj.Pipeline.Running) {
			continue
		}
		for _, u := range unitsOf(obj) {
			if ctx.Err() != nil {
				break
			}
			l.takeFree(obj, u, view, free, b)
		}
	}
	for k := range l.freeSince {
		if !free[k] {
			delete(l.freeSince, k)
		}
	}
	l.shed(view, b)
}

// balance is how many units this server should run: its share of all
// units, and of each group of them — the tasks of one repartition stage,
// or a pipeline's own tasks. Spreading each group on its own keeps a
// stage's tasks from landing on one server and the pipeline's on another,
// where the busier group would hold the pipeline back.
type balance struct {
	share int
	mine  int               // units held here
	group map[string]string // unit key → group
	size  map[string]int    // units per group
	held  map[string]int    // units per group held here
	live  int               // live servers, this one included
}

// groupShare is how many units of group g each live server should run.
func (b *balance) groupShare(g string) int { return (b.size[g] + b.live - 1) / b.live }

// full reports whether this server runs its share of units, or of u's
// group.
func (b *balance) full(u unit) bool {
	g := unitGroup(u)
	return b.mine >= b.share || b.held[g] >= b.groupShare(g)
}

// took counts a unit taken here.
func (b *balance) took(u unit) {
	b.mine++
	b.held[unitGroup(u)]++
}

// unitGroup names the group a unit is balanced in: its pipeline's own
// tasks, or one stage's.
func unitGroup(u unit) string { return strings.ToLower(u.pipeline) + "\x00" + strings.ToLower(u.stage) }

// balance counts the wanted units per group and those held here.
func (l *leaser) balance(share int) *balance {
	b := &balance{share: share, group: map[string]string{}, size: map[string]int{}, held: map[string]int{}}
	for _, obj := range l.s.cat.List(sql.ObjPipeline) {
		if !l.wanted(obj.Name, obj.Pipeline.Running) {
			continue
		}
		for _, u := range unitsOf(obj) {
			g := unitGroup(u)
			b.group[u.key] = g
			b.size[g]++
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b.live = len(l.nodes) + 1
	// Only the leases of wanted units count: one of a unit that no
	// longer exists, about to be given up, is no load.
	for k := range l.held {
		if g, ok := b.group[k]; ok {
			b.held[g]++
			b.mine++
		}
	}
	return b
}

// takeFree starts the unit u of obj here when no live server holds it and
// this server runs fewer than its share (or it was left free for a lease
// time), counting it in mine.
func (l *leaser) takeFree(obj *planner.Object, u unit, view map[string]catalog.Lease, free map[string]bool, b *balance) {
	s := l.s
	k := u.key
	if x, ok := view[k]; ok && x.Live {
		return
	}
	free[k] = true
	if _, ok := l.freeSince[k]; !ok {
		l.freeSince[k] = time.Now()
	}
	s.mu.Lock()
	busy := s.runs[k] != nil || s.retries[k] != nil
	if r := s.last[k]; r != nil {
		select {
		case <-r.done:
		default:
			busy = true // a run that lost its lease is still ending
		}
	}
	s.mu.Unlock()
	pk := strings.ToLower(obj.Name)
	if until, ok := l.yielded[pk]; ok {
		if time.Now().Before(until) {
			return
		}
		delete(l.yielded, pk)
	}
	if busy {
		return
	}
	// Each server takes its share of the units, and of each group; one
	// left free for a whole lease time (its share's server cannot take
	// it) is taken by whoever sees it.
	if b.full(u) && time.Since(l.freeSince[k]) < l.ttl {
		return
	}
	if x, ok := view[k]; ok && x.Owner != l.id {
		s.log.Info("taking over a pipeline whose lease ran out", u.logArgs("owner", x.Owner, "lease_epoch", x.Fence)...)
	}
	s.startUnit(obj, u)
	l.mu.Lock()
	_, got := l.held[k]
	l.mu.Unlock()
	if got {
		b.took(u)
	}
}

// wanted reports whether a pipeline should run somewhere: the catalog
// wants it running, and it did not finish (a bounded source ended: state
// stopped while wanted), which only a START or a server's restart runs
// again, as with one server.
func (l *leaser) wanted(name string, running bool) bool {
	if !running {
		return false
	}
	e, ok := l.s.cat.Entry(name)
	return ok && e.State != catalog.Stopped
}

// share returns how many of the wanted units each live server should
// run: all of them (every task of every pipeline) divided by the live
// servers (heartbeats), rounded up. It renews this server's heartbeat
// first.
func (l *leaser) share(ctx context.Context) int {
	wanted := 0
	for _, obj := range l.s.cat.List(sql.ObjPipeline) {
		if l.wanted(obj.Name, obj.Pipeline.Running) {
			wanted += len(unitsOf(obj))
		}
	}
	hctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	if err := l.l.Heartbeat(hctx, l.id, l.ttl); err != nil {
		l.s.log.Warn("renew this server's heartbeat", "error", err)
	}
	nodes, err := l.l.Nodes(hctx)
	if err != nil {
		l.s.log.Warn("read the catalog's servers", "error", err)
	}
	var others []string
	for _, n := range nodes {
		if n.Live && n.ID != l.id {
			others = append(others, n.ID)
		}
	}
	l.mu.Lock()
	l.nodes = others
	l.mu.Unlock()
	live := len(others) + 1
	return (wanted + live - 1) / live
}

// shed hands units over when this server runs more than its share, of
// all units or of a group, and other live servers run fewer: each stops
// here in order (written, checkpointed, committed) and its lease is given
// up, for a server below its share to take. It hands over as many as the
// others lack, at most what this server has above its share, so a
// pipeline of many tasks started on one server spreads in one poll; the
// servers converge without moving more than needed.
func (l *leaser) shed(view map[string]catalog.Lease, b *balance) {
	counts := map[string]int{}            // live units per server
	groups := map[string]map[string]int{} // live units per group per server
	for k, x := range view {
		if !x.Live {
			continue
		}
		counts[x.Owner]++
		if g, ok := b.group[k]; ok {
			if groups[g] == nil {
				groups[g] = map[string]int{}
			}
			groups[g][x.Owner]++
		}
	}
	l.mu.Lock()
	nodes := slices.Clone(l.nodes)
	l.mu.Unlock()
	lack := func(g string) int { // what the other servers lack of group g ("": of all)
		n := 0
		for _, o := range nodes {
			if g == "" {
				n += max(b.share-counts[o], 0)
			} else {
				n += max(b.groupShare(g)-groups[g][o], 0)
			}
		}
		return n
	}
	s := l.s
	s.mu.Lock()
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	// The highest keys go first: a split pipeline's last tasks.
	slices.SortFunc(runs, func(a, b *run) int { return strings.Compare(b.u.key, a.u.key) })
	var victims []*run
	picked := map[string]bool{}
	// Groups first: a group run here beyond its share, which others lack.
	for g, held := range b.held {
		n := min(held-b.groupShare(g), lack(g))
		for _, r := range runs {
			if n <= 0 {
				break
			}
			if unitGroup(r.u) == g && !picked[r.u.key] {
				victims, picked[r.u.key] = append(victims, r), true
				n--
			}
		}
	}
	// Then the total.
	n := min(b.mine-len(victims)-b.share, lack(""))
	for _, r := range runs {
		if n <= 0 {
			break
		}
		if !picked[r.u.key] {
			victims, picked[r.u.key] = append(victims, r), true
			n--
		}
	}
	var wg sync.WaitGroup
	for _, v := range victims {
		// The server below its share gets a whole lease time to take
		// it before this one, or any, takes it back over its share.
		l.freeSince[v.u.key] = time.Now()
		s.log.Info("handing a pipeline over to balance the servers", v.u.logArgs("running_here", b.mine, "share", b.share, "group_share", b.groupShare(unitGroup(v.u)))...)
		wg.Go(func() {
			if r := s.stopUnit(v.u.key); r != nil {
				s.release(r.u.key, r.owner.Fence)
			}
		})
	}
	wg.Wait()
}

// renew extends the leases held and stops the runs of those lost.
func (l *leaser) renew(ctx context.Context) {
	s := l.s
	l.mu.Lock()
	fences := make(map[string]int64, len(l.held))
	for k, h := range l.held {
		fences[k] = h.fence
	}
	l.mu.Unlock()
	var kept map[string]bool
	t0 := time.Now()
	if len(fences) > 0 {
		rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		var err error
		kept, err = l.l.Renew(rctx, l.id, fences, l.ttl)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("renew the pipelines' leases", "error", err)
		}
	}
	now := time.Now()
	var lost []string
	l.mu.Lock()
	for k, h := range l.held {
		if fences[k] != h.fence {
			continue // taken since the renewal began
		}
		switch {
		case kept[k]:
			h.until = t0.Add(l.ttl)
			l.held[k] = h
		case kept != nil || now.After(h.until):
			// Taken over or run out; or the catalog could not be reached
			// for a whole lease time, so another server may hold it now.
			delete(l.held, k)
			lost = append(lost, k)
		}
	}
	l.mu.Unlock()
	for _, k := range lost {
		s.cancelRetry(k)
		s.mu.Lock()
		r := s.runs[k]
		if r != nil && r.owner.Fence == fences[k] {
			delete(s.runs, k)
		} else {
			r = nil
		}
		s.mu.Unlock()
		if r == nil {
			continue
		}
		s.log.Warn("pipeline stopped here: its lease was lost", r.u.logArgs("lease_epoch", fences[k])...)
		// Its saves are refused from now on, so its last write is not
		// checkpointed: the next owner replays it.
		r.stopping.Store(true)
		r.cancel()
	}
}

// syncCatalog takes in what other servers changed in the catalog: a run
// here of a pipeline changed elsewhere stops (the server that changed it
// took it over); the loop starts what is wanted and free. The caller holds
// scriptMu.
func (s *Server) syncCatalog(ctx context.Context) {
	if s.lease == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.lease.ttl)
	defer cancel()
	changed, err := s.cat.Reload(rctx)
	if err != nil {
		s.log.Warn("read the catalog", "error", err)
		return
	}
	for _, c := range changed {
		s.log.Info("pipeline changed on another server", "pipeline", c.Name)
		// A run here stops in order under its lease (a retry waiting here
		// is dropped); the lease is given up for the server that changed
		// the pipeline, which is waiting to take it over.
		s.stopRun(c.Name)
		s.releasePipeline(c.Name)
		s.lease.yielded[strings.ToLower(c.Name)] = time.Now().Add(s.lease.ttl)
		if _, ok := s.cat.Lookup(c.Name); !ok || c.Gone {
			s.taps.closePipeline(c.Name)
		}
	}
}

var descOwned = prometheus.NewDesc("sluice_pipeline_owned", "1 on the server that holds the pipeline's lease, 0 on the other servers of a shared PostgreSQL catalog (absent without one); for a pipeline split into tasks, the number of its tasks' leases the server holds.", []string{"pipeline"}, nil)

// collectLeases reports which pipelines this server holds the leases of,
// for every pipeline of a shared catalog: summed over the servers, a
// wanted pipeline that no server owns shows 0, and one whose tasks all
// run shows its number of tasks.
func (s *Server) collectLeases(ch chan<- prometheus.Metric) {
	l := s.lease
	if l == nil {
		return
	}
	for _, e := range s.cat.Entries(sql.ObjPipeline) {
		v := 0.0
		l.mu.Lock()
		for _, h := range l.held {
			if sameKey(h.pipeline, e.Name) {
				v++
			}
		}
		l.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(descOwned, prometheus.GaugeValue, v, e.Name)
	}
}
