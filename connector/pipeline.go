package connector

import "strings"

// PipelineOptions are the options of CREATE PIPELINE … WITH (…), declared
// like a connector's: the planner checks names and values against them,
// the API and the editor list them, and the docs describe them. A feature
// that reads a pipeline option adds its declaration here.
var PipelineOptions = []Option{
	{Name: "description", Type: String, Doc: "Free text shown beside the pipeline in SHOW PIPELINES, the API and the editor."},
	{Name: "checkpoint_interval", Type: Duration, DefaultText: "the server's `--checkpoint-interval`, `5s`",
		Doc: "How often a pipeline whose sink writes continuously (Kafka, file, stdout, blackhole) checkpoints its state and offsets, flushes the sink and commits; its rows are written as they are produced, in between. A pipeline with a batch sink (ClickHouse, PostgreSQL) checkpoints with each write instead."},
	{Name: "notify_url", Type: URL, DefaultText: "the server's `--notify-url`",
		Doc: "The webhook Sluice POSTs an event to when the pipeline fails, recovers, falls behind or catches up; give it as 'env:NAME' to keep it out of the SQL."},
	{Name: "notify_format", Type: Enum, Values: []string{"json", "slack"}, DefaultText: "the server's `--notify-format` (`json`)",
		Doc: "json: the event as a JSON object; slack: a Slack-compatible {\"text\": …} message."},
	{Name: "notify_lag_threshold", Type: Count, Min: 1, Default: "100000",
		Doc: "Consumer lag, in records summed over the pipeline's sources, above which the pipeline counts as falling behind."},
	{Name: "notify_lag_for", Type: Duration, Default: "5m",
		Doc: "How long the lag must stay above notify_lag_threshold before the falling-behind event is sent."},
	{Name: "parallelism", Type: Count, Min: 1, Max: 256, Default: "1",
		Doc: "The number of tasks the pipeline runs as: task i of N reads the Kafka partitions p with p % N == i of every source and keeps the keyed state of those; tasks spread over the servers and their cores. Every source must be Kafka with at least N partitions; see repartition."},
	{Name: "repartition", Type: Enum, Values: []string{"auto", "refuse"}, Default: "auto",
		Doc: "With parallelism > 1, what to do when a DEDUPLICATE BY, JOIN or GROUP BY key is not the record key _key: auto rewrites the source through an internal Kafka topic keyed by it; refuse makes it an error."},
}

// PipelineOption returns the declaration of a pipeline option, by name
// without regard to case.
func PipelineOption(name string) (*Option, bool) {
	for i := range PipelineOptions {
		if strings.EqualFold(PipelineOptions[i].Name, name) {
			return &PipelineOptions[i], true
		}
	}
	return nil, false
}

// PipelineOptionNames lists the pipeline options' names, in declaration
// order.
func PipelineOptionNames() []string {
	out := make([]string, len(PipelineOptions))
	for i, o := range PipelineOptions {
		out[i] = o.Name
	}
	return out
}

// PipelineValue returns a pipeline option's value as in force: the value
// written in opts (lower-case keys), else the declared default. ok is false
// when no such option is declared.
func PipelineValue(opts map[string]string, name string) (v string, given, ok bool) {
	o, ok := PipelineOption(name)
	if !ok {
		return "", false, false
	}
	if v, given := opts[strings.ToLower(o.Name)]; given {
		return v, true, true
	}
	return o.Default, false, true
}
