"""Boxes, track ids and fps drawn on a frame: for the live window and the preview image."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from retail_assets.vision.tracker import TrackedDetection

_FALLEN = (0, 0, 255)
_UPRIGHT = (0, 200, 0)


def _colour(item: TrackedDetection) -> tuple[int, int, int]:
    return _FALLEN if item.detection.attributes.get("posture") == "fallen" else _UPRIGHT


def annotate(image: np.ndarray, tracked: Sequence[TrackedDetection], fps: float | None = None) -> np.ndarray:
    """A copy of `image` with each box and its track id (or score when untracked)."""
    canvas = image.copy()
    for item in tracked:
        x1, y1, x2, y2 = (round(v) for v in item.box)
        colour = _colour(item)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
        text = f"#{item.track_id}" if item.track_id is not None else f"{item.detection.confidence:.2f}"
        if item.detection.attributes.get("posture") == "fallen":
            text += " fallen"
        cv2.putText(
            canvas, text, (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA
        )
    if fps is not None:
        cv2.putText(
            canvas, f"{fps:.1f} fps", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA
        )
    return canvas


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
