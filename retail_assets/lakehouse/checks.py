"""What the silver and gold tables must satisfy, checked from their rows (Dagster's asset checks
report these outcomes): each check returns whether it passed and what it compared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from retail_assets.objectstore import head_object_or_none, split_s3_uri

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Outcome:
    passed: bool
    facts: dict[str, Any] = field(default_factory=dict)  # the figures compared
    problems: list[str] = field(default_factory=list)  # the first few rows that break the rule


def _rows(sql: str, **tables: pa.Table) -> list[tuple]:
    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            connection.register(name, table)
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def silver_rows_match_tracks(detections: pa.Table, tracks: pa.Table) -> Outcome:
    """One silver row per distinct (video, confirmed track) of the detections, and no other."""
    missing = _rows(
        "SELECT DISTINCT video_key, track_id FROM d WHERE track_id IS NOT NULL "
        "EXCEPT SELECT video_key, track_id FROM t ORDER BY 1, 2",
        d=detections.select(["video_key", "track_id"]),
        t=tracks.select(["video_key", "track_id"]),
    )
    extra = _rows(
        "SELECT video_key, track_id FROM t EXCEPT "
        "SELECT video_key, track_id FROM d WHERE track_id IS NOT NULL ORDER BY 1, 2",
        d=detections.select(["video_key", "track_id"]),
        t=tracks.select(["video_key", "track_id"]),
    )
    repeated = _rows(
        "SELECT track_uid, count(*) FROM t GROUP BY 1 HAVING count(*) > 1 ORDER BY 1",
        t=tracks.select(["track_uid"]),
    )
    expected = _rows(
        "SELECT count(*) FROM (SELECT DISTINCT video_key, track_id FROM d WHERE track_id IS NOT NULL)",
        d=detections.select(["video_key", "track_id"]),
    )[0][0]
    problems = (
        [f"no silver row for {v}#{t}" for v, t in missing[:MAX_EXAMPLES]]
        + [f"silver row {v}#{t} has no confirmed detection in bronze" for v, t in extra[:MAX_EXAMPLES]]
        + [f"track_uid {uid} appears {n} times" for uid, n in repeated[:MAX_EXAMPLES]]
    )
    return Outcome(
        not (missing or extra or repeated),
        {"bronze_tracks": expected, "silver_rows": tracks.num_rows, "duplicates": len(repeated)},
        problems,
    )


def footfall_within_crossing_tracks(footfall: pa.Table, tracks: pa.Table) -> Outcome:
    """Per camera, line and direction, the day's footfall never exceeds the tracks that crossed."""
    rows = _rows(
        """
        WITH crossed AS (
            SELECT camera_id, c.line AS line, c.direction AS direction, count(DISTINCT track_uid) AS tracks
            FROM (SELECT camera_id, track_uid, unnest(crossings) AS c FROM t)
            GROUP BY ALL
        ), counted AS (
            SELECT camera_id, line, 'in' AS direction, sum(people_in) AS people FROM f GROUP BY ALL
            UNION ALL
            SELECT camera_id, line, 'out' AS direction, sum(people_out) AS people FROM f GROUP BY ALL
        )
        SELECT counted.camera_id, counted.line, counted.direction, counted.people, coalesce(crossed.tracks, 0)
        FROM counted LEFT JOIN crossed USING (camera_id, line, direction)
        ORDER BY 1, 2, 3
        """,
        f=footfall.select(["camera_id", "line", "people_in", "people_out"]),
        t=tracks.select(["camera_id", "track_uid", "crossings"]),
    )
    over = [r for r in rows if r[3] > r[4]]
    return Outcome(
        not over,
        {"footfall": int(sum(r[3] for r in rows)), "lines_checked": len({(r[0], r[1]) for r in rows})},
        [f"{c} {line} {d}: {people} people counted, {n} tracks crossed" for c, line, d, people, n in over][
            :MAX_EXAMPLES
        ],
    )


def occupancy_within_frame_counts(occupancy: pa.Table, silver_occupancy: pa.Table) -> Outcome:
    """Occupancy is never negative and, per camera, never above the most people silver counted in
    one frame of the camera's videos that day (its whole-frame zone '*', counted from bronze)."""
    rows = _rows(
        """
        WITH most AS (
            SELECT camera_id, max(people_max) AS most FROM s WHERE zone = '*' GROUP BY ALL
        )
        SELECT o.camera_id, o.zone, o.minute, o.mean_people, o.max_people, coalesce(most.most, 0)
        FROM o LEFT JOIN most USING (camera_id)
        WHERE o.mean_people < 0 OR o.max_people < 0 OR o.max_people > coalesce(most.most, 0)
           OR o.mean_people > o.max_people
        ORDER BY 1, 2, 3
        """,
        o=occupancy.select(["camera_id", "zone", "minute", "mean_people", "max_people"]),
        s=silver_occupancy.select(["camera_id", "zone", "people_max"]),
    )
    peak = _rows("SELECT coalesce(max(max_people), 0) FROM o", o=occupancy.select(["max_people"]))[0][0]
    return Outcome(
        not rows,
        {"rows": occupancy.num_rows, "peak_people": peak, "rows_out_of_bounds": len(rows)},
        [
            f"{c} zone {z} at {m}: mean {mean}, max {mx}, most people in one frame {most}"
            for c, z, m, mean, mx, most in rows[:MAX_EXAMPLES]
        ],
    )


def fall_frames_exist(alerts: pa.Table, client: Any) -> Outcome:
    """Every fall alert's `frame_uri` names an object that exists."""
    missing = []
    for uri in alerts.column("frame_uri").to_pylist():
        if not uri:
            missing.append("(empty frame_uri)")
            continue
        bucket, key = split_s3_uri(uri)
        if head_object_or_none(client, bucket, key) is None:
            missing.append(uri)
    return Outcome(
        not missing, {"alerts": alerts.num_rows, "frames_missing": len(missing)}, missing[:MAX_EXAMPLES]
    )
