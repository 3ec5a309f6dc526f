-- One row per fall episode; frame_uri = s3://<detections bucket>/<fall_frame_key(video, start event)>.
SELECT
    t.store_id,
    t.camera_id,
    t.event_date,
    t.video_key,
    t.track_uid,
    f.start_ts,
    f.seconds,
    f.confidence,
    f.start_event_id,
    $frame_prefix || t.video_key || '/' || f.start_event_id || '.jpg' AS frame_uri
FROM silver_tracks AS t
CROSS JOIN UNNEST(t.falls) AS u(f)
ORDER BY f.start_ts, t.track_uid
