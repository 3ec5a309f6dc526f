-- Detections -> silver (DuckDB dialect; window functions are standard SQL, arg_min/list are DuckDB's).
-- Inputs registered by silver.py:
--   detections (DETECTIONS_SCHEMA); lines_geo (camera_id, line, sx, sy, ex, ey, len, len2, in_sign,
--   margin_t); zones_geo (camera_id, zone, min_x, min_y, max_x, max_y); zone_edges (camera_id,
--   zone, ax, ay, bx, by). Parameters: $k, $d, $dead_band, $grace_us, $min_visit_s, $path_step_us,
--   $fall_gap_us. Times are compared in integer microseconds (ts_us) so every rule is exact.

-- Every detection with its anchor (bottom-centre) and its order within its track.
CREATE OR REPLACE TEMP TABLE det AS
SELECT
    store_id, camera_id, video_key, event_id, track_id, frame_index, ts,
    epoch_us(ts) AS ts_us,
    (x1 + x2) / 2 AS ax,
    y2 AS ay,
    confidence, fallen,
    row_number() OVER (PARTITION BY video_key, track_id ORDER BY frame_index, event_id) AS seq
FROM detections;

-- Sided observations of confirmed tracks: projection within the segment (+ margin), off the dead band.
CREATE OR REPLACE TEMP TABLE line_sides AS
SELECT video_key, track_id, line, seq, ts, inward, CASE WHEN inward > 0 THEN 1 ELSE -1 END AS side
FROM (
    SELECT
        d.video_key, d.track_id, l.line, d.seq, d.ts, l.margin_t,
        ((d.ax - l.sx) * (l.ex - l.sx) + (d.ay - l.sy) * (l.ey - l.sy)) / l.len2 AS t,
        l.in_sign * ((l.ex - l.sx) * (d.ay - l.sy) - (l.ey - l.sy) * (d.ax - l.sx)) / l.len AS inward
    FROM det AS d
    JOIN lines_geo AS l ON d.camera_id = l.camera_id
    WHERE d.track_id IS NOT NULL
) AS g
WHERE t >= -margin_t AND t <= 1 + margin_t AND abs(inward) > $dead_band;

-- Runs of consecutive observations on one side; the first run sets the starting side, a later run
-- changes it only when confirmed (K observations or D px past the line): each change is a crossing.
CREATE OR REPLACE TEMP TABLE crossings AS
WITH marked AS (
    SELECT *,
        CASE WHEN side = lag(side) OVER (PARTITION BY video_key, track_id, line ORDER BY seq) THEN 0 ELSE 1 END
            AS new_run
    FROM line_sides
), numbered AS (
    SELECT *,
        sum(new_run) OVER (PARTITION BY video_key, track_id, line ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run_no
    FROM marked
), runs AS (
    SELECT video_key, track_id, line, run_no, min(side) AS side, count(*) AS n, max(abs(inward)) AS reach,
        arg_min(ts, seq) AS start_ts
    FROM numbered
    GROUP BY video_key, track_id, line, run_no
), setting AS (
    SELECT *, lag(side) OVER (PARTITION BY video_key, track_id, line ORDER BY run_no) AS prev_side
    FROM runs
    WHERE run_no = 1 OR n >= $k OR reach >= $d
)
SELECT video_key, track_id, line, CASE WHEN side = 1 THEN 'in' ELSE 'out' END AS direction, start_ts AS ts
FROM setting
WHERE prev_side IS NOT NULL AND prev_side <> side;

-- Anchors of confirmed tracks inside each zone (bounding box first, then ray casting over the edges).
CREATE OR REPLACE TEMP TABLE zone_hits AS
WITH candidates AS (
    SELECT d.video_key, d.camera_id, d.track_id, d.seq, d.frame_index, d.ts, d.ts_us, d.ax, d.ay, z.zone
    FROM det AS d
    JOIN zones_geo AS z ON d.camera_id = z.camera_id
    WHERE d.track_id IS NOT NULL
        AND d.ax >= z.min_x AND d.ax <= z.max_x AND d.ay >= z.min_y AND d.ay <= z.max_y
)
SELECT c.video_key, c.track_id, c.seq, c.frame_index, c.ts, c.ts_us, c.zone
FROM candidates AS c
JOIN zone_edges AS e ON c.camera_id = e.camera_id AND c.zone = e.zone
WHERE (e.ay > c.ay) <> (e.by > c.ay) AND c.ax < (e.bx - e.ax) * (c.ay - e.ay) / (e.by - e.ay) + e.ax
GROUP BY c.video_key, c.track_id, c.seq, c.frame_index, c.ts, c.ts_us, c.zone
HAVING count(*) % 2 = 1;

-- Visits: inside observations at most the grace period apart are one visit.
CREATE OR REPLACE TEMP TABLE visits AS
WITH marked AS (
    SELECT *,
        CASE WHEN ts_us - lag(ts_us) OVER (PARTITION BY video_key, track_id, zone ORDER BY seq) <= $grace_us
            THEN 0 ELSE 1 END AS new_visit
    FROM zone_hits
), numbered AS (
    SELECT *,
        sum(new_visit) OVER (PARTITION BY video_key, track_id, zone ORDER BY seq ROWS UNBOUNDED PRECEDING)
            AS visit_no
    FROM marked
)
SELECT video_key, track_id, zone, min(ts) AS enter_ts, max(ts) AS exit_ts,
    (max(ts_us) - min(ts_us)) / 1000000.0 AS seconds
FROM numbered
GROUP BY video_key, track_id, zone, visit_no
HAVING (max(ts_us) - min(ts_us)) / 1000000.0 >= $min_visit_s;

-- Fall episodes: fallen observations at most the shared gap apart; confidence = mean.
CREATE OR REPLACE TEMP TABLE falls AS
WITH fallen AS (
    SELECT *,
        CASE WHEN ts_us - lag(ts_us) OVER (PARTITION BY video_key, track_id ORDER BY seq) <= $fall_gap_us
            THEN 0 ELSE 1 END AS new_episode
    FROM det
    WHERE track_id IS NOT NULL AND fallen
), numbered AS (
    SELECT *,
        sum(new_episode) OVER (PARTITION BY video_key, track_id ORDER BY seq ROWS UNBOUNDED PRECEDING)
            AS episode
    FROM fallen
)
SELECT video_key, track_id, min(ts) AS start_ts, max(ts) AS end_ts,
    (max(ts_us) - min(ts_us)) / 1000000.0 AS seconds, avg(confidence) AS confidence,
    arg_min(event_id, seq) AS start_event_id, arg_min(frame_index, seq) AS start_frame_index
FROM numbered
GROUP BY video_key, track_id, episode;

-- Occupancy frames: the processed frames of each video, including those in which nobody was
-- detected (they leave no event): every `stride`-th frame between the first and last frame seen,
-- stride = the smallest step between frames seen; a frame's time is interpolated between the
-- first and last frame seen (integer microseconds) unless it was seen.
CREATE OR REPLACE TEMP TABLE frames AS
WITH seen AS (
    SELECT video_key, camera_id, frame_index, min(ts_us) AS ts_us
    FROM det
    GROUP BY video_key, camera_id, frame_index
), span AS (
    SELECT video_key, camera_id, min(frame_index) AS f0, max(frame_index) AS f1,
        arg_min(ts_us, frame_index) AS t0, arg_max(ts_us, frame_index) AS t1
    FROM seen
    GROUP BY video_key, camera_id
), steps AS (
    SELECT video_key, frame_index - lag(frame_index) OVER (PARTITION BY video_key ORDER BY frame_index) AS step
    FROM seen
), stride AS (
    SELECT video_key, coalesce(min(step), 1) AS stride FROM steps GROUP BY video_key
), grid AS (
    SELECT s.video_key, s.camera_id, unnest(range(s.f0, s.f1 + 1, st.stride)) AS frame_index
    FROM span AS s JOIN stride AS st ON s.video_key = st.video_key
    UNION
    SELECT video_key, camera_id, frame_index FROM seen
)
SELECT g.video_key, g.camera_id, g.frame_index,
    coalesce(seen.ts_us, s.t0 + (g.frame_index - s.f0) * (s.t1 - s.t0) // nullif(s.f1 - s.f0, 0)) AS ts_us
FROM grid AS g
JOIN span AS s ON g.video_key = s.video_key
LEFT JOIN seen ON seen.video_key = g.video_key AND seen.frame_index = g.frame_index;
