// Package kafka is Sluice's Kafka connector: a source that reads a topic of
// JSON records with a consumer group and manual offset commits, and a sink
// that writes rows as JSON records. It registers itself as "kafka".
//
// Options shared by the source and the sink (values are strings; `env:NAME`
// reads the environment variable NAME when the connector opens):
//
//   - brokers: required; comma-separated host:port seed brokers.
//   - topic: required; the topic read or written.
//   - format: 'json', the default and the only format so far.
//   - security_protocol: PLAINTEXT (default), SSL, SASL_PLAINTEXT or
//     SASL_SSL, as in Kafka's own client configuration.
//   - sasl_mechanism: PLAIN (default when SASL is on), SCRAM-SHA-256 or
//     SCRAM-SHA-512. Needs sasl_username and sasl_password.
//   - sasl_username, sasl_password: the SASL credentials; put the password in
//     the environment (`sasl_password = 'env:KAFKA_PASSWORD'`).
//   - tls_ca: path of a PEM file of CA certificates to trust with SSL or
//     SASL_SSL, instead of the system's roots.
//
// Source-only options are documented on OpenSource, sink-only ones on
// OpenSink.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-sql/sluice/connectors/option"
)

// metadataTimeout bounds the metadata request made at open, so that a wrong
// broker address is an error instead of a pipeline that never starts.
const metadataTimeout = 20 * time.Second

// connection is what the options say about reaching the cluster.
type connection struct {
	topic string
	opts  []kgo.Opt
}

// readConnection reads the options shared by the source and the sink.
func readConnection(o *option.Set) connection {
	var c connection
	brokers := splitList(o.Required("brokers", "localhost:9092"))
	c.topic = strings.TrimSpace(o.Required("topic", "orders"))
	o.Enum("format") // json, the only format so far
	c.opts = append(c.opts, kgo.SeedBrokers(brokers...))

	proto := o.Enum("security_protocol")
	useTLS := proto == "SSL" || proto == "SASL_SSL"
	useSASL := proto == "SASL_PLAINTEXT" || proto == "SASL_SSL"

	if useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if path := o.String("tls_ca"); path != "" {
			pem, err := os.ReadFile(path)
			if err != nil {
				o.Errorf("tls_ca", "cannot read the CA file: %v", err)
			} else {
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					o.Errorf("tls_ca", "no PEM certificate found in %s", path)
				}
				cfg.RootCAs = pool
			}
		}
		c.opts = append(c.opts, kgo.DialTLSConfig(cfg))
	} else if o.Has("tls_ca") {
		o.Errorf("tls_ca", "needs security_protocol = 'SSL' or 'SASL_SSL'")
	}

	mech := o.Enum("sasl_mechanism")
	user, pass := o.String("sasl_username"), o.String("sasl_password")
	if useSASL {
		if user == "" {
			o.Required("sasl_username", "sluice")
		}
		if !o.Has("sasl_password") {
			o.Required("sasl_password", "env:KAFKA_PASSWORD")
		}
		switch mech {
		case "PLAIN":
			c.opts = append(c.opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			c.opts = append(c.opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			c.opts = append(c.opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	} else {
		for _, n := range []string{"sasl_mechanism", "sasl_username", "sasl_password"} {
			if o.Has(n) {
				o.Errorf(n, "needs security_protocol = 'SASL_PLAINTEXT' or 'SASL_SSL'")
			}
		}
	}
	return c
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// topicPartitions asks the cluster for the partitions of topic. A missing
// topic is an error: Sluice does not create the topics it reads.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata of topic %q: the broker answered for %d topics", topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %q does not exist", topic)
		}
		return nil, fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	parts := make([]int32, 0, len(t.Partitions))
	for _, p := range t.Partitions {
		parts = append(parts, p.Partition)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	return parts, nil
}

// createTopic creates topic with the broker's default partition count and
// replication factor; an existing topic is fine.
func createTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = -1
	rt.ReplicationFactor = -1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(metadataTimeout / time.Millisecond)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return err
		}
	}
	return nil
}
