-- One row per confirmed track per video (after silver.sql). $event_date, $geometry_version, $path_step_us.
WITH steps AS (
    SELECT vid, track_id, frame_index, ts, ts_us, ax, ay,
        sqrt(
            (ax - lag(ax) OVER w) * (ax - lag(ax) OVER w) + (ay - lag(ay) OVER w) * (ay - lag(ay) OVER w)
        ) AS step,
        ts_us // $path_step_us IS DISTINCT FROM lag(ts_us // $path_step_us) OVER w AS first_in_bucket
    FROM det
    WHERE track_id IS NOT NULL
    WINDOW w AS (PARTITION BY vid, track_id ORDER BY frame_index)
), tracks AS (
    -- the path: the length of every step; at most one anchor per path step (e.g. 500 ms)
    SELECT vid, track_id,
        min(ts) AS first_ts, max(ts) AS last_ts, (max(ts_us) - min(ts_us)) / 1000000.0 AS seconds_seen,
        count(*) AS detections,
        arg_min(ax, frame_index) AS entry_x, arg_min(ay, frame_index) AS entry_y,
        arg_max(ax, frame_index) AS exit_x, arg_max(ay, frame_index) AS exit_y,
        coalesce(sum(step), 0.0) AS path_length_px,
        list({'ts': ts, 'x': ax, 'y': ay} ORDER BY frame_index) FILTER (WHERE first_in_bucket) AS path
    FROM steps
    GROUP BY vid, track_id
), crossing_lists AS (
    SELECT vid, track_id,
        list({'line': line, 'direction': direction, 'ts': ts} ORDER BY ts, line) AS crossings
    FROM crossings GROUP BY vid, track_id
), visit_lists AS (
    SELECT vid, track_id,
        list({'zone': zone, 'enter_ts': enter_ts, 'exit_ts': exit_ts, 'seconds': seconds} ORDER BY enter_ts, zone)
            AS zone_visits
    FROM visits GROUP BY vid, track_id
), fall_lists AS (
    SELECT vid, track_id, sum(seconds) AS fallen_seconds,
        list({'start_ts': start_ts, 'end_ts': end_ts, 'seconds': seconds, 'confidence': confidence,
              'start_event_id': start_event_id, 'start_frame_index': start_frame_index} ORDER BY start_ts)
            AS falls
    FROM falls GROUP BY vid, track_id
)
SELECT
    v.video_key || '#' || CAST(t.track_id AS VARCHAR) AS track_uid,
    v.store_id, v.camera_id, CAST($event_date AS DATE) AS event_date, v.video_key, t.track_id,
    t.first_ts, t.last_ts, t.seconds_seen, t.detections,
    t.entry_x, t.entry_y, t.exit_x, t.exit_y, t.path_length_px,
    t.path,
    coalesce(c.crossings, []) AS crossings,
    coalesce(z.zone_visits, []) AS zone_visits,
    coalesce(f.fallen_seconds, 0.0) AS fallen_seconds,
    coalesce(f.falls, []) AS falls,
    CAST($geometry_version AS VARCHAR) AS geometry_version
FROM tracks AS t
JOIN videos AS v ON v.vid = t.vid
LEFT JOIN crossing_lists AS c ON c.vid = t.vid AND c.track_id = t.track_id
LEFT JOIN visit_lists AS z ON z.vid = t.vid AND z.track_id = t.track_id
LEFT JOIN fall_lists AS f ON f.vid = t.vid AND f.track_id = t.track_id
ORDER BY v.video_key, t.track_id
