"""Drawing a camera's lines and zones over one of its frames (what `geometry check` writes)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from retail_assets.analytics.geometry import CameraGeometry, CountingLine
from retail_assets.errors import InputError

LINE_COLOUR = (0, 215, 255)  # BGR: amber
ENTRANCE_COLOUR = (60, 60, 255)  # red
ZONE_COLOUR = (255, 160, 40)  # blue
ARROW_PX = 40


def blank_frame(camera: CameraGeometry) -> np.ndarray:
    """A mid-grey frame of the camera's declared size."""
    return np.full((camera.height, camera.width, 3), 96, dtype=np.uint8)


def video_frame(video: str | Path, camera: CameraGeometry, frame_index: int = 0) -> np.ndarray:
    """Frame `frame_index` of the video; InputError when unreadable or not the declared size."""
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise InputError(f"video {video}: cannot be opened")
        if frame_index:
            capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise InputError(f"video {video}: no frame could be read")
    height, width = frame.shape[:2]
    if (width, height) != (camera.width, camera.height):
        raise InputError(
            f"video {video} is {width}x{height} but camera {camera.camera_id} is declared "
            f"{camera.width}x{camera.height}: the geometry's pixels would not match"
        )
    return frame


def _in_normal(line: CountingLine) -> tuple[float, float]:
    """Unit vector from the line towards its "in" side (image coordinates, y down)."""
    dx, dy = line.end[0] - line.start[0], line.end[1] - line.start[1]
    length = math.hypot(dx, dy)
    # (dy, -dx) has cross product (d x n) = -(dx^2 + dy^2) < 0: the left side (see CountingLine.in_sign)
    nx, ny = dy / length, -dx / length
    return (nx, ny) if line.in_side == "left" else (-nx, -ny)


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    x = min(max(at[0], 2), image.shape[1] - 8 * len(text))
    y = min(max(at[1], 14), image.shape[0] - 4)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def draw_geometry(image: np.ndarray, camera: CameraGeometry) -> np.ndarray:
    """A copy of `image` with the zones (outlined, lightly filled) and the lines (with an arrow
    pointing to their "in" side, and their names) drawn on it."""
    out = image.copy()
    overlay = out.copy()
    for zone in camera.zones:
        points = np.array([[round(x), round(y)] for x, y in zone.polygon], dtype=np.int32)
        cv2.fillPoly(overlay, [points], ZONE_COLOUR)
    out = cv2.addWeighted(overlay, 0.25, out, 0.75, 0)
    for zone in camera.zones:
        points = np.array([[round(x), round(y)] for x, y in zone.polygon], dtype=np.int32)
        cv2.polylines(out, [points], True, ZONE_COLOUR, 2, cv2.LINE_AA)
        _label(
            out, f"zone {zone.name}", (int(points[:, 0].min()) + 4, int(points[:, 1].min()) + 16), ZONE_COLOUR
        )
    for line in camera.lines:
        colour = ENTRANCE_COLOUR if line.entrance else LINE_COLOUR
        start = (round(line.start[0]), round(line.start[1]))
        end = (round(line.end[0]), round(line.end[1]))
        cv2.line(out, start, end, colour, 3, cv2.LINE_AA)
        mid = ((line.start[0] + line.end[0]) / 2, (line.start[1] + line.end[1]) / 2)
        nx, ny = _in_normal(line)
        tip = (round(mid[0] + nx * ARROW_PX), round(mid[1] + ny * ARROW_PX))
        cv2.arrowedLine(out, (round(mid[0]), round(mid[1])), tip, colour, 2, cv2.LINE_AA, tipLength=0.3)
        _label(out, "in", (tip[0] + 4, tip[1] + 4), colour)
        name = f"{line.name}{' (entrance)' if line.entrance else ''}"
        _label(out, name, (start[0] + 6, start[1] + 16), colour)
    return out


def write_png(image: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise InputError(f"PNG {path}: could not be written")
    return path
