package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPoll measures reading one record (b.N records in all); most of
// its allocations are the client's decoding of fetched batches.
func BenchmarkPoll(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"order_id":"o-123456","user_id":42,"amount":12.5,"created_at":"2025-01-01 00:00:00.000","note":"some text here"}`)
	for i := 0; i < b.N; i++ {
		cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Value: value}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cl.Close()

	src, err := openSource(context.Background(), sourceConfig(brokers))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		recs, err := src.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
}
