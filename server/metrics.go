package server

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-sql/sluice/catalog"
	"github.com/sluice-sql/sluice/runtime"
	"github.com/sluice-sql/sluice/sql"
)

// The collector reads the runtime's counters at scrape time instead of
// mirroring them into Prometheus metrics on the hot path: the pipelines
// already count, and a scrape every few seconds costs nothing to them.
// Counters restart from zero when a pipeline restarts, which Prometheus
// rate() treats as a counter reset.
var (
	descRecordsIn    = prometheus.NewDesc("sluice_pipeline_records_in_total", "Records read from the pipeline's sources.", []string{"pipeline"}, nil)
	descRowsWritten  = prometheus.NewDesc("sluice_pipeline_rows_written_total", "Rows the pipeline's sink has durably written.", []string{"pipeline"}, nil)
	descDeadLettered = prometheus.NewDesc("sluice_pipeline_dead_lettered_total", "Records sent to the dead-letter destination.", []string{"pipeline"}, nil)
	descFuture       = prometheus.NewDesc("sluice_pipeline_future_records_total", "Records dead-lettered for an event time more than max_future ahead of the clock.", []string{"pipeline"}, nil)
	descCheckpoints  = prometheus.NewDesc("sluice_pipeline_checkpoints_total", "Checkpoints stored.", []string{"pipeline"}, nil)
	descPossibleDups = prometheus.NewDesc("sluice_pipeline_possible_duplicates_total", "Rows a crash may have written twice.", []string{"pipeline"}, nil)
	descSinkLatency  = prometheus.NewDesc("sluice_pipeline_sink_batch_latency_seconds", "Mean duration of one sink batch write.", []string{"pipeline"}, nil)
	descSinkLast     = prometheus.NewDesc("sluice_pipeline_sink_last_batch_latency_seconds", "Duration of the last sink batch write.", []string{"pipeline"}, nil)
	descLag          = prometheus.NewDesc("sluice_source_consumer_lag", "Records a source is behind the end of its partitions (-1: unknown).", []string{"pipeline", "source"}, nil)
	descState        = prometheus.NewDesc("sluice_pipeline_state", "1 for the state the pipeline is in.", []string{"pipeline", "state"}, nil)
	opLabels         = []string{"pipeline", "operator", "kind"}
	descOpIn         = prometheus.NewDesc("sluice_operator_rows_in_total", "Rows into an operator.", opLabels, nil)
	descOpOut        = prometheus.NewDesc("sluice_operator_rows_out_total", "Rows out of an operator.", opLabels, nil)
	descDedupDrops   = prometheus.NewDesc("sluice_operator_dedup_dropped_total", "Rows a dedup operator dropped as duplicates.", opLabels, nil)
	descJoinMatches  = prometheus.NewDesc("sluice_operator_join_matches_total", "Pairs a join operator emitted.", opLabels, nil)
	descJoinExpired  = prometheus.NewDesc("sluice_operator_join_expired_total", "Join rows released by the watermark.", opLabels, nil)
	descLateRows     = prometheus.NewDesc("sluice_operator_late_rows_total", "Rows dropped for arriving after their window was emitted.", opLabels, nil)
	descStateEntries = prometheus.NewDesc("sluice_operator_state_entries", "Keys or rows an operator holds in state.", opLabels, nil)
	descStateBytes   = prometheus.NewDesc("sluice_operator_state_bytes", "Estimated bytes of an operator's state (its last full checkpoint, scaled to its entries now).", opLabels, nil)
	descBusy         = prometheus.NewDesc("sluice_operator_busy_seconds_total", "Time spent in an operator itself (a source: decoding; the sink: writing).", opLabels, nil)
	descWatermarkLag = prometheus.NewDesc("sluice_source_watermark_delay_seconds", "How far a source's watermark trails the wall clock (absent before the first watermark).", []string{"pipeline", "source"}, nil)
	descQueueFill    = prometheus.NewDesc("sluice_pipeline_queue_fill_ratio", "How full a pipeline's queue is, 0 to 1: queue=operators (decoded records waiting for the operators) or sink (batches waiting for the sink).", []string{"pipeline", "queue"}, nil)
)

