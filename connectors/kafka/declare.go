package kafka

import (
	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/runtime"
)

// Connector is the kafka connector; connectors/all registers it.
var Connector = runtime.Connector{Declaration: declaration, OpenSource: OpenSource, OpenSink: OpenSink, ForgetSource: ForgetSource, DeadLetters: DeadLetters, DiscardStage: DiscardStage}

var (
	source = []connector.Kind{connector.Source}
	sink   = []connector.Kind{connector.Sink}
)

var declaration = connector.Connector{
	Name:    "kafka",
	Doc:     "Reads a topic of JSON records with a consumer group, or writes rows to a topic as JSON records.",
	Kinds:   []connector.Kind{connector.Source, connector.Sink},
	Formats: []string{"json"},
	Pseudo:  []string{"_key", "_topic", "_partition", "_offset", "_timestamp"},
	// The sink produces rows as the operators emit them and flushes the
	// producer at each checkpoint.
	Continuous: true,
	Options: []connector.Option{
		{Name: "brokers", Type: connector.String, Required: true,
			Doc: "comma-separated `host:port` seed brokers"},
		{Name: "topic", Type: connector.String, Required: true,
			Doc: "the topic read or written; it must exist (Sluice does not create the topics it reads)"},
		{Name: "format", Type: connector.Enum, Default: "json", Values: []string{"json"},
			Doc: "the record format; only `json` so far"},
		{Name: "security_protocol", Type: connector.Enum, Default: "PLAINTEXT",
			Values: []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
			Doc:    "how to reach the brokers, as in Kafka's own clients"},
		{Name: "sasl_mechanism", Type: connector.Enum, Default: "PLAIN",
			Values: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
			Doc:    "the SASL mechanism, with a SASL security_protocol"},
		{Name: "sasl_username", Type: connector.String,
			Doc: "the SASL user; required with SASL"},
		{Name: "sasl_password", Type: connector.String, Secret: true,
			Doc: "the SASL password; required with SASL; use `env:NAME`"},
		{Name: "tls_ca", Type: connector.String, DefaultText: "system roots",
			Doc: "with SSL: path of a PEM file of CA certificates to trust"},
		{Name: "group_id", Type: connector.String, Kinds: source, DefaultText: "the server's `--group-id`, `sluice`",
			Doc: "the consumer group prefix: each pipeline commits its offsets to the group `<group_id>.<pipeline>`"},
		{Name: "start", Type: connector.Enum, Kinds: source, Default: "earliest", Values: []string{"earliest", "latest"},
			Doc: "where a pipeline without checkpoint or committed offsets starts: the topic's whole history or records produced from now on"},
		{Name: "idle_timeout", Type: connector.Duration, Kinds: source, Default: "5s",
			Doc: "how long a partition without records holds the watermark back"},
		{Name: "max_future", Type: connector.Duration, Kinds: source, Default: "24h", ZeroOff: true,
			Doc: "records whose event time is further ahead of the wall clock go to the dead-letter topic, counted and never moving the watermark; `0` turns the check off"},
		{Name: "dlq_topic", Type: connector.String, Kinds: source, DefaultText: "`<topic>.dlq`",
			Doc: "where undecodable records go (created with the broker's defaults if missing)"},
		{Name: "isolation_level", Type: connector.Enum, Kinds: source, Default: "read_committed", Values: []string{"read_committed", "read_uncommitted"},
			Doc: "`read_committed`: records written in transactions (an `exactly_once` sink's) are read once committed and never when aborted; `read_uncommitted`: every record as soon as it is written"},
		{Name: "key", Type: connector.String, Kinds: sink, DefaultText: "no key",
			Doc: "the column whose value keys each record, so equal keys land in one partition; several comma-separated columns key it with the JSON array of their values"},
		{Name: "partitions", Type: connector.Count, Min: 1, Max: 100000, DefaultText: "the topic must exist",
			Doc: "when set, a missing topic is created with this many partitions (the broker's default replication), and an existing one with another count is refused; the internal topics of repartition stages are created this way, by whichever of their writers and readers starts first"},
		{Name: "delivery", Type: connector.Enum, Kinds: sink, Default: "at_least_once", Values: []string{"at_least_once", "exactly_once"},
			Doc: "`at_least_once`: records are produced as rows come (1 ms linger) and flushed at each checkpoint; a crash writes again the rows since the last one. `exactly_once`: the rows of each checkpoint interval are one Kafka transaction, committed with the checkpoint, for readers with `isolation.level=read_committed`"},
		connector.ContinuousBatchSize,
		connector.ContinuousFlushInterval,
	},
}
