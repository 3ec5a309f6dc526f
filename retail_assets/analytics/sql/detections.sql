-- Bronze rows -> one row per detection (DuckDB dialect: json_transform parses each payload once).
-- Input: `bronze` (payload, video_key, event_id). The anchor is computed later from x1, x2, y2.
SELECT
    p.store_id,
    p.camera_id,
    b.video_key,
    b.event_id,
    p.track_id,
    p.frame_index,
    CAST(p.ts AS TIMESTAMPTZ) AS ts,
    p.bbox.x1 AS x1,
    p.bbox.y1 AS y1,
    p.bbox.x2 AS x2,
    p.bbox.y2 AS y2,
    p.frame_w,
    p.frame_h,
    p.confidence,
    coalesce(p.attributes.posture = 'fallen', false) AS fallen
FROM (
    SELECT
        video_key,
        event_id,
        json_transform(
            payload,
            '{"store_id": "VARCHAR", "camera_id": "VARCHAR", "track_id": "BIGINT",
              "frame_index": "BIGINT", "ts": "VARCHAR", "confidence": "DOUBLE",
              "bbox": {"x1": "DOUBLE", "y1": "DOUBLE", "x2": "DOUBLE", "y2": "DOUBLE"},
              "frame_w": "INTEGER", "frame_h": "INTEGER", "attributes": {"posture": "VARCHAR"}}'
        ) AS p
    FROM bronze
) AS b
