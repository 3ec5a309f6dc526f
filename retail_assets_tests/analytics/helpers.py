"""Synthetic tracks as detections: each point is a person's feet (the anchor) in one frame."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from retail_assets.analytics.detections import DETECTIONS_SCHEMA
from retail_assets.analytics.geometry import CameraGeometry, CountingLine, StoreGeometry, Zone

DAY = date(2026, 3, 2)
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VIDEO = "s1/cam-1/2026-03-02/100000.mp4"

# A door line down the middle of a 200x100 frame: start at the top, so "left" (in) is x > 100.
DOOR = CountingLine("door", (100.0, 0.0), (100.0, 100.0), "left", entrance=True)
COUNTER = Zone("counter", ((10.0, 10.0), (60.0, 10.0), (60.0, 60.0), (10.0, 60.0)))
GEOMETRY = StoreGeometry(
    store_id="s1",
    valid_from=date(2026, 1, 1),
    cameras={"cam-1": CameraGeometry("cam-1", 200, 100, (DOOR,), (COUNTER,))},
)


def track_rows(
    track_id: int | None,
    feet: list[tuple[float, float]],
    first_frame: int = 0,
    fps: float = 10.0,
    fallen: list[bool] | None = None,
    camera_id: str = "cam-1",
    video_key: str = VIDEO,
) -> list[dict]:
    rows = []
    for i, (x, y) in enumerate(feet):
        frame = first_frame + i
        rows.append(
            {
                "store_id": "s1",
                "camera_id": camera_id,
                "video_key": video_key,
                "event_id": f"{video_key}-{track_id}-{frame}",
                "track_id": track_id,
                "frame_index": frame,
                "ts": START + timedelta(seconds=frame / fps),
                "x1": x - 10.0,
                "y1": y - 40.0,
                "x2": x + 10.0,
                "y2": y,
                "frame_w": 200,
                "frame_h": 100,
                "confidence": 0.8,
                "fallen": bool(fallen[i]) if fallen else False,
            }
        )
    return rows


def detections(*tracks: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([row for rows in tracks for row in rows], DETECTIONS_SCHEMA)


def walk(x0: float, x1: float, steps: int, y: float = 50.0) -> list[tuple[float, float]]:
    return [(x0 + (x1 - x0) * i / (steps - 1), y) for i in range(steps)]
