"""Video helpers the benchmark needs: a longer copy of a video, and which frames get processed."""

from __future__ import annotations

from pathlib import Path

import cv2

from retail_assets.errors import InputError, SetupError


def concatenate_video(source: Path, times: int, out: Path) -> Path:
    """`source` played `times` times in a row, written to `out` (Motion JPEG: near lossless, any OpenCV build writes it)."""
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise InputError(f"video {source}: OpenCV cannot open it")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
    written = 0
    writer = None
    try:
        for repetition in range(times):
            if repetition:  # reopen rather than seek: seeking is unreliable in some containers
                capture.release()
                capture = cv2.VideoCapture(str(source))
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                if writer is None:
                    height, width = frame.shape[:2]
                    out = out.with_suffix(".avi")
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
                    if not writer.isOpened():
                        raise SetupError(f"OpenCV cannot write {out} (Motion JPEG)")
                    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
                writer.write(frame)
                written += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if written == 0:
        raise InputError(f"video {source}: no frame could be decoded")
    return out
