-- A script `sluice run` runs without any service: generated clicks, one in
-- five a duplicate, counted per page every 2 seconds and printed.
CREATE SOURCE clicks (
    click_id String,
    page     String,
    ts       DateTime64(3),
    WATERMARK FOR ts AS ts - INTERVAL 1 SECOND
) WITH (
    connector = 'datagen', rows_per_second = '50', duplicate_ratio = '0.2',
    fields.click_id.kind = 'sequence', fields.click_id.prefix = 'c-',
    fields.page.kind = 'values', fields.page.values = 'home,cart,checkout'
);

CREATE SINK console WITH (connector = 'stdout');

CREATE PIPELINE clicks_per_page AS
INSERT INTO console
SELECT window_start, page, COUNT(*) AS clicks
FROM clicks
GROUP BY TUMBLE(ts, INTERVAL 2 SECOND), page
DEDUPLICATE BY click_id WITHIN INTERVAL 1 MINUTE;
