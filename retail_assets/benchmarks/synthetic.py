"""What the streaming benchmarks share: synthetic NDJSON of a benchmark store-day, and a stack.

`make_lines` builds valid v1 detection events of one video, deterministic per video key, so two
videos never share an event id. `environment_stack` uses the stack that the environment names
(`eval "$(retail-assets stack env)"`) or starts a throw-away embedded one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from retail_assets.contracts.store_day import StoreDay

DAY = date(2026, 11, 28)
STORE = "store-bench"
STORE_DAY = StoreDay(DAY, STORE)
DEFAULT_CAMERA = "cam-01"
DEFAULT_START = time(9, 0, 0)


def video_key(camera: str = DEFAULT_CAMERA, start: time = DEFAULT_START) -> str:
    """`<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.mp4` of the benchmark store-day."""
    return f"{STORE}/{camera}/{DAY.isoformat()}/{start.strftime('%H%M%S')}.mp4"


def make_lines(count: int, camera: str = DEFAULT_CAMERA, start: time = DEFAULT_START) -> list[bytes]:
    """`count` valid NDJSON v1 lines of the video `video_key(camera, start)`, deterministic
    (about 560 bytes each); event ids hash the video key, so they are distinct across videos."""
    video = video_key(camera, start)
    started = datetime.combine(DAY, start, UTC)
    lines = []
    for i in range(count):
        frame = i // 4
        event = {
            "schema_version": 1,
            "event_id": hashlib.blake2b(f"{video}|{i}".encode(), digest_size=16).hexdigest(),
            "event_type": "detection",
            "store_id": STORE,
            "camera_id": camera,
            "video_uri": f"s3://videos/{video}",
            "video_etag": "9b2cf535f27731c974343645a3985328",
            "frame_index": frame,
            "pts_ms": 40.0 * frame,
            "ts": (started + timedelta(milliseconds=40 * frame))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "track_id": i % 4 + 1,
            "class_id": 0,
            "label": "person",
            "confidence": round(0.4 + (i % 60) / 100, 2),
            "bbox": {"x1": 100.5 + i % 300, "y1": 80.25, "x2": 160.0 + i % 300, "y2": 240.75},
            "frame_w": 768,
            "frame_h": 576,
            "model": "best@0123456789ab",
            "tracker": "deepsort",
            "attributes": {},
        }
        lines.append(json.dumps(event, separators=(",", ":")).encode())
    return lines


@contextmanager
def environment_stack() -> Iterator[tuple[str, list[int]]]:
    """The configured stack, or a temporary embedded one; yields a description and service pids."""
    if os.environ.get("PULSAR_SERVICE_URL") and os.environ.get("PYICEBERG_CATALOG__LAKEHOUSE__URI"):
        yield "stack from the environment", []
        return
    from retail_assets.stack import EmbeddedStack

    with tempfile.TemporaryDirectory(prefix="rva-bench-") as root:
        stack = EmbeddedStack(Path(root))
        stack.up()
        saved = dict(os.environ)
        os.environ.update(stack.env())
        services = json.loads(stack.state_path.read_text())["services"]
        try:
            yield "temporary embedded stack", [rec["pid"] for rec in services.values() if rec.get("pid")]
        finally:
            os.environ.clear()
            os.environ.update(saved)
            stack.down(purge=True)
