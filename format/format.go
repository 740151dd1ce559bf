// Package format is the registry of record formats: what turns the bytes
// of a source's records into rows of columns. A format is a package of its
// own (format/json) declaring a Format; connectors/all registers it, one
// line each, and a source picks one by its `format` option. The runtime
// sees only the Decoder interface and the columns it fills, never the
// bytes of a format. This package imports nothing of Sluice but the column
// vectors and the DAG's types.
package format

import (
	"fmt"
	"sort"
	"sync"

	"github.com/sluice-sql/sluice/column"
	"github.com/sluice-sql/sluice/planner/dag"
)

// Spec is what a decoder is built from.
type Spec struct {
	// Schema is the batch the decoder fills, in column order: every column
	// that is not a pseudo-column is the decoder's to fill; the runtime
	// fills the pseudo-columns (_key, _topic, …) from the record's metadata.
	Schema dag.Schema
	// Declared is the source's full declared schema: NOT NULL and type
	// checks apply to every declared column, used or not, so a record is
	// accepted or refused the same way whichever pipeline reads it.
	Declared dag.Schema
	// Options are the source's WITH options as written.
	Options map[string]string
}

// Decoder turns record values into rows. One goroutine uses a decoder.
type Decoder interface {
	// Decode appends value as one row to the vectors of out that hold the
	// Spec's columns other than pseudo-columns, or returns why it cannot:
	// the error's text is the record's dead-letter reason, and out is left
	// unchanged. It does not touch out.Len or the pseudo-columns' vectors.
	// In the steady state it should not allocate.
	Decode(value []byte, out *column.Batch) error
}

// Format is one record format.
type Format struct {
	Name string // the value of the `format` option
	// NewDecoder builds a decoder for a schema, or says why the format
	// cannot decode it (a column type it cannot represent, a bad option).
	NewDecoder func(Spec) (Decoder, error)
}

var registry struct {
	sync.RWMutex
	byName map[string]Format
}

// Register records a format. It panics when the name is taken or the
// format has no decoder: both are programming errors found at start-up.
func Register(f Format) {
	registry.Lock()
	defer registry.Unlock()
	if f.Name == "" || f.NewDecoder == nil {
		panic(fmt.Sprintf("format: format %q without a name or a decoder", f.Name))
	}
	if _, ok := registry.byName[f.Name]; ok {
		panic(fmt.Sprintf("format: %q registered twice", f.Name))
	}
	if registry.byName == nil {
		registry.byName = map[string]Format{}
	}
	registry.byName[f.Name] = f
}

// Lookup returns the format registered under name.
func Lookup(name string) (Format, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.byName[name]
	return f, ok
}

// Names lists the registered formats, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
