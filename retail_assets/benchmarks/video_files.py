"""Video helpers the benchmarks need: a longer copy of a video, and a clip cut out of one.

Both write Motion JPEG .avi files: near lossless, and any OpenCV build writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from retail_assets.errors import InputError, SetupError


class _MjpegWriter:
    """Opens the file at the first frame (whose size it takes) and counts what it wrote."""

    def __init__(self, out: Path, fps: float, quality: int | None = None) -> None:
        self.out, self.fps, self.quality = out, fps, quality
        self.written = 0
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            self._writer = cv2.VideoWriter(
                str(self.out), cv2.VideoWriter_fourcc(*"MJPG"), self.fps, (width, height)
            )
            if not self._writer.isOpened():
                raise SetupError(f"OpenCV cannot write {self.out} (Motion JPEG)")
            if self.quality is not None:
                self._writer.set(cv2.VIDEOWRITER_PROP_QUALITY, self.quality)
        self._writer.write(frame)
        self.written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _open(source: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise InputError(f"video {source}: OpenCV cannot open it")
    return capture


def _frames(capture: cv2.VideoCapture, limit: int | None = None) -> Iterator[np.ndarray]:
    count = 0
    while limit is None or count < limit:
        ok, frame = capture.read()
        if not ok:
            return
        count += 1
        yield frame


def concatenate_video(source: Path, times: int, out: Path) -> Path:
    """`source` played `times` times in a row, written to `out` with an .avi suffix."""
    out = out.with_suffix(".avi")
    capture = _open(source)
    writer = _MjpegWriter(out, float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0, quality=95)
    try:
        for repetition in range(times):
            if repetition:  # reopen rather than seek: seeking is unreliable in some containers
                capture.release()
                capture = _open(source)
            for frame in _frames(capture):
                writer.write(frame)
    finally:
        capture.release()
        writer.close()
    if writer.written == 0:
        raise InputError(f"video {source}: no frame could be decoded")
    return out


def cut_clip(source: Path, first_frame: int, frames: int, out: Path) -> Path:
    """Frames [first_frame, first_frame + frames) of `source` (clips cut at different offsets have
    different bytes, so each is a video of its own)."""
    capture = _open(source)
    writer = _MjpegWriter(out, float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 10.0)
    capture.set(cv2.CAP_PROP_POS_FRAMES, first_frame)
    try:
        for frame in _frames(capture, frames):
            writer.write(frame)
    finally:
        capture.release()
        writer.close()
    if writer.written == 0:
        raise InputError(f"video {source}: no frame at {first_frame} or after could be decoded")
    return out
