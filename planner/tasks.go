package planner

import (
	"strconv"
	"strings"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/sql"
)

// parallelism returns the pipeline's parallelism option as in force
// (1 when not given or not valid: a bad value is already reported by
// checkPipelineOption). The plan depends on it, so it cannot be read from
// the environment at run time.
func parallelism(s *sql.CreatePipeline, errs *sql.ErrorList) int {
	for _, o := range s.Options {
		switch strings.ToLower(o.Key.Name) {
		case "parallelism", "repartition":
			if strings.HasPrefix(o.Value, connector.EnvPrefix) {
				errs.Add(o.ValuePos, "write the value itself", "option %s cannot be read from the environment: the pipeline's plan depends on it", o.Key.Name)
			}
		}
	}
	for _, o := range s.Options {
		if strings.EqualFold(o.Key.Name, "parallelism") {
			n, err := strconv.Atoi(strings.TrimSpace(o.Value))
			if err != nil || n < 1 {
				return 1
			}
			return n
		}
	}
	return 1
}
