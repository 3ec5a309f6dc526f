-- Detections -> silver (DuckDB dialect: window functions are standard SQL; arg_min, list, range
-- and `//` are DuckDB's). Inputs registered by silver.py:
--   detections (DETECTIONS_SCHEMA + vid, cam: dense integer ids of video_key and camera_id),
--   videos (vid, video_key, store_id), cameras (cam, camera_id),
--   lines_geo (camera_id, line, sx, sy, ex, ey, len, len2, in_sign, margin_t),
--   zones_geo (camera_id, zone, min_x, min_y, max_x, max_y), zone_edges (camera_id, zone, ax, ay, bx, by).
-- Parameters: $k, $d, $dead_band, $grace_us, $min_visit_s, $fall_gap_us.
-- A track is (vid, track_id); its observations are ordered by frame_index (a tracker reports a track
-- at most once per frame). Times are integer microseconds (ts_us), so every rule is exact.

-- Every detection with its anchor (bottom-centre of the box: the feet).
CREATE OR REPLACE TEMP VIEW det AS
SELECT vid, cam, event_id, track_id, frame_index, ts, epoch_us(ts) AS ts_us,
    (x1 + x2) / 2 AS ax, y2 AS ay, confidence, fallen
FROM detections;

CREATE OR REPLACE TEMP TABLE lines_c AS
SELECT c.cam, l.* FROM lines_geo AS l JOIN cameras AS c ON c.camera_id = l.camera_id;

CREATE OR REPLACE TEMP TABLE zones_c AS
SELECT c.cam, z.* FROM zones_geo AS z JOIN cameras AS c ON c.camera_id = z.camera_id;

CREATE OR REPLACE TEMP TABLE edges_c AS
SELECT c.cam, e.* FROM zone_edges AS e JOIN cameras AS c ON c.camera_id = e.camera_id;

-- Sided observations of confirmed tracks: projection within the segment (+ margin), off the dead
-- band. One window pass (one sort) numbers them, marks where a run on one side starts and where the
-- track's observations end, and counts those at least D px past the line so far; only run starts
-- and last observations are kept.
CREATE OR REPLACE TEMP TABLE run_marks AS
WITH sided AS (
    SELECT vid, track_id, line, frame_index, ts, inward, CASE WHEN inward > 0 THEN 1 ELSE -1 END AS side
    FROM (
        SELECT
            d.vid, d.track_id, l.line, d.frame_index, d.ts, l.margin_t,
            ((d.ax - l.sx) * (l.ex - l.sx) + (d.ay - l.sy) * (l.ey - l.sy)) / l.len2 AS t,
            l.in_sign * ((l.ex - l.sx) * (d.ay - l.sy) - (l.ey - l.sy) * (d.ax - l.sx)) / l.len AS inward
        FROM det AS d
        JOIN lines_c AS l ON d.cam = l.cam
        WHERE d.track_id IS NOT NULL
    ) AS g
    WHERE t >= -margin_t AND t <= 1 + margin_t AND abs(inward) > $dead_band
), passes AS (
    SELECT *,
        row_number() OVER w AS rn,
        lag(side) OVER w AS prev_side,
        lead(side) OVER w IS NULL AS is_last,
        CASE WHEN abs(inward) >= $d THEN 1 ELSE 0 END AS far,
        sum(CASE WHEN abs(inward) >= $d THEN 1 ELSE 0 END) OVER w AS far_so_far
    FROM sided
    WINDOW w AS (PARTITION BY vid, track_id, line ORDER BY frame_index ROWS UNBOUNDED PRECEDING)
)
SELECT vid, track_id, line, rn, side, ts, far, far_so_far,
    prev_side IS NULL OR prev_side <> side AS is_start, is_last
FROM passes
WHERE prev_side IS NULL OR prev_side <> side OR is_last;

-- Runs: the first sets the starting side; a later one changes it only when confirmed (K
-- observations, or one at least D px past the line). Each change of side is a crossing.
CREATE OR REPLACE TEMP TABLE crossings AS
WITH bounded AS (
    SELECT *,
        lead(rn) OVER w AS next_rn,
        lead(is_start) OVER w AS next_is_start,
        lead(far_so_far) OVER w AS next_far_so_far,
        lead(far) OVER w AS next_far
    FROM run_marks
    WINDOW w AS (PARTITION BY vid, track_id, line ORDER BY rn)
), runs AS (
    SELECT vid, track_id, line, rn, side, ts,
        CASE
            WHEN next_rn IS NULL THEN 1
            WHEN next_is_start THEN next_rn - rn
            ELSE next_rn - rn + 1
        END AS n,
        CASE
            WHEN next_rn IS NULL THEN far
            WHEN next_is_start THEN next_far_so_far - next_far - (far_so_far - far)
            ELSE next_far_so_far - (far_so_far - far)
        END AS far_n
    FROM bounded
    WHERE is_start
), setting AS (
    SELECT *, lag(side) OVER (PARTITION BY vid, track_id, line ORDER BY rn) AS before
    FROM runs
    WHERE rn = 1 OR n >= $k OR far_n > 0
)
SELECT vid, track_id, line, CASE WHEN side = 1 THEN 'in' ELSE 'out' END AS direction, ts
FROM setting
WHERE before IS NOT NULL AND before <> side;

-- Anchors of confirmed tracks inside each zone (bounding box first, then ray casting over the edges).
CREATE OR REPLACE TEMP TABLE zone_hits AS
WITH candidates AS (
    SELECT d.vid, d.cam, d.track_id, d.frame_index, d.ts, d.ts_us, d.ax, d.ay, z.zone
    FROM det AS d
    JOIN zones_c AS z ON d.cam = z.cam
    WHERE d.track_id IS NOT NULL
        AND d.ax >= z.min_x AND d.ax <= z.max_x AND d.ay >= z.min_y AND d.ay <= z.max_y
)
SELECT c.vid, c.track_id, c.frame_index, any_value(c.ts) AS ts, any_value(c.ts_us) AS ts_us, c.zone
FROM candidates AS c
JOIN edges_c AS e ON c.cam = e.cam AND c.zone = e.zone
WHERE (e.ay > c.ay) <> (e.by > c.ay) AND c.ax < (e.bx - e.ax) * (c.ay - e.ay) / (e.by - e.ay) + e.ax
GROUP BY c.vid, c.track_id, c.frame_index, c.zone
HAVING count(*) % 2 = 1;

-- Visits: inside observations at most the grace period apart are one visit. One window pass marks
-- where visits start and end; each start is paired with the end that follows it.
CREATE OR REPLACE TEMP TABLE visits AS
WITH marked AS (
    SELECT vid, track_id, zone, frame_index, ts, ts_us,
        coalesce(ts_us - lag(ts_us) OVER w > $grace_us, true) AS is_start,
        coalesce(lead(ts_us) OVER w - ts_us > $grace_us, true) AS is_end
    FROM zone_hits
    WINDOW w AS (PARTITION BY vid, track_id, zone ORDER BY frame_index)
), bounds AS (
    SELECT *,
        lead(ts) OVER w AS next_ts,
        lead(ts_us) OVER w AS next_ts_us
    FROM marked
    WHERE is_start OR is_end
    WINDOW w AS (PARTITION BY vid, track_id, zone ORDER BY frame_index)
), paired AS (
    SELECT vid, track_id, zone, ts AS enter_ts,
        CASE WHEN is_end THEN ts ELSE next_ts END AS exit_ts,
        (CASE WHEN is_end THEN ts_us ELSE next_ts_us END - ts_us) / 1000000.0 AS seconds
    FROM bounds
    WHERE is_start
)
SELECT * FROM paired WHERE seconds >= $min_visit_s;

-- Fall episodes: fallen observations at most the shared gap apart; confidence = mean.
CREATE OR REPLACE TEMP TABLE falls AS
WITH fallen AS (
    SELECT *,
        CASE WHEN ts_us - lag(ts_us) OVER (PARTITION BY vid, track_id ORDER BY frame_index) <= $fall_gap_us
            THEN 0 ELSE 1 END AS new_episode
    FROM det
    WHERE track_id IS NOT NULL AND fallen
), numbered AS (
    SELECT *,
        sum(new_episode) OVER (PARTITION BY vid, track_id ORDER BY frame_index ROWS UNBOUNDED PRECEDING)
            AS episode
    FROM fallen
)
SELECT vid, track_id, min(ts) AS start_ts, max(ts) AS end_ts,
    (max(ts_us) - min(ts_us)) / 1000000.0 AS seconds, avg(confidence) AS confidence,
    arg_min(event_id, frame_index) AS start_event_id, min(frame_index) AS start_frame_index
FROM numbered
GROUP BY vid, track_id, episode;

-- Frames with someone detected, at the time of their earliest event, with their confirmed tracks.
CREATE OR REPLACE TEMP TABLE seen AS
SELECT vid, frame_index, min(ts_us) AS ts_us, count(track_id) AS people FROM det GROUP BY vid, frame_index;

-- Occupancy counts the processed frames of each video, including those in which nobody was
-- detected (they leave no event): every `stride`-th frame between the first and last frame seen
-- (stride = the smallest step between frames seen), at a time interpolated between the first and
-- last frame seen (integer microseconds); a frame seen keeps its own time, and a frame seen off
-- that grid counts too. Time is assumed to grow with the frame index.
CREATE OR REPLACE TEMP TABLE spans AS
WITH steps AS (
    SELECT vid, frame_index - lag(frame_index) OVER (PARTITION BY vid ORDER BY frame_index) AS step FROM seen
), strides AS (
    SELECT vid, coalesce(min(step), 1) AS stride FROM steps GROUP BY vid
)
SELECT s.vid, min(s.frame_index) AS f0, max(s.frame_index) AS f1,
    arg_min(s.ts_us, s.frame_index) AS t0, arg_max(s.ts_us, s.frame_index) AS t1, any_value(st.stride) AS stride
FROM seen AS s JOIN strides AS st ON s.vid = st.vid
GROUP BY s.vid;

-- Grid frames whose interpolated time t0 + (k * stride * (t1 - t0)) // (f1 - f0) is before m:
-- k * stride * (t1 - t0) < (m - t0) * (f1 - f0), counted without listing the frames.
CREATE OR REPLACE TEMP MACRO grid_frames_before(m, f0, f1, t0, t1, stride) AS
    CASE
        WHEN m <= t0 THEN 0
        WHEN t1 = t0 OR f1 = f0 THEN (f1 - f0) // stride + 1
        ELSE least(
            (f1 - f0) // stride + 1,
            ((m - t0) * (f1 - f0) + stride * (t1 - t0) - 1) // (stride * (t1 - t0))
        )
    END;

CREATE OR REPLACE TEMP TABLE frame_minutes AS
WITH minutes AS (
    SELECT vid, f0, f1, t0, t1, stride,
        unnest(range(t0 - t0 % 60000000, t1 - t1 % 60000000 + 60000000, 60000000)) AS minute_us
    FROM spans
), seen_on_grid AS (
    -- a seen frame on the grid moves from its interpolated minute to its own
    SELECT s.vid, CASE WHEN p.f1 = p.f0 THEN p.t0 ELSE p.t0 + (s.frame_index - p.f0) * (p.t1 - p.t0) // (p.f1 - p.f0) END
            AS ts_us
    FROM seen AS s JOIN spans AS p ON s.vid = p.vid
    WHERE (s.frame_index - p.f0) % p.stride = 0
), counted AS (
    SELECT vid, minute_us,
        grid_frames_before(minute_us + 60000000, f0, f1, t0, t1, stride)
            - grid_frames_before(minute_us, f0, f1, t0, t1, stride) AS n
    FROM minutes
    UNION ALL
    SELECT vid, ts_us - ts_us % 60000000, -1 FROM seen_on_grid
    UNION ALL
    SELECT vid, ts_us - ts_us % 60000000, 1 FROM seen
)
SELECT vid, minute_us, sum(n) AS frames FROM counted GROUP BY vid, minute_us HAVING sum(n) > 0;
