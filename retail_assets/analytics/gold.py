"""Silver -> gold: the answers a store asks for, recomputed per store-day from its silver rows.

Each table is one SQL file in `sql/` (`gold_<table>.sql`), written in SQL that Trino or Spark can
run over the same Iceberg tables (exceptions: the `UNNEST ... AS u(c)` spelling and the list of
structs in `gold_store_daily`, see docs/analytics.md). Gold reads silver only, so its cost follows
the day's tracks, not its detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from retail_assets.analytics.detections import UTC_US
from retail_assets.analytics.geometry import StoreGeometry
from retail_assets.analytics.silver import SILVER_OCCUPANCY_SCHEMA, SILVER_TRACKS_SCHEMA
from retail_assets.analytics.sql_files import connect, fetch, sql_text
from retail_assets.contracts.falls import FALL_FRAMES_PREFIX
from retail_assets.contracts.store_day import StoreDay

GOLD_FOOTFALL_HOURLY_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("line", pa.string()),
        ("hour", UTC_US),
        ("people_in", pa.int64()),
        ("people_out", pa.int64()),
    ]
)
GOLD_OCCUPANCY_MINUTELY_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("zone", pa.string()),  # "*" = the whole frame
        ("minute", UTC_US),
        ("mean_people", pa.float64()),
        ("max_people", pa.int64()),
        ("frames", pa.int64()),
    ]
)
GOLD_DWELL_HOURLY_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("zone", pa.string()),
        ("hour", UTC_US),  # hour of the visit's start
        ("visits", pa.int64()),
        ("median_seconds", pa.float64()),
        ("p90_seconds", pa.float64()),
    ]
)
GOLD_FALL_ALERTS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("event_date", pa.date32()),
        ("video_key", pa.string()),
        ("track_uid", pa.string()),
        ("start_ts", UTC_US),
        ("seconds", pa.float64()),
        ("confidence", pa.float64()),
        ("start_event_id", pa.string()),
        ("frame_uri", pa.string()),
    ]
)
ZONE_DWELL = pa.struct(
    [
        ("camera_id", pa.string()),
        ("zone", pa.string()),
        ("visits", pa.int64()),
        ("median_seconds", pa.float64()),
    ]
)
GOLD_STORE_DAILY_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("event_date", pa.date32()),
        ("tracks", pa.int64()),
        ("visitors_in", pa.int64()),  # crossings into the store over entrance lines
        ("visitors_out", pa.int64()),
        ("peak_occupancy", pa.int64()),  # most people at once (cameras summed per minute)
        ("peak_minute", UTC_US),  # first minute with the peak; null without frames
        ("median_dwell", pa.list_(ZONE_DWELL)),  # per camera and zone, over the day
        ("falls", pa.int64()),
    ]
)

GOLD_SCHEMAS: dict[str, pa.Schema] = {
    "gold_footfall_hourly": GOLD_FOOTFALL_HOURLY_SCHEMA,
    "gold_occupancy_minutely": GOLD_OCCUPANCY_MINUTELY_SCHEMA,
    "gold_dwell_hourly": GOLD_DWELL_HOURLY_SCHEMA,
    "gold_fall_alerts": GOLD_FALL_ALERTS_SCHEMA,
    "gold_store_daily": GOLD_STORE_DAILY_SCHEMA,
}
ENTRANCE_LINES_SCHEMA = pa.schema([("camera_id", pa.string()), ("line", pa.string())])


@dataclass(frozen=True)
class GoldTables:
    footfall_hourly: pa.Table
    occupancy_minutely: pa.Table
    dwell_hourly: pa.Table
    fall_alerts: pa.Table
    store_daily: pa.Table

    def by_table_name(self) -> dict[str, pa.Table]:
        """`gold_<field>` -> table, the keys of GOLD_SCHEMAS."""
        return {f"gold_{name}": getattr(self, name) for name in self.__dataclass_fields__}


def fall_frame_uri_prefix(frames_bucket: str) -> str:
    """`s3://<bucket>/_fall_frames/`: + `<video_key>/<event_id>.jpg` is `fall_frame_key`'s URI."""
    return f"s3://{frames_bucket}/{FALL_FRAMES_PREFIX}/"


def entrance_lines(geometry: StoreGeometry | None) -> pa.Table:
    rows = [
        {"camera_id": camera.camera_id, "line": line.name}
        for camera in (geometry.cameras.values() if geometry else ())
        for line in camera.lines
        if line.entrance
    ]
    return pa.Table.from_pylist(rows, ENTRANCE_LINES_SCHEMA)


def build_gold(
    tracks: pa.Table,
    occupancy: pa.Table,
    store_day: StoreDay,
    geometry: StoreGeometry | None,
    frames_bucket: str,
) -> GoldTables:
    """The five gold tables of one store-day from its silver rows (all videos of the day)."""
    params = {
        "store_id": store_day.store_id,
        "event_date": store_day.day.isoformat() if isinstance(store_day.day, date) else str(store_day.day),
        "frame_prefix": fall_frame_uri_prefix(frames_bucket),
    }
    con = connect()
    try:
        con.register("silver_tracks", tracks.select(SILVER_TRACKS_SCHEMA.names).cast(SILVER_TRACKS_SCHEMA))
        con.register(
            "silver_occupancy", occupancy.select(SILVER_OCCUPANCY_SCHEMA.names).cast(SILVER_OCCUPANCY_SCHEMA)
        )
        con.register("entrance_lines", entrance_lines(geometry))
        out: dict[str, pa.Table] = {}
        for name in (
            "gold_footfall_hourly",
            "gold_occupancy_minutely",
            "gold_dwell_hourly",
            "gold_fall_alerts",
        ):
            out[name] = fetch(con, sql_text(f"{name}.sql"), GOLD_SCHEMAS[name], params)
        con.register("gold_occupancy_minutely", out["gold_occupancy_minutely"])
        out["gold_store_daily"] = fetch(
            con, sql_text("gold_store_daily.sql"), GOLD_STORE_DAILY_SCHEMA, params
        )
    finally:
        con.close()
    return GoldTables(**{name[len("gold_") :]: table for name, table in out.items()})
