"""People made unrecognisable in the images that leave the inference step (previews, alert frames).

The NDJSON events hold boxes, never pixels; the only pictures the pipeline hands on are the
preview frame (stored beside each NDJSON object and shown in Dagster's UI) and, later, alert
frames. `blur_regions` pixelates each person's box in such an image before boxes and track ids
are drawn on top, so a reader still sees where the people were but not who they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

# Cells along the longer side of a box. A face is about an eighth of a standing person's height,
# so it falls into roughly one cell: its colour survives, its features do not.
DEFAULT_CELLS = 8
MIN_CELL_PX = 2  # a box only a few pixels wide still loses its detail

# What the pipeline adds around each person's box, as a fraction of the box's width and height
# on each side: the tracker's filtered box can trail a walking person by a few pixels and a
# detector box can stop at the hairline, and a sliver of a face is enough to recognise someone.
PERSON_PAD = 0.1

Box = Sequence[float]  # x1, y1, x2, y2 in pixels


def pixel_bounds(box: Box, width: int, height: int, pad: float = 0.0) -> tuple[int, int, int, int] | None:
    """`box` grown by `pad` (a fraction of its size on each side), widened to whole pixels (floor
    of the start, ceiling of the end, so no part of the person stays sharp) and clipped to the
    frame, as (x1, y1, x2, y2) with exclusive ends; None when nothing of it is inside the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        return None
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    left = max(0, math.floor(x1 - dx))
    top = max(0, math.floor(y1 - dy))
    right = min(width, math.ceil(x2 + dx))
    bottom = min(height, math.ceil(y2 + dy))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def blur_regions(
    image: np.ndarray, boxes: Iterable[Box], *, pad: float = 0.0, cells: int = DEFAULT_CELLS
) -> np.ndarray:
    """A copy of `image` with every box pixelated; `image` itself is never modified.

    Each box (x1, y1, x2, y2 in pixels, as the events' `bbox`) is grown by `pad` (fraction of its
    size per side), widened to whole pixels and clipped to the frame; boxes wholly outside the
    frame, empty or not finite are ignored. Inside, the box is replaced by `cells` blocks along its
    longer side, each the mean colour of the pixels it covers. Averaging discards the detail for
    good, where a Gaussian blur of a fixed size could be partly undone (deconvolution) or be too
    weak on a person close to the camera; scaling the blocks to the box makes the result the same
    for a near and a far person. Every pixel outside the (grown) boxes is left exactly as it was.
    """
    if cells < 1:
        raise ValueError(f"cells must be at least 1, got {cells}")
    if pad < 0:
        raise ValueError(f"pad must not be negative, got {pad}")
    result = image.copy()
    height, width = image.shape[:2]
    for box in boxes:
        bounds = pixel_bounds(box, width, height, pad)
        if bounds is None:
            continue
        x1, y1, x2, y2 = bounds
        w, h = x2 - x1, y2 - y1
        cell = max(MIN_CELL_PX, math.ceil(max(w, h) / cells))
        region = result[y1:y2, x1:x2]
        small = cv2.resize(
            region, (max(1, math.ceil(w / cell)), max(1, math.ceil(h / cell))), interpolation=cv2.INTER_AREA
        )
        result[y1:y2, x1:x2] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).reshape(
            region.shape
        )
    return result
