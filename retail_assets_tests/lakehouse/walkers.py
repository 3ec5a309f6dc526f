"""Synthetic people walking through the demo store's camera (`analytics/geometries/store-001.yaml`).

Each walker crosses both counting lines of cam-1 from left to right (x 100 -> 700 on y ~300,
through the `walkway-east` zone) at 10 frames per second; one of them lies fallen for a while.
The events are NDJSON v1 lines, as the detections step writes them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from retail_assets.analytics.detections import detections_from_ndjson_lines
from retail_assets.analytics.geometry import GeometryDocument, read_geometry_file
from retail_assets.analytics.silver import SilverTables, build_silver
from retail_assets.contracts.layout import parse_video_key
from retail_assets.contracts.store_day import StoreDay

GEOMETRY_FILE = (
    Path(__file__).resolve().parents[2] / "retail_assets" / "analytics" / "geometries" / "store-001.yaml"
)
STEPS = 60  # frames per walk: 6 seconds


def demo_geometry() -> GeometryDocument:
    return read_geometry_file(GEOMETRY_FILE)


def walker_lines(video: str, walkers: int, *, fallen_walker: int | None = None) -> list[str]:
    """NDJSON lines of `walkers` people (track ids 1..n) walking one after another in `video`."""
    store, camera = video.split("/")[:2]
    start = parse_video_key(video).start_time  # the time its name gives (UTC)
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


def video_of(store_day: StoreDay, number: int, camera: str = "cam-1") -> str:
    """The key of video `number` of the store-day (one every ten minutes from 09:00)."""
    hhmmss = f"{9 + number // 6:02d}{number % 6}000"
    return f"{store_day.store_id}/{camera}/{store_day.day.isoformat()}/{hhmmss}.mp4"


def walker_detections(store_day: StoreDay, numbers: list[int], walkers: int = 4):
    """Detections of the given videos of the store-day (walker 1 of each falls)."""
    import pyarrow as pa

    return pa.concat_tables(
        [
            detections_from_ndjson_lines(walker_lines(video, walkers, fallen_walker=1), video)
            for video in (video_of(store_day, n) for n in numbers)
        ]
    )


def silver_of_videos(store_day: StoreDay, videos: int, first: int = 0) -> SilverTables:
    """Silver of `videos` videos of walkers, computed with the demo store's geometry."""
    detections = walker_detections(store_day, list(range(first, first + videos)))
    return build_silver(detections, demo_geometry().for_day(store_day.day), store_day)
