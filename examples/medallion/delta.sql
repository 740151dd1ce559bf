-- Medallion with Delta Lake layers: bronze and silver as Delta tables
-- (Parquet files and a transaction log any Delta reader reads), each
-- appended exactly once across crashes, so a lakehouse query engine
-- (Spark, Databricks, DuckDB, Trino) takes it from there.
-- Bronze: pos_sales as received, every field as text, with where it was
-- read. Silver: the same records typed, cleaned and deduplicated, with the
-- rules of silver.sql (a record whose time does not parse goes to
-- pos_sales.dlq).
-- Endpoints come from the server's environment: KAFKA_BROKERS. The tables
-- are directories under the server's files directory (--files-dir):
-- lake/bronze_sales and lake/silver_sales.

CREATE SOURCE IF NOT EXISTS pos_sales (
    sale_id String,
    store   String,
    amount  String,
    sold_at String
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'pos_sales', format = 'json');

CREATE SOURCE pos_sales_typed (
    sale_id String,
    store   String,
    amount  String,
    sold_at DateTime64(3) NOT NULL,
    WATERMARK FOR sold_at AS sold_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'pos_sales', format = 'json');

CREATE SINK bronze_sales_lake WITH (connector = 'delta', path = 'lake/bronze_sales', flush_interval = '5s');
CREATE SINK silver_sales_lake WITH (connector = 'delta', path = 'lake/silver_sales', flush_interval = '5s');

CREATE PIPELINE bronze_lake WITH (description = 'pos_sales as received → Delta table bronze_sales') AS
INSERT INTO bronze_sales_lake
SELECT sale_id, store, amount, sold_at,
       _partition AS source_partition, _offset AS source_offset, _timestamp AS received_at
FROM pos_sales;

CREATE PIPELINE silver_lake WITH (description = 'pos_sales typed, cleaned, deduplicated → Delta table silver_sales') AS
INSERT INTO silver_sales_lake
SELECT sale_id, LOWER(TRIM(store)) AS store, CAST(amount AS Decimal(12, 2)) AS amount, sold_at
FROM pos_sales_typed
WHERE sale_id IS NOT NULL AND TRIM(sale_id) <> '' AND TRIM(store) <> ''
  AND CAST(amount AS Decimal(12, 2)) > 0
DEDUPLICATE BY sale_id WITHIN INTERVAL 1 HOUR;
