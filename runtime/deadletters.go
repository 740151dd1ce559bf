package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

// DeadLetter is one record a source could not use, as its dead-letter
// destination keeps it.
type DeadLetter struct {
	// Reason is why the record was rejected (the decoder's error).
	Reason string
	// Topic, Partition and Offset are where the record was read.
	Topic     string
	Partition int32
	Offset    int64
	// Time is when it was dead-lettered.
	Time time.Time
	// Key and Value are the record's bytes, cut to MaxDeadLetterBytes.
	Key, Value []byte
	// Truncated is set when the key or the value was cut.
	Truncated bool
}

// MaxDeadLetterBytes bounds the key and the value a DeadLetter carries.
const MaxDeadLetterBytes = 4096

var deadLetterReaders struct {
	sync.RWMutex
	m map[string]func(context.Context, *dag.SourceSpec, int) ([]DeadLetter, error)
}

func registerDeadLetters(name string, f func(context.Context, *dag.SourceSpec, int) ([]DeadLetter, error)) {
	deadLetterReaders.Lock()
	defer deadLetterReaders.Unlock()
	if deadLetterReaders.m == nil {
		deadLetterReaders.m = map[string]func(context.Context, *dag.SourceSpec, int) ([]DeadLetter, error){}
	}
	deadLetterReaders.m[name] = f
}

// ReadDeadLetters returns the last n dead letters of a source, newest
// first; ok is false when its connector keeps none it can read back
// (datagen's records never fail to decode).
func ReadDeadLetters(ctx context.Context, spec *dag.SourceSpec, n int) (letters []DeadLetter, ok bool, err error) {
	deadLetterReaders.RLock()
	f := deadLetterReaders.m[spec.Connector]
	deadLetterReaders.RUnlock()
	if f == nil {
		return nil, false, nil
	}
	letters, err = f(ctx, spec, n)
	return letters, true, err
}
