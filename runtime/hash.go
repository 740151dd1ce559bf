package runtime

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/sluice-sql/sluice/planner/dag"
)

// Key hashes are 128 bits so that state can keep the hash instead of the
// key: at 2^-64 per pair collisions are negligible for any state a
// pipeline holds. The function is fixed (not seeded per process) because
// hashes are stored in checkpoints and must mean the same after a restart.

const (
	hashK1 = 0xa0761d6478bd642f
	hashK2 = 0xe7037ed1a0b428db
	hashK3 = 0x8ebc6af09c88c6e3
	hashK4 = 0x589965cc75374cc3
)

func hmix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash128 is a pair of 64-bit lanes.
type hash128 struct{ lo, hi uint64 }

func (h *hash128) word(w uint64) {
	h.lo = hmix(h.lo^w, hashK1)
	h.hi = hmix(h.hi^w^hashK3, hashK2)
}

func (h *hash128) bytes(b []byte) {
	n := len(b)
	for len(b) >= 8 {
		h.word(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		var t uint64
		for i, c := range b {
			t |= uint64(c) << (8 * i)
		}
		h.word(t)
	}
	h.word(uint64(n) ^ hashK4)
}

func (h *hash128) finish() (uint64, uint64) {
	lo := hmix(h.lo^h.hi, hashK4)
	hi := hmix(h.hi^lo, hashK3)
	if lo == 0 && hi == 0 {
		lo = 1 // zero marks an empty slot in the state tables
	}
	return lo, hi
}

// keyHasher hashes rows of a batch by a list of key expressions, column at
// a time, into reused slices.
type keyHasher struct {
	keys  []*evaluator
	state []hash128
	lo    []uint64
	hi    []uint64
	// null[i] is true when some key of row i is NULL.
	null []bool
	// vecs are the key values of the last batch hashed.
	vecs []*Vector
}

func newKeyHasher(keys []*dag.Expr) *keyHasher {
	h := &keyHasher{}
	for _, k := range keys {
		h.keys = append(h.keys, newEvaluator(k))
	}
	return h
}

func (h *keyHasher) hash(b *Batch) {
	n := b.Len
	h.state = resize(h.state, n)
	h.null = resize(h.null, n)
	for i := range h.state {
		h.state[i] = hash128{lo: hashK2, hi: hashK1}
		h.null[i] = false
	}
	h.vecs = h.vecs[:0]
	for _, k := range h.keys {
		v := k.eval(b)
		h.vecs = append(h.vecs, v)
		hashVector(v, h.state, h.null)
	}
	h.lo = resize(h.lo, n)
	h.hi = resize(h.hi, n)
	for i := range h.state {
		h.lo[i], h.hi[i] = h.state[i].finish()
	}
}

// hashVector folds the rows of v into st. NULLs are recorded in null and
// hashed as a marker so that grouping (where NULLs form one group) works.
func hashVector(v *Vector, st []hash128, null []bool) {
	nulls := v.HasNulls()
	switch v.Type.Kind.Storage() {
	case dag.StoreUint64:
		for i := range st {
			st[i].word(v.U64[i])
		}
	case dag.StoreFloat64:
		for i := range st {
			f := v.F64[i]
			if f == 0 {
				f = 0 // -0 and 0 are one key
			}
			if f != f {
				f = math.NaN()
			}
			st[i].word(math.Float64bits(f))
		}
	case dag.StoreBytes:
		for i := range st {
			st[i].bytes(v.Data[v.Offs[i]:v.Offs[i+1]])
		}
	default:
		for i := range st {
			st[i].word(uint64(v.I64[i]))
		}
	}
	if nulls {
		for i := range st {
			if v.Nulls[i] {
				null[i] = true
				st[i].word(0x6e756c6c6e756c6c)
			}
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}
