package server

import (
	"testing"
	"time"
)

func TestCheckpointIntervalOption(t *testing.T) {
	for _, c := range []struct {
		opts   map[string]string
		server time.Duration
		want   time.Duration
	}{
		{nil, 0, 0},
		{nil, 2 * time.Second, 2 * time.Second},
		{map[string]string{"checkpoint_interval": "250ms"}, 2 * time.Second, 250 * time.Millisecond},
		{map[string]string{"description": "x"}, time.Second, time.Second},
	} {
		if got := checkpointInterval(c.opts, c.server); got != c.want {
			t.Errorf("checkpointInterval(%v, %v) = %v, want %v", c.opts, c.server, got, c.want)
		}
	}
}
