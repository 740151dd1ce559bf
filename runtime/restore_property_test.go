package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

var restoreSeed = flag.Uint64("restore.seed", 0, "run TestRestoreIsExact with this seed only")

// restoreCase is a graph the property test runs: its sources, in the order
// restoreStep.src numbers them.
type restoreCase struct {
	name  string
	graph func() *dag.Graph
}

func restoreSource(id int, name string) *dag.Node {
	return &dag.Node{ID: id, Kind: dag.KindSource, Schema: kvSchema, TimeCol: 1,
		Source: &dag.SourceSpec{Name: name, Declared: kvSchema, Watermark: "ts"}}
}

func restoreDedup(id, in int, within time.Duration) *dag.Node {
	n := dedupNode(within)
	n.ID, n.Inputs = id, []int{in}
	return n
}

func restoreJoin(id, left, right int, typ dag.JoinType, within time.Duration) *dag.Node {
	n := joinNode(kvSchema, kvSchema, typ, within, 1, 1, 0, 0)
	n.ID, n.Inputs = id, []int{left, right}
	return n
}

func restoreWindow(id, in int, kind dag.WindowKind, size, slide time.Duration) *dag.Node {
	n := windowNode(kind, size, slide, nil)
	n.ID, n.Inputs = id, []int{in}
	return n
}

func restoreGraph(nodes ...*dag.Node) func() *dag.Graph {
	return func() *dag.Graph { return &dag.Graph{Name: "restore", Nodes: nodes} }
}

var restoreCases = []restoreCase{
	{"dedup", restoreGraph(restoreSource(1, "a"), restoreDedup(2, 1, 2*time.Second))},
	{"join-inner", restoreGraph(restoreSource(1, "a"), restoreSource(2, "b"), restoreJoin(3, 1, 2, dag.Inner, 2*time.Second))},
	{"join-left", restoreGraph(restoreSource(1, "a"), restoreSource(2, "b"), restoreJoin(3, 1, 2, dag.Left, 2*time.Second))},
	{"tumble", restoreGraph(restoreSource(1, "a"), restoreWindow(2, 1, dag.Tumble, 3*time.Second, 3*time.Second))},
	{"hop", restoreGraph(restoreSource(1, "a"), restoreWindow(2, 1, dag.Hop, 4*time.Second, time.Second))},
	{"dedup-tumble", restoreGraph(restoreSource(1, "a"), restoreDedup(2, 1, time.Second), restoreWindow(3, 2, dag.Tumble, 2*time.Second, 2*time.Second))},
	{"dedup-hop", restoreGraph(restoreSource(1, "a"), restoreDedup(2, 1, 2*time.Second), restoreWindow(3, 2, dag.Hop, 3*time.Second, time.Second))},
	{"dedup-join-left", restoreGraph(restoreSource(1, "a"), restoreDedup(2, 1, time.Second), restoreSource(3, "b"),
		restoreJoin(4, 2, 3, dag.Left, 2*time.Second))},
	{"dedup-join-inner", restoreGraph(restoreSource(1, "a"), restoreSource(2, "b"), restoreDedup(3, 2, 2*time.Second),
		restoreJoin(4, 1, 3, dag.Inner, time.Second))},
}

// restoreStep is one step of input: a batch into source src (then its
// watermark advances to wm), or with rows nil only the watermark move.
type restoreStep struct {
	src  int
	rows []string // "key@seconds"
	wm   int64
}

// restoreInput draws a random input: keys from a small set (so there are
// duplicates and matches), times moving forward with jitter (so some rows
// are out of order and some late), and per-source watermarks that trail
// the largest time by a random delay.
func restoreInput(r *rand.Rand, sources int) []restoreStep {
	keys := []string{"a", "b", "c", "d", "e", "-"}
	nkeys := 2 + r.IntN(len(keys)-1)
	delay := float64(r.IntN(3))
	maxT := make([]float64, sources)
	wm := make([]int64, sources)
	for i := range wm {
		wm[i] = noWatermark
	}
	now := 0.0
	var steps []restoreStep
	for n := 10 + r.IntN(60); n > 0; n-- {
		s := r.IntN(sources)
		if r.IntN(8) == 0 {
			// A watermark move alone (idleness, or the other input).
			now += r.Float64() * 2
			w := int64((now - delay) * float64(sec))
			if w > wm[s] {
				wm[s] = w
				steps = append(steps, restoreStep{src: s, wm: w})
			}
			continue
		}
		var rows []string
		for m := 1 + r.IntN(5); m > 0; m-- {
			now += r.Float64() * 0.7
			t := now - r.Float64()*3 // out of order, sometimes behind the watermark
			t = float64(int64(t*4)) / 4
			rows = append(rows, fmt.Sprintf("%s@%g", keys[r.IntN(nkeys)], t))
			if t > maxT[s] {
				maxT[s] = t
			}
		}
		if w := int64((maxT[s] - delay) * float64(sec)); w > wm[s] {
			wm[s] = w
		}
		steps = append(steps, restoreStep{src: s, rows: rows, wm: wm[s]})
	}
	return steps
}

// restoreRun drives a runner the way the pipeline's operator goroutine
// does: batches, watermark advances and barriers between steps.
type restoreRun struct {
	t       *testing.T
	g       *dag.Graph
	r       *runner
	sources []*nodeRT
	out     []string
}

