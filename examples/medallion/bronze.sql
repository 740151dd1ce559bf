-- Medallion, bronze: point-of-sale records as received. Every field is read
-- as text, so nothing a till sends is lost or changed (a record that is not
-- JSON at all goes to pos_sales.dlq); where it was read is added.
-- Endpoints come from the server's environment: KAFKA_BROKERS.

CREATE SOURCE pos_sales (
    sale_id String,
    store   String,
    amount  String,
    sold_at String
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'pos_sales', format = 'json');

CREATE SINK bronze_sales_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'bronze_sales', key = 'sale_id');

CREATE PIPELINE bronze WITH (description = 'pos_sales as received → bronze_sales') AS
INSERT INTO bronze_sales_topic
SELECT sale_id, store, amount, sold_at,
       _partition AS source_partition, _offset AS source_offset, _timestamp AS received_at
FROM pos_sales;
