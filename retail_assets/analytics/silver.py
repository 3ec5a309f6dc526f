"""Detections -> silver: one row per confirmed track per video, and occupancy per zone per minute.

Computed columnar on an in-process DuckDB (`sql/silver.sql`, `sql/silver_tracks.sql`,
`sql/silver_occupancy.sql`); the rules are `rules.Rules`. Silver is per video: a new video's rows
depend on that video's detections only, so its work does not grow with the videos of its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from retail_assets.analytics.detections import DETECTIONS_SCHEMA, UTC_US
from retail_assets.analytics.geometry import StoreGeometry
from retail_assets.analytics.rules import DEFAULT_RULES, Rules
from retail_assets.analytics.sql_files import connect, fetch, run_file, sql_text
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError

PATH_POINT = pa.struct([("ts", UTC_US), ("x", pa.float64()), ("y", pa.float64())])
CROSSING = pa.struct([("line", pa.string()), ("direction", pa.string()), ("ts", UTC_US)])
ZONE_VISIT = pa.struct(
    [("zone", pa.string()), ("enter_ts", UTC_US), ("exit_ts", UTC_US), ("seconds", pa.float64())]
)
FALL = pa.struct(
    [
        ("start_ts", UTC_US),
        ("end_ts", UTC_US),
        ("seconds", pa.float64()),
        ("confidence", pa.float64()),
        ("start_event_id", pa.string()),
        ("start_frame_index", pa.int64()),
    ]
)

SILVER_TRACKS_SCHEMA = pa.schema(
    [
        ("track_uid", pa.string()),  # "<video_key>#<track_id>"
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("video_key", pa.string()),
        ("track_id", pa.int64()),
        ("first_ts", UTC_US),
        ("last_ts", UTC_US),
        ("seconds_seen", pa.float64()),
        ("detections", pa.int64()),
        ("entry_x", pa.float64()),
        ("entry_y", pa.float64()),
        ("exit_x", pa.float64()),
        ("exit_y", pa.float64()),
        ("path_length_px", pa.float64()),
        ("path", pa.list_(PATH_POINT)),
        ("crossings", pa.list_(CROSSING)),
        ("zone_visits", pa.list_(ZONE_VISIT)),
        ("fallen_seconds", pa.float64()),
        ("falls", pa.list_(FALL)),
        ("geometry_version", pa.string()),  # valid_from of the geometry used, "" when none
    ]
)

SILVER_OCCUPANCY_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("video_key", pa.string()),
        ("zone", pa.string()),  # "*" = the whole frame
        ("minute", UTC_US),
        ("frames", pa.int64()),
        ("people_sum", pa.int64()),
        ("people_max", pa.int64()),
    ]
)

LINES_SCHEMA = pa.schema(
    [
        ("camera_id", pa.string()),
        ("line", pa.string()),
        ("sx", pa.float64()),
        ("sy", pa.float64()),
        ("ex", pa.float64()),
        ("ey", pa.float64()),
        ("len", pa.float64()),
        ("len2", pa.float64()),
        ("in_sign", pa.float64()),
        ("margin_t", pa.float64()),
    ]
)
ZONES_SCHEMA = pa.schema(
    [
        ("camera_id", pa.string()),
        ("zone", pa.string()),
        ("min_x", pa.float64()),
        ("min_y", pa.float64()),
        ("max_x", pa.float64()),
        ("max_y", pa.float64()),
    ]
)
EDGES_SCHEMA = pa.schema(
    [
        ("camera_id", pa.string()),
        ("zone", pa.string()),
        ("ax", pa.float64()),
        ("ay", pa.float64()),
        ("bx", pa.float64()),
        ("by", pa.float64()),
    ]
)


@dataclass(frozen=True)
class SilverTables:
    tracks: pa.Table  # SILVER_TRACKS_SCHEMA
    occupancy: pa.Table  # SILVER_OCCUPANCY_SCHEMA


def _event_date(store_day: StoreDay | date) -> date:
    return store_day.day if isinstance(store_day, StoreDay) else store_day


def geometry_tables(geometry: StoreGeometry | None, rules: Rules) -> dict[str, pa.Table]:
    """The geometry as three small tables the SQL joins on camera_id (lines, zones, zone edges)."""
    lines: list[dict] = []
    zones: list[dict] = []
    edges: list[dict] = []
    for camera in geometry.cameras.values() if geometry else ():
        for line in camera.lines:
            (sx, sy), (ex, ey) = line.start, line.end
            len2 = (ex - sx) * (ex - sx) + (ey - sy) * (ey - sy)
            length = len2**0.5
            lines.append(
                {
                    "camera_id": camera.camera_id,
                    "line": line.name,
                    "sx": sx,
                    "sy": sy,
                    "ex": ex,
                    "ey": ey,
                    "len": length,
                    "len2": len2,
                    "in_sign": float(line.in_sign),
                    "margin_t": rules.line_margin_px / length,
                }
            )
        for zone in camera.zones:
            xs = [p[0] for p in zone.polygon]
            ys = [p[1] for p in zone.polygon]
            zones.append(
                {
                    "camera_id": camera.camera_id,
                    "zone": zone.name,
                    "min_x": min(xs),
                    "min_y": min(ys),
                    "max_x": max(xs),
                    "max_y": max(ys),
                }
            )
            n = len(zone.polygon)
            for i in range(n):
                (ax, ay), (bx, by) = zone.polygon[i], zone.polygon[(i + 1) % n]
                edges.append(
                    {"camera_id": camera.camera_id, "zone": zone.name, "ax": ax, "ay": ay, "bx": bx, "by": by}
                )
    return {
        "lines_geo": pa.Table.from_pylist(lines, LINES_SCHEMA),
        "zones_geo": pa.Table.from_pylist(zones, ZONES_SCHEMA),
        "zone_edges": pa.Table.from_pylist(edges, EDGES_SCHEMA),
    }


def rule_parameters(rules: Rules) -> dict[str, object]:
    return {
        "k": rules.confirm_observations,
        "d": rules.confirm_distance_px,
        "dead_band": rules.dead_band_px,
        "grace_us": rules.zone_grace_us,
        "min_visit_s": rules.min_visit_s,
        "path_step_us": rules.path_step_us,
        "fall_gap_us": rules.fall_gap_us,
    }


def _with_integer_ids(detections: pa.Table) -> dict[str, pa.Table]:
    """The detections plus `vid` and `cam`, dense integer ids of video_key and camera_id (the SQL
    partitions and joins on integers, not strings), and the tables naming them."""
    table = detections.select(DETECTIONS_SCHEMA.names).cast(DETECTIONS_SCHEMA).combine_chunks()
    video = pc.dictionary_encode(table.column("video_key")).combine_chunks()
    camera = pc.dictionary_encode(table.column("camera_id")).combine_chunks()
    table = table.append_column("vid", video.indices).append_column("cam", camera.indices)
    # each video's store and camera: those of its first row
    grouped = (
        table.select(["vid", "store_id", "camera_id"])
        .group_by("vid", use_threads=False)
        .aggregate([("store_id", "first"), ("camera_id", "first")])
    )
    videos = pa.table(
        {
            "vid": grouped.column("vid"),
            "video_key": pc.take(video.dictionary, grouped.column("vid")),
            "store_id": grouped.column("store_id_first"),
            "camera_id": grouped.column("camera_id_first"),
        }
    )
    cameras = pa.table(
        {"cam": pa.array(range(len(camera.dictionary)), camera.indices.type), "camera_id": camera.dictionary}
    )
    return {"detections": table, "videos": videos, "cameras": cameras}


def build_silver(
    detections: pa.Table,
    geometry: StoreGeometry | None,
    store_day: StoreDay | date,
    rules: Rules = DEFAULT_RULES,
) -> SilverTables:
    """Silver tracks and occupancy of the detections (any number of videos of one store-day).

    `geometry` is the store's version for the day (`GeometryDocument.for_day`); None (or a camera
    it does not describe) gives tracks without crossings or visits and whole-frame occupancy only.
    `store_day` gives `event_date` (the partition's day)."""
    missing = [name for name in DETECTIONS_SCHEMA.names if name not in detections.column_names]
    if missing:
        raise InputError(f"detections lack column(s) {', '.join(missing)}")
    params = {
        **rule_parameters(rules),
        "event_date": _event_date(store_day).isoformat(),
        "geometry_version": geometry.version if geometry else "",
    }
    con = connect()
    try:
        for name, table in _with_integer_ids(detections).items():
            con.register(name, table)
        for name, table in geometry_tables(geometry, rules).items():
            con.register(name, table)
        run_file(con, "silver.sql", params)
        tracks = fetch(con, sql_text("silver_tracks.sql"), SILVER_TRACKS_SCHEMA, params)
        occupancy = fetch(con, sql_text("silver_occupancy.sql"), SILVER_OCCUPANCY_SCHEMA, params)
    finally:
        con.close()
    return SilverTables(tracks=tracks, occupancy=occupancy)
