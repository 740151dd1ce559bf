package sql

// readmeExample is the script the README opens with (SQL.md, "An example").
const readmeExample = `CREATE SOURCE orders (
    order_id   String,
    user_id    UInt64,
    amount     Float64,
    created_at DateTime64(3),
    WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'orders', format = 'json');

CREATE SOURCE users (
    user_id    UInt64,
    email      String,
    updated_at DateTime64(3)
) WITH (connector = 'kafka', brokers = 'localhost:9092', topic = 'users', format = 'json');

CREATE SINK orders_enriched WITH (
    connector = 'clickhouse', url = 'clickhouse://localhost:9000/default',
    table = 'orders_enriched', create_table = 'true'
);

CREATE PIPELINE enrich_orders AS
INSERT INTO orders_enriched
SELECT o.order_id, o.amount, u.email, o.created_at
FROM orders AS o
JOIN users AS u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR
WHERE o.amount > 0
DEDUPLICATE BY o.order_id WITHIN INTERVAL 10 MINUTE;
`
