-- One row per confirmed track per video (after silver.sql). $event_date, $geometry_version, $path_step_us.
WITH tracks AS (
    SELECT video_key, track_id, any_value(store_id) AS store_id, any_value(camera_id) AS camera_id,
        min(ts) AS first_ts, max(ts) AS last_ts, (max(ts_us) - min(ts_us)) / 1000000.0 AS seconds_seen,
        count(*) AS detections,
        arg_min(ax, seq) AS entry_x, arg_min(ay, seq) AS entry_y,
        arg_max(ax, seq) AS exit_x, arg_max(ay, seq) AS exit_y
    FROM det
    WHERE track_id IS NOT NULL
    GROUP BY video_key, track_id
), steps AS (
    SELECT video_key, track_id,
        sqrt(
            (ax - lag(ax) OVER w) * (ax - lag(ax) OVER w) + (ay - lag(ay) OVER w) * (ay - lag(ay) OVER w)
        ) AS step
    FROM det
    WHERE track_id IS NOT NULL
    WINDOW w AS (PARTITION BY video_key, track_id ORDER BY seq)
), lengths AS (
    SELECT video_key, track_id, coalesce(sum(step), 0.0) AS path_length_px FROM steps GROUP BY video_key, track_id
), thinned AS (
    -- the first anchor of each path step (e.g. 500 ms) of the track
    SELECT video_key, track_id, ts_us // $path_step_us AS bucket,
        arg_min(ts, seq) AS ts, arg_min(ax, seq) AS x, arg_min(ay, seq) AS y
    FROM det
    WHERE track_id IS NOT NULL
    GROUP BY video_key, track_id, bucket
), paths AS (
    SELECT video_key, track_id, list({'ts': ts, 'x': x, 'y': y} ORDER BY ts) AS path
    FROM thinned GROUP BY video_key, track_id
), crossing_lists AS (
    SELECT video_key, track_id,
        list({'line': line, 'direction': direction, 'ts': ts} ORDER BY ts, line) AS crossings
    FROM crossings GROUP BY video_key, track_id
), visit_lists AS (
    SELECT video_key, track_id,
        list({'zone': zone, 'enter_ts': enter_ts, 'exit_ts': exit_ts, 'seconds': seconds} ORDER BY enter_ts, zone)
            AS zone_visits
    FROM visits GROUP BY video_key, track_id
), fall_lists AS (
    SELECT video_key, track_id, sum(seconds) AS fallen_seconds,
        list({'start_ts': start_ts, 'end_ts': end_ts, 'seconds': seconds, 'confidence': confidence,
              'start_event_id': start_event_id, 'start_frame_index': start_frame_index} ORDER BY start_ts)
            AS falls
    FROM falls GROUP BY video_key, track_id
)
SELECT
    t.video_key || '#' || CAST(t.track_id AS VARCHAR) AS track_uid,
    t.store_id, t.camera_id, CAST($event_date AS DATE) AS event_date, t.video_key, t.track_id,
    t.first_ts, t.last_ts, t.seconds_seen, t.detections,
    t.entry_x, t.entry_y, t.exit_x, t.exit_y, l.path_length_px,
    p.path,
    coalesce(c.crossings, []) AS crossings,
    coalesce(v.zone_visits, []) AS zone_visits,
    coalesce(f.fallen_seconds, 0.0) AS fallen_seconds,
    coalesce(f.falls, []) AS falls,
    CAST($geometry_version AS VARCHAR) AS geometry_version
FROM tracks AS t
JOIN lengths AS l ON l.video_key = t.video_key AND l.track_id = t.track_id
JOIN paths AS p ON p.video_key = t.video_key AND p.track_id = t.track_id
LEFT JOIN crossing_lists AS c ON c.video_key = t.video_key AND c.track_id = t.track_id
LEFT JOIN visit_lists AS v ON v.video_key = t.video_key AND v.track_id = t.track_id
LEFT JOIN fall_lists AS f ON f.video_key = t.video_key AND f.track_id = t.track_id
ORDER BY t.video_key, t.track_id
