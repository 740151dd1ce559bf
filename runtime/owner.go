package runtime

import "errors"

// Owner is the process that runs a pipeline and the fencing epoch of its
// lease on it (see package catalog's leases). The zero Owner means no
// lease: `sluice run` on a state directory of its own, tests.
type Owner struct {
	// ID names the process (a server's node id).
	ID string
	// Fence is the epoch of the lease the run holds; every takeover of the
	// lease increases it, so a store that keeps the lease can refuse what
	// an older owner saves.
	Fence int64
}

// ErrFenced is wrapped by the error of a checkpoint store that refuses a
// Save or SaveIntent because the owner's lease is no longer current:
// another process took the pipeline over (or the lease ran out). The
// run stops on it without writing anything more; the new owner resumes
// from the last checkpoint that was saved.
var ErrFenced = errors.New("the lease on the pipeline is held by another owner")
