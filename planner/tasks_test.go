package planner

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-sql/sluice/planner/dag"
)

const tasksObjects = `
CREATE SOURCE orders (
    order_id   String NOT NULL,
    user_id    UInt64,
    amount     Float64,
    created_at DateTime64(3),
    WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'k1:9092,k2:9092', topic = 'orders', group_id = 'shop',
        security_protocol = 'SASL_SSL', sasl_mechanism = 'SCRAM-SHA-256', sasl_username = 'u',
        sasl_password = 'env:KAFKA_PASSWORD', tls_ca = '/etc/ca.pem', idle_timeout = '30s', dlq_topic = 'bad');
CREATE SOURCE users (user_id UInt64, email String)
    WITH (connector = 'kafka', brokers = 'k1:9092', topic = 'users');
CREATE SINK ch WITH (connector = 'clickhouse', url = 'clickhouse://localhost:9000/default', table = 'out');
`

func planTasks(t *testing.T, pipeline string) (*Mem, *Object) {
	t.Helper()
	cat := NewMem()
	if _, errs := ApplyScript(tasksObjects, cat); len(errs) > 0 {
		t.Fatal(errs.Render(tasksObjects))
	}
	if _, errs := ApplyScript(pipeline, cat); len(errs) > 0 {
		t.Fatal(errs.Render(pipeline))
	}
	o, ok := cat.Lookup("p")
	if !ok {
		t.Fatal("pipeline p not created")
	}
	return cat, o
}

// What the runtime and the server rely on in a repartitioned plan: each
// stage is a plain pipeline (source, stateless steps, a projection adding
// the key, a Kafka sink writing the internal topic exactly once with as
// many partitions as tasks), and the main graph reads that topic with the
// source's brokers and security, from the start, with the same watermark.
func TestRepartitionedJoinShape(t *testing.T) {
	cat, o := planTasks(t, `CREATE PIPELINE P WITH (parallelism = '6') AS INSERT INTO ch
SELECT o.order_id, u.email, u._key AS k, o.created_at
FROM orders o JOIN users u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR
WHERE o.amount > 0`)
	g := o.Pipeline.Graph
	if g.Parallelism != 6 || len(g.Stages) != 2 {
		t.Fatalf("parallelism %d, %d stages", g.Parallelism, len(g.Stages))
	}
	wantStages := []struct{ name, topic, source, key string }{
		{"p.orders.repartition", "shop.p.orders.repartition", "orders", "o.user_id"},
		{"p.users.repartition", "sluice.p.users.repartition", "users", "u.user_id"},
	}
	for i, w := range wantStages {
		st := g.Stages[i]
		if st.Graph.Name != w.name || st.Topic != w.topic || st.Source != w.source || strings.Join(st.Keys, ",") != w.key || st.Graph.Parallelism != 6 {
			t.Errorf("stage %d: %s %s %s %v parallelism %d", i, st.Graph.Name, st.Topic, st.Source, st.Keys, st.Graph.Parallelism)
		}
		if err := validateGraph(st.Graph); err != nil {
			t.Errorf("stage %d: %v", i, err)
		}
		kinds := ""
		for _, n := range st.Graph.Nodes {
			kinds += string(n.Kind) + " "
		}
		sink := st.Graph.Nodes[len(st.Graph.Nodes)-1]
		src := st.Graph.Nodes[0]
		if i == 0 && kinds != "source filter project project sink " || i == 1 && kinds != "source project sink " {
			t.Errorf("stage %d nodes: %s", i, kinds)
		}
		if sink.Sink.Connector != "kafka" || sink.Sink.Options["topic"] != st.Topic || sink.Sink.Options["delivery"] != "exactly_once" ||
			sink.Sink.Options["format"] != "json" || sink.Sink.Options["key"] != "_sluice_key" || sink.Sink.Options["partitions"] != "6" {
			t.Errorf("stage %d sink options %v", i, sink.Sink.Options)
		}
		// The main graph's source reading the topic.
		var reader *dag.Node
		for _, n := range g.Nodes {
			if n.Kind == dag.KindSource && n.Source.Options["topic"] == st.Topic {
				reader = n
			}
		}
		if reader == nil {
			t.Fatalf("no source reads %s", st.Topic)
		}
		r := reader.Source
		if r.Name != src.Source.Name || r.Connector != "kafka" || r.Options["start"] != "earliest" ||
			r.WatermarkDelay != src.Source.WatermarkDelay || r.IdleTimeout != src.Source.IdleTimeout {
			t.Errorf("stage %d reader %+v", i, r)
		}
		// The records carry every column but the key, under the names
		// the reader declares.
		written := sink.Schema[:len(sink.Schema)-1]
		if written.String() != r.Declared.String() || reader.Schema.String() != r.Declared.String() || !slices.Equal(written.Names(), r.Declared.Names()) {
			t.Errorf("stage %d writes %s, the reader declares %s and reads %s", i, written, r.Declared, reader.Schema)
		}
		if tc := reader.TimeCol; tc < 0 || reader.Schema[tc].Name != r.Watermark || reader.Schema[tc].Type.Nullable {
			t.Errorf("stage %d reader time column %d, watermark %q", i, tc, r.Watermark)
		}
	}
	// Brokers and security go with the stage's sink and its reader; the
	// dead-letter topic stays with the source the stage reads.
	ordersSink := g.Stages[0].Graph.Nodes[len(g.Stages[0].Graph.Nodes)-1].Sink.Options
	reader := g.Nodes[0].Source.Options
	for _, k := range []string{"brokers", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "tls_ca"} {
		if ordersSink[k] != g.Stages[0].Graph.Nodes[0].Source.Options[k] || reader[k] != ordersSink[k] || reader[k] == "" {
			t.Errorf("option %s: source %q, sink %q, reader %q", k, g.Stages[0].Graph.Nodes[0].Source.Options[k], ordersSink[k], reader[k])
		}
	}
	if reader["group_id"] != "shop" || reader["idle_timeout"] != "30s" || reader["dlq_topic"] != "" {
		t.Errorf("reader options %v", reader)
	}
	// users has no WATERMARK: its time is _timestamp, carried as a column.
	users := g.Nodes[1].Source
	if users.Watermark != timeColumn || !slices.Equal(users.Declared.Names(), []string{"user_id", "email", recordKeyColumn, timeColumn}) {
		t.Errorf("users reader: watermark %q, declares %v", users.Watermark, users.Declared.Names())
	}
	if err := validateGraph(g); err != nil {
		t.Fatal(err)
	}
	// The monitor's spans follow the split plan.
	spans, err := NodeSpans(o.SQL, g, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if _, ok := spans[n.ID]; !ok {
			t.Errorf("node %d (%s) has no span", n.ID, n.Kind)
		}
	}
	sp := spans[g.Nodes[1].ID]
	if got := o.SQL[sp.From.Offset:sp.To.Offset]; got != "users u" {
		t.Errorf("span of the users reader: %q", got)
	}
}

