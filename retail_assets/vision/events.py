"""Schema v1 detection events and the NDJSON file they stream into.

Event ids are deterministic: a hash of the video's identity (URI + etag), the model and config
fingerprints, the frame index and the detection's place in that frame. Re-processing the same
bytes with the same settings gives the same ids, which downstream deduplication relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from retail_assets.contracts.events import SCHEMA_VERSION


def event_id(video_uri: str, video_etag: str, model: str, config_fingerprint: str, frame_index: int, detection_index: int, track_id: int | None) -> str:  # fmt: skip
    key = "|".join(
        [
            video_uri,
            video_etag,
            model,
            config_fingerprint,
            str(frame_index),
            str(detection_index),
            str(track_id),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def iso_utc(moment: datetime) -> str:
    """`2026-11-28T09:00:00.100Z`: UTC, millisecond precision, always the same shape."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class EventBuilder:
    """Builds the v1 event dicts of one video."""

    def __init__(
        self,
        *,
        store_id: str,
        camera_id: str,
        start_time: datetime,
        video_uri: str,
        video_etag: str,
        model: str,
        tracker: str,
        config_fingerprint: str,
        frame_w: int,
        frame_h: int,
    ) -> None:
        if start_time.tzinfo is None or start_time.utcoffset() != timedelta(0):
            raise ValueError(f"start_time must be timezone-aware UTC, got {start_time!r}")
        self._common = {
            "store_id": store_id,
            "camera_id": camera_id,
            "video_uri": video_uri,
            "video_etag": video_etag,
        }
        self._start = start_time
        self._model = model
        self._tracker = tracker
        self._config = config_fingerprint
        self._size = (frame_w, frame_h)

    def build(
        self,
        *,
        frame_index: int,
        pts_ms: float,
        detection_index: int,
        track_id: int | None,
        class_id: int,
        label: str,
        confidence: float,
        box: tuple[float, float, float, float],
        attributes: dict[str, Any],
    ) -> dict[str, Any]:
        x1, y1, x2, y2 = box
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id(
                self._common["video_uri"],
                self._common["video_etag"],
                self._model,
                self._config,
                frame_index,
                detection_index,
                track_id,
            ),
            "event_type": "detection",
            **self._common,
            "frame_index": frame_index,
            "pts_ms": round(pts_ms, 3),
            "ts": iso_utc(self._start + timedelta(milliseconds=pts_ms)),
            "track_id": track_id,
            "class_id": class_id,
            "label": label,
            "confidence": round(min(max(confidence, 0.0), 1.0), 4),
            "bbox": {"x1": round(x1, 2), "y1": round(y1, 2), "x2": round(x2, 2), "y2": round(y2, 2)},
            "frame_w": self._size[0],
            "frame_h": self._size[1],
            "model": self._model,
            "tracker": self._tracker,
            "attributes": attributes,
        }


def dumps_event(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class AtomicNdjsonWriter:
    """Streams NDJSON lines into a hidden file beside `out`, renamed into place on commit.

    Until `commit()` nothing exists at `out` that was not there before; on an error (or without
    a commit) the partial file is deleted. A reader therefore never sees half a result.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.partial = self.out.with_name(f".{self.out.name}.{os.getpid()}.partial")
        self.lines = 0
        self._handle: IO[str] | None = None

    def __enter__(self) -> AtomicNdjsonWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.partial.open("w", encoding="utf-8", newline="\n")
        return self

    def write(self, event: dict[str, Any]) -> None:
        assert self._handle is not None, "use AtomicNdjsonWriter as a context manager"
        self._handle.write(dumps_event(event) + "\n")
        self.lines += 1

    def commit(self) -> None:
        assert self._handle is not None, "use AtomicNdjsonWriter as a context manager"
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        os.replace(self.partial, self.out)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()
