-- Mean and most people per zone ('*' = whole frame) per minute, over every video of the camera.
SELECT
    store_id,
    camera_id,
    event_date,
    zone,
    minute,
    CAST(sum(people_sum) AS DOUBLE) / sum(frames) AS mean_people,
    max(people_max) AS max_people,
    sum(frames) AS frames
FROM silver_occupancy
GROUP BY store_id, camera_id, event_date, zone, minute
ORDER BY camera_id, zone, minute
