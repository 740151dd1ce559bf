-- The demo of `docker compose up`: the README's pipeline against real
-- services. Generators feed the Kafka topics `orders` and `users`; the
-- pipeline enrich_orders deduplicates the orders, joins them with the
-- users and writes ClickHouse. Every address and credential is an env:
-- reference to the sluice service's environment (docker-compose.yml), so
-- the script holds no secret and runs unchanged elsewhere. Rendered from
-- cmd/sluice/demo/demo.sql, the `sluice dev` demo (go test ./cmd/sluice
-- -run TestComposeDemo -update rewrites it).

-- Users: ids 1..100, announced again and again. The generator picks 50
-- user ids a second at random; feed_users passes each user once per two
-- hours. enrich_orders joins an order with the users at most an hour from
-- it, and one user's announcements are two hours or more apart: each
-- order meets one of them (none in the second or so between one's hour
-- and the next one's; two only exactly midway, to the millisecond), and
-- the demo keeps joining as long as it runs.
CREATE SOURCE gen_users (
    user_id    UInt64,
    updated_at DateTime64(3)
) WITH (
    connector = 'datagen', rows_per_second = '50', seed = '1',
    fields.user_id.min = '1', fields.user_id.max = '100'
);

-- Orders: 20 a second, one in ten a duplicate of a recent one.
CREATE SOURCE gen_orders (
    order_id   String,
    user_id    UInt64,
    amount     Float64,
    created_at DateTime64(3)
) WITH (
    connector = 'datagen', rows_per_second = '20', duplicate_ratio = '0.1', seed = '2',
    fields.order_id.kind = 'sequence', fields.order_id.prefix = 'o-',
    fields.user_id.min = '1', fields.user_id.max = '100',
    fields.amount.min = '-5', fields.amount.max = '200',
    fields.created_at.max_delay = '2s'
);

CREATE SINK users_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'users');
CREATE SINK orders_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'orders');

CREATE PIPELINE feed_users AS INSERT INTO users_topic
SELECT user_id, CONCAT('user', CAST(user_id AS String)) AS email, updated_at FROM gen_users
DEDUPLICATE BY user_id WITHIN INTERVAL 2 HOUR;

CREATE PIPELINE feed_orders AS INSERT INTO orders_topic
SELECT order_id, user_id, amount, created_at FROM gen_orders;

-- The README example.
CREATE SOURCE orders (
    order_id   String,
    user_id    UInt64,
    amount     Float64,
    created_at DateTime64(3),
    WATERMARK FOR created_at AS created_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'orders', format = 'json');

CREATE SOURCE users (
    user_id    UInt64,
    email      String,
    updated_at DateTime64(3)
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'users', format = 'json');

CREATE SINK orders_enriched WITH (
    connector = 'clickhouse', url = 'env:CLICKHOUSE_URL',
    user = 'env:CLICKHOUSE_USER', password = 'env:CLICKHOUSE_PASSWORD',
    table = 'orders_enriched', create_table = 'true'
);

CREATE PIPELINE enrich_orders AS
INSERT INTO orders_enriched
SELECT o.order_id, o.amount, u.email, o.created_at
FROM orders AS o
JOIN users AS u ON o.user_id = u.user_id WITHIN INTERVAL 1 HOUR
WHERE o.amount > 0
DEDUPLICATE BY o.order_id WITHIN INTERVAL 10 MINUTE;
