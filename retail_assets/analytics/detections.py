"""Bronze rows -> detections: one row per person per processed frame, the analytics' input.

The payload JSON is parsed columnar in DuckDB (`sql/detections.sql`), not line by line in Python.
Ground truth (evaluation) and the benchmark's synthetic store-day produce the same columns.
"""

from __future__ import annotations

import pyarrow as pa

from retail_assets.analytics.sql_files import connect, fetch, sql_text
from retail_assets.errors import InputError

UTC_US = pa.timestamp("us", tz="UTC")

DETECTIONS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("video_key", pa.string()),
        ("event_id", pa.string()),
        ("track_id", pa.int64()),  # null: unconfirmed track (never counted)
        ("frame_index", pa.int64()),
        ("ts", UTC_US),
        ("x1", pa.float64()),
        ("y1", pa.float64()),
        ("x2", pa.float64()),
        ("y2", pa.float64()),
        ("frame_w", pa.int32()),
        ("frame_h", pa.int32()),
        ("confidence", pa.float64()),
        ("fallen", pa.bool_()),  # attributes.posture == "fallen"
    ]
)

BRONZE_COLUMNS = ("payload", "video_key", "event_id")


def detections_from_bronze(bronze: pa.Table) -> pa.Table:
    """Bronze rows (at least `payload`, `video_key`, `event_id`) -> DETECTIONS_SCHEMA rows."""
    missing = [c for c in BRONZE_COLUMNS if c not in bronze.column_names]
    if missing:
        raise InputError(f"bronze rows lack column(s) {', '.join(missing)}")
    con = connect()
    try:
        con.register("bronze", bronze.select(list(BRONZE_COLUMNS)))
        return fetch(con, sql_text("detections.sql"), DETECTIONS_SCHEMA)
    finally:
        con.close()


def detections_from_ndjson_lines(lines: list[str], video_key: str) -> pa.Table:
    """NDJSON v1 lines of one video (what bronze carries as payloads) -> detections."""
    import json

    event_ids = []
    for number, line in enumerate(lines, start=1):
        try:
            event_ids.append(str(json.loads(line)["event_id"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"detections of {video_key}, line {number}: not a v1 event ({exc})") from None
    table = pa.table(
        {
            "payload": pa.array(lines, pa.string()),
            "video_key": pa.array([video_key] * len(lines), pa.string()),
            "event_id": pa.array(event_ids, pa.string()),
        }
    )
    return detections_from_bronze(table)
