-- People per zone per processed frame, summed per minute, per video (after silver.sql).
-- people = confirmed tracks whose anchor is in the zone; zone '*' = every confirmed track in the frame.
-- A frame without anyone in a zone adds 0 people and cannot raise the minute's maximum, so only
-- frames with people are joined; frame_minutes gives every minute's number of frames.
WITH presence AS (
    SELECT vid, frame_index, zone, count(*) AS people FROM zone_hits GROUP BY vid, frame_index, zone
), per_minute AS (
    SELECT p.vid, p.zone, s.ts_us - s.ts_us % 60000000 AS minute_us,
        sum(p.people) AS people_sum, max(p.people) AS people_max
    FROM presence AS p JOIN seen AS s ON s.vid = p.vid AND s.frame_index = p.frame_index
    GROUP BY p.vid, p.zone, minute_us
    UNION ALL
    SELECT vid, '*' AS zone, ts_us - ts_us % 60000000 AS minute_us, sum(people) AS people_sum, max(people) AS people_max
    FROM seen
    GROUP BY vid, minute_us
), zone_names AS (
    SELECT v.vid, z.zone FROM videos AS v JOIN zones_geo AS z ON z.camera_id = v.camera_id
    UNION ALL
    SELECT vid, '*' AS zone FROM videos
)
SELECT v.store_id, v.camera_id, CAST($event_date AS DATE) AS event_date, v.video_key, z.zone,
    CAST(make_timestamp(m.minute_us) AS TIMESTAMPTZ) AS minute,
    m.frames, coalesce(p.people_sum, 0) AS people_sum, coalesce(p.people_max, 0) AS people_max
FROM frame_minutes AS m
JOIN videos AS v ON v.vid = m.vid
JOIN zone_names AS z ON z.vid = m.vid
LEFT JOIN per_minute AS p ON p.vid = m.vid AND p.zone = z.zone AND p.minute_us = m.minute_us
ORDER BY v.video_key, z.zone, m.minute_us
