-- Windowed monitoring: server errors counted per service per minute; a
-- service with 3 or more in a minute is written to the alerts file. Rows
-- that arrive after their minute was emitted are late: dropped and counted
-- (sluice_operator_late_rows_total). Records that are not JSON or do not fit
-- the columns go to the dead-letter topic http_requests.dlq with the reason
-- (sluice_pipeline_dead_lettered_total).
-- Endpoints come from the server's environment (env:NAME):
--   KAFKA_BROKERS  e.g. localhost:9092

CREATE SOURCE http_requests (
    service    String NOT NULL,
    status     UInt16 NOT NULL,
    latency_ms UInt32,
    at         DateTime64(3) NOT NULL,
    -- A record may arrive up to 10 seconds after later ones and still count.
    WATERMARK FOR at AS at - INTERVAL 10 SECOND
) WITH (
    connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'http_requests',
    format = 'json', dlq_topic = 'http_requests.dlq'
);

CREATE SINK error_alerts WITH (connector = 'file', path = 'alerts/error_bursts.jsonl');

CREATE PIPELINE error_bursts WITH (description = 'services with 3 or more server errors in a minute') AS
INSERT INTO error_alerts
SELECT window_start, window_end, service,
       COUNT(*) AS errors, MAX(latency_ms) AS max_latency_ms
FROM http_requests
WHERE status >= 500
GROUP BY TUMBLE(at, INTERVAL 1 MINUTE), service
HAVING COUNT(*) >= 3;
