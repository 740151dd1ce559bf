package kafka

import (
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-sql/sluice/planner/dag"
	"github.com/sluice-sql/sluice/runtime"
)

func plainAuth(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

func scramAuth(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

func sourceConfig(brokers string) runtime.SourceConfig {
	return runtime.SourceConfig{
		Spec:     &dag.SourceSpec{Name: "orders", Connector: "kafka", Options: map[string]string{"brokers": brokers, "topic": "orders"}},
		Pipeline: "bench",
	}
}
