"""Video helpers the benchmarks need: a longer copy of a video, and a clip cut out of one."""

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


def cut_clip(source: Path, first_frame: int, frames: int, out: Path) -> Path:
    """Frames [first_frame, first_frame + frames) of `source` as a Motion JPEG .avi (clips cut at
    different offsets have different bytes, so each is a video of its own)."""
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise InputError(f"video {source}: OpenCV cannot open it")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 10.0
    capture.set(cv2.CAP_PROP_POS_FRAMES, first_frame)
    writer = None
    written = 0
    try:
        while written < frames:
            ok, frame = capture.read()
            if not ok:
                break
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
                if not writer.isOpened():
                    raise SetupError(f"OpenCV cannot write {out} (Motion JPEG)")
            writer.write(frame)
            written += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if written == 0:
        raise InputError(f"video {source}: no frame at {first_frame} or after could be decoded")
    return out
