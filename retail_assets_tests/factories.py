"""Builders of valid NDJSON v1 detection events for tests (deterministic ids, no randomness)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta


def video_key(store_id: str, camera_id: str, day: date, hhmmss: str = "090000") -> str:
    return f"{store_id}/{camera_id}/{day.isoformat()}/{hhmmss}.mp4"


def detection_event(
    store_id: str,
    camera_id: str,
    day: date,
    index: int,
    *,
    video: str | None = None,
    track_id: int | None = 1,
) -> dict:
    """Event number `index` of a video: 10 fps, two detections per frame."""
    video = video or video_key(store_id, camera_id, day)
    frame = index // 2
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    moment = start + timedelta(milliseconds=100 * frame)
    event_id = hashlib.sha256(f"{video}|{index}".encode()).hexdigest()[:32]
    return {
        "schema_version": 1,
        "event_id": event_id,
        "event_type": "detection",
        "store_id": store_id,
        "camera_id": camera_id,
        "video_uri": f"s3://videos/{video}",
        "video_etag": hashlib.md5(video.encode()).hexdigest(),
        "frame_index": frame,
        "pts_ms": 100.0 * frame,
        "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "track_id": track_id if track_id is None else track_id + index % 2,
        "class_id": 0,
        "label": "person",
        "confidence": round(0.5 + (index % 50) / 100, 2),
        "bbox": {"x1": 10.0 + index % 7, "y1": 20.5, "x2": 110.25, "y2": 320.0},
        "frame_w": 768,
        "frame_h": 576,
        "model": "best@0123456789ab",
        "tracker": "deepsort",
        "attributes": {"posture": "fallen"} if index % 97 == 0 else {},
    }


def ndjson_lines(
    store_id: str, camera_id: str, day: date, count: int, *, video: str | None = None
) -> list[bytes]:
    """`count` NDJSON lines (without terminators) of one video, as the detections stage writes them."""
    return [
        json.dumps(detection_event(store_id, camera_id, day, i, video=video), separators=(",", ":")).encode()
        for i in range(count)
    ]


def ndjson_bytes(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)
