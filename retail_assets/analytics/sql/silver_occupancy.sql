-- People per zone per processed frame, summed per minute, per video (after silver.sql).
-- people = confirmed tracks whose anchor is in the zone; zone '*' = every confirmed track in the frame.
WITH zone_names AS (
    SELECT DISTINCT camera_id, zone FROM zones_geo
    UNION
    SELECT DISTINCT camera_id, '*' AS zone FROM det
), presence AS (
    SELECT video_key, frame_index, zone, count(DISTINCT track_id) AS people
    FROM zone_hits GROUP BY video_key, frame_index, zone
    UNION ALL
    SELECT video_key, frame_index, '*' AS zone, count(DISTINCT track_id) AS people
    FROM det WHERE track_id IS NOT NULL GROUP BY video_key, frame_index
), per_frame AS (
    SELECT f.video_key, f.camera_id, z.zone, f.ts_us - f.ts_us % 60000000 AS minute_us,
        coalesce(p.people, 0) AS people
    FROM frames AS f
    JOIN zone_names AS z ON z.camera_id = f.camera_id
    LEFT JOIN presence AS p ON p.video_key = f.video_key AND p.frame_index = f.frame_index AND p.zone = z.zone
), videos AS (
    SELECT video_key, any_value(store_id) AS store_id FROM det GROUP BY video_key
)
SELECT v.store_id, r.camera_id, CAST($event_date AS DATE) AS event_date, r.video_key, r.zone,
    CAST(make_timestamp(r.minute_us) AS TIMESTAMPTZ) AS minute,
    count(*) AS frames, sum(r.people) AS people_sum, max(r.people) AS people_max
FROM per_frame AS r
JOIN videos AS v ON v.video_key = r.video_key
GROUP BY v.store_id, r.camera_id, r.video_key, r.zone, r.minute_us
ORDER BY r.video_key, r.zone, r.minute_us
