-- Zone visits per hour of their start: count, median and 90th percentile of their seconds.
SELECT
    t.store_id,
    t.camera_id,
    t.event_date,
    v.zone,
    date_trunc('hour', v.enter_ts) AS hour,
    count(*) AS visits,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY v.seconds) AS median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY v.seconds) AS p90_seconds
FROM silver_tracks AS t
CROSS JOIN UNNEST(t.zone_visits) AS u(v)
GROUP BY t.store_id, t.camera_id, t.event_date, v.zone, date_trunc('hour', v.enter_ts)
ORDER BY t.camera_id, v.zone, hour
