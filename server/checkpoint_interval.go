package server

import (
	"os"
	"strings"
	"time"

	"github.com/sluice-sql/sluice/connector"
)

// checkpointInterval returns a pipeline's checkpoint interval: its
// checkpoint_interval option (checked by the planner), else the server's
// (Config.CheckpointInterval; zero leaves the runtime's default).
func checkpointInterval(opts map[string]string, server time.Duration) time.Duration {
	v, given, ok := connector.PipelineValue(opts, "checkpoint_interval")
	if !ok || !given {
		return server
	}
	if name, ok := strings.CutPrefix(v, connector.EnvPrefix); ok {
		v = os.Getenv(name)
	}
	o, _ := connector.PipelineOption("checkpoint_interval")
	d, err := o.ParseDuration(v)
	if err != nil || d <= 0 {
		return server
	}
	return d
}
