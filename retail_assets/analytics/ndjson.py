"""NDJSON detection files (what `retail-assets ingest` writes) as analytics detections."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from retail_assets.analytics.detections import detections_from_ndjson_lines
from retail_assets.errors import InputError


def detections_from_ndjson_file(path: str | Path, video_key: str | None = None) -> pa.Table:
    """Every event of the file as detections of one video (`video_key` defaults to the file name)."""
    path = Path(path)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"detections {path}: cannot be read ({exc})") from None
    return detections_from_ndjson_lines(lines, video_key or path.name)


def seconds_per_frame(detections: pa.Table, default: float = 0.1) -> float:
    """Video seconds per frame index, from the first and last frame the detections hold."""
    if detections.num_rows == 0:
        return default
    first, last = pc.min_max(detections.column("frame_index")).values()
    if first.as_py() == last.as_py():
        return default
    times = pc.min_max(detections.column("ts").cast(pa.int64()))
    span_us = times["max"].as_py() - times["min"].as_py()
    return span_us / 1_000_000 / (last.as_py() - first.as_py())
