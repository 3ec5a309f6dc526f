"""Synthetic people walking through the demo store's camera (`analytics/geometries/store-001.yaml`).

Each walker crosses both counting lines of cam-1 from left to right (x 100 -> 700 on y ~300,
through the `walkway-east` zone) at 10 frames per second; one of them lies fallen for a while.
The events are NDJSON v1 lines, as the detections step writes them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from retail_assets.analytics.geometry import GeometryDocument, read_geometry_file

GEOMETRY_FILE = (
    Path(__file__).resolve().parents[2] / "retail_assets" / "analytics" / "geometries" / "store-001.yaml"
)
STEPS = 60  # frames per walk: 6 seconds


def demo_geometry() -> GeometryDocument:
    return read_geometry_file(GEOMETRY_FILE)


def walker_lines(video: str, day: date, walkers: int, *, fallen_walker: int | None = None) -> list[str]:
    """NDJSON lines of `walkers` people (track ids 1..n) walking one after another in `video`."""
    store, camera = video.split("/")[:2]
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    lines = []
    for walker in range(walkers):
        for step in range(STEPS):
            frame = walker * 20 + step  # people overlap in time: several in the frame at once
            x = 100 + step * 10
            y = 300 + walker * 8
            fallen = walker == fallen_walker and 30 <= step < 40
            moment = start + timedelta(milliseconds=100 * frame)
            event = {
                "schema_version": 1,
                "event_id": hashlib.sha256(f"{video}|{walker}|{step}".encode()).hexdigest()[:32],
                "event_type": "detection",
                "store_id": store,
                "camera_id": camera,
                "video_uri": f"s3://videos/{video}",
                "video_etag": hashlib.md5(video.encode()).hexdigest(),
                "frame_index": frame,
                "pts_ms": 100.0 * frame,
                "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "track_id": walker + 1,
                "class_id": 0,
                "label": "person",
                "confidence": 0.9,
                "bbox": {"x1": x - 20.0, "y1": y - 120.0, "x2": x + 20.0, "y2": float(y)},
                "frame_w": 768,
                "frame_h": 576,
                "model": "best@0123456789ab",
                "tracker": "deepsort",
                "attributes": {"posture": "fallen"} if fallen else {},
            }
            lines.append(json.dumps(event, separators=(",", ":")))
    return lines
