package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-sql/sluice/runtime"
)

// The markers that end transactions take offsets of their own: a source
// that has read every record of a partition written in transactions, the
// last marker included, is not behind (a source that is behind never
// counts its partitions idle, so a quiet one would hold the watermark back
// for ever). The markers are never handed on as records.
func TestLagAfterTransactions(t *testing.T) {
	brokers := cluster(t, kfake.SeedTopics(1, "orders"))
	txn := newClient(t, brokers, kgo.TransactionalID("test-txn"), kgo.DefaultProduceTopic("orders"))
	for i := range 4 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.ProduceSync(ctxT(t), &kgo.Record{Value: []byte(`{}`)}, &kgo.Record{Value: []byte(`{}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctxT(t), kgo.TransactionEndTry(i != 2)); err != nil {
			t.Fatal(err)
		}
	}
	for _, level := range []string{"read_committed", "read_uncommitted"} {
		src, err := openTaskSrc(ctxT(t), brokers, "orders", runtime.Task{}, "isolation_level", level)
		if err != nil {
			t.Fatal(err)
		}
		want := 6
		if level == "read_uncommitted" {
			want = 8
		}
		for _, r := range pollN(t, src, want) {
			if string(r.Value) != `{}` {
				t.Errorf("%s: record %d is %q", level, r.Offset, r.Value)
			}
		}
		pollNone(t, src)
		if lag := src.Lag(); lag != 0 {
			t.Errorf("%s: Lag %d after reading every record, want 0", level, lag)
		}
		src.Close()
	}
}
