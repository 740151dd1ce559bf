-- Kafka → ClickHouse: orders from an at-least-once producer, deduplicated
-- within a window and enriched with their user by an interval join.
-- Endpoints and credentials come from the server's environment (env:NAME):
--   KAFKA_BROKERS        e.g. localhost:9092
--   CLICKHOUSE_URL       e.g. clickhouse://localhost:9000/default
--   CLICKHOUSE_USER      e.g. default
--   CLICKHOUSE_PASSWORD  may be empty, but must be set

CREATE SOURCE shop_orders (
    order_id   String NOT NULL,
    user_id    UInt64,
    amount     Float64,
    created_at DateTime64(3),
    WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'orders', format = 'json');

CREATE SOURCE shop_users (
    user_id    UInt64 NOT NULL,
    email      String,
    country    String,
    updated_at DateTime64(3),
    WATERMARK FOR updated_at AS updated_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'users', format = 'json');

CREATE SINK enriched_orders WITH (
    connector = 'clickhouse', url = 'env:CLICKHOUSE_URL',
    user = 'env:CLICKHOUSE_USER', password = 'env:CLICKHOUSE_PASSWORD',
    table = 'enriched_orders', create_table = 'true'
);

-- Every order with a positive amount arrives once: with the user's email and
-- country when the user was announced within an hour of the order, with
-- NULLs (once the hour has passed) when not. A producer that sends a record
-- twice causes no second row: orders are deduplicated by order_id within 10
-- minutes, users by user_id within an hour.
CREATE PIPELINE dedup_join_orders WITH (description = 'orders deduplicated and enriched with users') AS
INSERT INTO enriched_orders
SELECT o.order_id, o.user_id, o.amount, u.email, u.country, o.created_at
FROM shop_orders AS o
LEFT JOIN shop_users AS u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR
WHERE o.amount > 0
DEDUPLICATE BY o.order_id WITHIN INTERVAL 10 MINUTE
DEDUPLICATE BY u.user_id WITHIN INTERVAL 1 HOUR;
