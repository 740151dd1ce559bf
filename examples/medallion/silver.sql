-- Medallion, silver: bronze typed, cleaned and deduplicated. sold_at is
-- read as a time (a record whose time does not parse goes to
-- bronze_sales.dlq); stores are trimmed and lower-cased; sales without an
-- id or with an amount that is not a positive number are dropped; a sale
-- sent twice, or written to bronze twice, passes once.

CREATE SOURCE bronze_sales (
    sale_id String,
    store   String,
    amount  String,
    sold_at DateTime64(3) NOT NULL,
    WATERMARK FOR sold_at AS sold_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'bronze_sales', format = 'json');

CREATE SINK silver_sales_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'silver_sales', key = 'sale_id');

CREATE PIPELINE silver WITH (description = 'bronze_sales typed, cleaned, deduplicated → silver_sales') AS
INSERT INTO silver_sales_topic
SELECT sale_id, LOWER(TRIM(store)) AS store, CAST(amount AS Decimal(12, 2)) AS amount, sold_at
FROM bronze_sales
WHERE sale_id IS NOT NULL AND TRIM(sale_id) <> '' AND TRIM(store) <> ''
  AND CAST(amount AS Decimal(12, 2)) > 0
DEDUPLICATE BY sale_id WITHIN INTERVAL 1 HOUR;
