-- Medallion, gold: sales and revenue per store per minute, into ClickHouse.
-- A Kafka sink writes a batch again after a crash (Kafka has no insert
-- deduplication), so gold drops a sale_id it has already counted, as silver
-- does: each sale is counted once whatever the layers before it replayed.
-- Endpoints and credentials come from the server's environment:
-- KAFKA_BROKERS, CLICKHOUSE_URL (e.g. clickhouse://localhost:9000/default),
-- CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (may be empty, but must be set).

CREATE SOURCE silver_sales (
    sale_id String NOT NULL,
    store   String NOT NULL,
    amount  Decimal(12, 2) NOT NULL,
    sold_at DateTime64(3) NOT NULL,
    WATERMARK FOR sold_at AS sold_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'silver_sales', format = 'json');

CREATE SINK gold_store_minute WITH (
    connector = 'clickhouse', url = 'env:CLICKHOUSE_URL',
    user = 'env:CLICKHOUSE_USER', password = 'env:CLICKHOUSE_PASSWORD',
    table = 'gold_store_minute', create_table = 'true'
);

CREATE PIPELINE gold WITH (description = 'silver_sales per store per minute → ClickHouse') AS
INSERT INTO gold_store_minute
SELECT window_start AS minute, store, COUNT(*) AS sales, SUM(amount) AS revenue
FROM silver_sales
GROUP BY TUMBLE(sold_at, INTERVAL 1 MINUTE), store
DEDUPLICATE BY sale_id WITHIN INTERVAL 1 HOUR;