func newRestoreRun(t *testing.T, g *dag.Graph) *restoreRun {
	x := &restoreRun{t: t, g: g}
	r, err := buildRunner(g, func(b *Batch) { x.out = append(x.out, rowsOf(b)...) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	x.r = r
	for _, rt := range r.nodes {
		if rt.n.Kind == dag.KindSource {
			x.sources = append(x.sources, rt)
		}
	}
	return x
}

func (x *restoreRun) step(s restoreStep) {
	src := x.sources[s.src]
	if s.rows != nil {
		b := kvBatch(s.rows...)
		x.r.push(src, b)
	}
	x.r.advance(src, s.wm)
}

// TestRestoreIsExact is the checkpoint property: for random inputs, a run
// that checkpoints at random points (full checkpoints and chains of
// incremental ones of any length), crashes at random points and restores
// from its last stored checkpoint produces exactly the rows of a run that
// never stopped. Each case runs many seeds; a failure prints the seed to
// rerun with -restore.seed.
func TestRestoreIsExact(t *testing.T) {
	runs := 200
	if testing.Short() || raceEnabled {
		runs = 30
	}
	for _, c := range restoreCases {
		t.Run(c.name, func(t *testing.T) {
			seeds := make([]uint64, 0, runs)
			if *restoreSeed != 0 {
				seeds = append(seeds, *restoreSeed)
			} else {
				base := uint64(time.Now().UnixNano())
				for i := 0; i < runs; i++ {
					seeds = append(seeds, base+uint64(i))
				}
			}
			for _, seed := range seeds {
				if msg := restoreOnce(t, c, seed); msg != "" {
					t.Fatalf("seed %d (rerun: go test -run 'TestRestoreIsExact/%s$' -restore.seed %d ./runtime/):\n%s", seed, c.name, seed, msg)
				}
			}
		})
	}
}

func restoreOnce(t *testing.T, c restoreCase, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := c.graph()
	nsrc := 0
	for _, n := range g.Nodes {
		if n.Kind == dag.KindSource {
			nsrc++
		}
	}
	input := restoreInput(r, nsrc)

	// The run that never stops.
	ref := newRestoreRun(t, g)
	for _, s := range input {
		ref.step(s)
	}
	want := ref.out

	// The run that checkpoints and crashes. committed is the output as of
	// the last stored checkpoint (what the sink has durably written).
	// Odd seeds keep the chain in files, as sluice run and the server do:
	// delta files listed in epoch order (more than nine of them, so a
	// lexical order of unpadded numbers would misplace some), and crashes
	// between a full checkpoint's rename and the removal of the deltas it
	// supersedes, which leave those deltas behind.
	var store CheckpointStore = &MemoryCheckpointStore{}
	var files *FileCheckpointStore
	if seed%2 == 1 {
		files = &FileCheckpointStore{Dir: t.TempDir()}
		store = files
	}
	run := newRestoreRun(t, g)
	run.r.trackChanges()
	var committed []string
	at := map[uint64]int{} // checkpoint epoch → steps done
	var epoch uint64
	haveBase := false
	var log []string
	crashes := 0
	for i := 0; i < len(input); {
		run.step(input[i])
		i++
		if r.IntN(3) == 0 {
			full := !haveBase || r.IntN(5) == 0
			epoch++
			cp := &Checkpoint{Epoch: epoch}
			run.r.snapshot(cp, full)
			var stale map[string][]byte
			if files != nil && full && r.IntN(2) == 0 {
				stale = readDeltaFiles(t, files.path("restore", "deltas"))
			}
			if err := store.Save(context.Background(), "restore", cp); err != nil {
				t.Fatal(err)
			}
			for path, b := range stale {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				log = append(log, "crash before removing superseded delta "+filepath.Base(path))
			}
			haveBase = true
			at[epoch] = i
			committed = append(committed, run.out...)
			run.out = nil
			log = append(log, fmt.Sprintf("checkpoint %d after step %d (full %v)", epoch, i, full))
		}
		if haveBase && crashes < 30 && r.IntN(6) == 0 {
			// Crash: everything since the last checkpoint is lost; a new
			// process restores the chain and replays from there.
			chain, err := store.Load(context.Background(), "restore")
			if err != nil {
				t.Fatal(err)
			}
			last := chain[len(chain)-1]
			log = append(log, fmt.Sprintf("crash after step %d: restore a chain of %d, replay from step %d", i, len(chain), at[last.Epoch]))
			run = newRestoreRun(t, g)
			if _, err := run.r.restore(chain); err != nil {
				return fmt.Sprintf("%s\nrestore: %v", strings.Join(log, "\n"), err)
			}
			run.r.trackChanges()
			i = at[last.Epoch]
			crashes++
		}
	}
	got := append(committed, run.out...)
	if slices.Equal(sorted(got), sorted(want)) {
		return ""
	}
	var in []string
	for k, s := range input {
		in = append(in, fmt.Sprintf("step %d: source %d rows %v wm %v", k+1, s.src, s.rows, float64(s.wm)/float64(sec)))
	}
	return fmt.Sprintf("input:\n%s\n%s\ngot  %v\nwant %v", strings.Join(in, "\n"), strings.Join(log, "\n"), sorted(got), sorted(want))
}

// readDeltaFiles returns the delta files in dir with their contents.
func readDeltaFiles(t *testing.T, dir string) map[string][]byte {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Join(dir, e.Name())] = b
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