// pipelineStats returns the counters of each pipeline running here, by
// name: of a pipeline split into tasks, its main graph's tasks running
// here merged (runtime.MergeStats), so that the series keep one per
// pipeline.
func (s *Server) pipelineStats() map[string]runtime.Stats {
	names, byName := s.mainRunsByPipeline()
	out := make(map[string]runtime.Stats, len(names))
	for _, n := range names {
		out[n] = mergedStats(byName[strings.ToLower(n)])
	}
	return out
}

// Collector exposes the server's pipelines to Prometheus.
func (s *Server) Collector() prometheus.Collector { return (*collector)(s) }

type collector Server

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecordsIn, descRowsWritten, descDeadLettered, descFuture, descCheckpoints, descPossibleDups,
		descSinkLatency, descSinkLast, descLag, descState, descOpIn, descOpOut, descDedupDrops, descJoinMatches,
		descJoinExpired, descLateRows, descStateEntries, descStateBytes, descBusy, descWatermarkLag, descQueueFill} {
		ch <- d
	}
	ch <- descOwned
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	s.collectLeases(ch)
	for _, e := range s.cat.Entries(sql.ObjPipeline) {
		for _, st := range []catalog.State{catalog.Running, catalog.Stopped, catalog.Failed} {
			v := 0.0
			if e.State == st || (e.State == "" && st == catalog.Stopped) {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, e.Name, string(st))
		}
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for p, st := range s.pipelineStats() {
		counter(descRecordsIn, st.RecordsIn, p)
		counter(descRowsWritten, st.RowsWritten, p)
		counter(descDeadLettered, st.DeadLettered, p)
		counter(descFuture, st.FutureRecords, p)
		counter(descCheckpoints, st.Checkpoints, p)
		counter(descPossibleDups, st.PossibleDuplicates, p)
		ch <- prometheus.MustNewConstMetric(descSinkLatency, prometheus.GaugeValue, st.SinkLatency.Seconds(), p)
		ch <- prometheus.MustNewConstMetric(descSinkLast, prometheus.GaugeValue, st.LastSinkLatency.Seconds(), p)
		for i, src := range st.Sources {
			name := src.Name
			if name == "" {
				name = fmt.Sprint(i)
			}
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(src.Lag), p, name)
			if src.Watermark != math.MinInt64 {
				ch <- prometheus.MustNewConstMetric(descWatermarkLag, prometheus.GaugeValue, time.Since(time.Unix(0, src.Watermark)).Seconds(), p, name)
			}
		}
		if st.OperatorQueueCap > 0 {
			ch <- prometheus.MustNewConstMetric(descQueueFill, prometheus.GaugeValue, float64(st.OperatorQueue)/float64(st.OperatorQueueCap), p, "operators")
		}
		if st.SinkQueueCap > 0 {
			ch <- prometheus.MustNewConstMetric(descQueueFill, prometheus.GaugeValue, float64(st.SinkQueue)/float64(st.SinkQueueCap), p, "sink")
		}
		for _, op := range st.Operators {
			kind := string(op.Kind)
			l := []string{p, fmt.Sprintf("%d:%s", op.ID, strings.ToLower(kind)), kind}
			counter(descOpIn, op.RowsIn, l...)
			counter(descOpOut, op.RowsOut, l...)
			switch op.Kind {
			case "dedup":
				counter(descDedupDrops, op.DedupDrops, l...)
			case "join":
				counter(descJoinMatches, op.JoinMatches, l...)
				counter(descJoinExpired, op.JoinExpired, l...)
			case "window":
				counter(descLateRows, op.LateRows, l...)
			}
			ch <- prometheus.MustNewConstMetric(descStateEntries, prometheus.GaugeValue, float64(op.StateEntries), l...)
			ch <- prometheus.MustNewConstMetric(descStateBytes, prometheus.GaugeValue, float64(op.StateBytes), l...)
			busy := op.Busy
			if op.Kind == "sink" {
				busy = st.SinkTime
			}
			ch <- prometheus.MustNewConstMetric(descBusy, prometheus.CounterValue, busy.Seconds(), l...)
		}
	}
}
