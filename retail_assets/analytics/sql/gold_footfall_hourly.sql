-- People crossing each line per hour, by direction (portable SQL; the UNNEST line is DuckDB's
-- spelling, Trino/Spark: see docs/analytics.md).
SELECT
    t.store_id,
    t.camera_id,
    t.event_date,
    c.line,
    date_trunc('hour', c.ts) AS hour,
    sum(CASE WHEN c.direction = 'in' THEN 1 ELSE 0 END) AS people_in,
    sum(CASE WHEN c.direction = 'out' THEN 1 ELSE 0 END) AS people_out
FROM silver_tracks AS t
CROSS JOIN UNNEST(t.crossings) AS u(c)
GROUP BY t.store_id, t.camera_id, t.event_date, c.line, date_trunc('hour', c.ts)
ORDER BY t.camera_id, c.line, hour