// A dedup right after its source keeps its node ID when repartitioned,
// and parallelism 1 plans exactly as without the option.
func TestRepartitionKeepsStatefulIDs(t *testing.T) {
	const q = `INSERT INTO ch SELECT user_id, amount FROM orders WHERE amount > 0 DEDUPLICATE BY user_id WITHIN INTERVAL 1 MINUTE`
	_, one := planTasks(t, `CREATE PIPELINE p AS `+q)
	_, four := planTasks(t, `CREATE PIPELINE p WITH (parallelism = '4') AS `+q)
	_, same := planTasks(t, `CREATE PIPELINE p WITH (parallelism = '1') AS `+q)
	kinds := func(g *dag.Graph) []dag.NodeKind {
		var out []dag.NodeKind
		for _, n := range g.Nodes {
			out = append(out, n.Kind)
		}
		return out
	}
	if !slices.Equal(kinds(one.Pipeline.Graph), kinds(four.Pipeline.Graph)) {
		t.Errorf("nodes %v, repartitioned %v", kinds(one.Pipeline.Graph), kinds(four.Pipeline.Graph))
	}
	for i, n := range one.Pipeline.Graph.Nodes {
		m := four.Pipeline.Graph.Nodes[i]
		if n.Kind == dag.KindDedup && (m.ID != n.ID || !slices.Equal(m.Inputs, n.Inputs)) {
			t.Errorf("dedup %d became %d", n.ID, m.ID)
		}
	}
	a, _ := json.Marshal(one.Pipeline.Graph)
	b, _ := json.Marshal(same.Pipeline.Graph)
	if string(a) != string(b) || strings.Contains(string(a), "Parallelism") || strings.Contains(string(a), "Stages") {
		t.Errorf("parallelism 1 changed the plan:\n%s\n%s", a, b)
	}
	if !maps.Equal(one.Pipeline.Options, map[string]string{}) {
		t.Errorf("options %v", one.Pipeline.Options)
	}
}
