-- The store-day in one row. Inputs: silver_tracks, gold_occupancy_minutely (computed first),
-- entrance_lines (camera_id, line). Peak occupancy: per minute, the sum over cameras of each
-- camera's most people in one frame of the whole frame ('*'); cameras are assumed not to overlap.
WITH entrance_crossings AS (
    SELECT c.direction
    FROM silver_tracks AS t
    CROSS JOIN UNNEST(t.crossings) AS u(c)
    JOIN entrance_lines AS e ON e.camera_id = t.camera_id AND e.line = c.line
), store_minutes AS (
    SELECT minute, sum(max_people) AS people
    FROM gold_occupancy_minutely
    WHERE zone = '*'
    GROUP BY minute
), visits AS (
    SELECT t.camera_id, v.zone, v.seconds
    FROM silver_tracks AS t
    CROSS JOIN UNNEST(t.zone_visits) AS u(v)
), dwell AS (
    SELECT camera_id, zone, count(*) AS visits,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_seconds
    FROM visits
    GROUP BY camera_id, zone
)
SELECT
    CAST($store_id AS VARCHAR) AS store_id,
    CAST($event_date AS DATE) AS event_date,
    (SELECT count(*) FROM silver_tracks) AS tracks,
    (SELECT coalesce(sum(CASE WHEN direction = 'in' THEN 1 ELSE 0 END), 0) FROM entrance_crossings) AS visitors_in,
    (SELECT coalesce(sum(CASE WHEN direction = 'out' THEN 1 ELSE 0 END), 0) FROM entrance_crossings) AS visitors_out,
    (SELECT coalesce(max(people), 0) FROM store_minutes) AS peak_occupancy,
    (SELECT min(minute) FROM store_minutes WHERE people = (SELECT max(people) FROM store_minutes)) AS peak_minute,
    coalesce(
        (SELECT list({'camera_id': camera_id, 'zone': zone, 'visits': visits, 'median_seconds': median_seconds}
                     ORDER BY camera_id, zone) FROM dwell),
        []
    ) AS median_dwell,
    (SELECT count(*) FROM silver_tracks AS t CROSS JOIN UNNEST(t.falls) AS u(f)) AS falls
