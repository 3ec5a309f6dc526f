"""Checks that a stored preview JPEG hides the people of its source frame and keeps the rest.

Used by the vision test (the pipeline on the real video) and the Dagster test (the stored
object). A preview is JPEG-encoded, so nothing is compared exactly: the background is held to a
small mean difference, people to the loss of their fine detail, which pixelation removes and
JPEG re-encoding keeps. On PETS09 at quality 85, re-encoding alone leaves a mean difference of
about 3.5 (the largest of the three channels) and a detail correlation above 0.98 inside a box;
pixelation gives a mean difference of 28-53 and a correlation near 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from retail_assets.vision.privacy import PERSON_PAD, pixel_bounds

JPEG_MEAN_DIFF = 5.0  # above what re-encoding alone leaves
BLUR_MEAN_DIFF = 10.0  # below what pixelating a person leaves
BLUR_MAX_CORRELATION = 0.35

# Beyond a box: its 2 px outline and, above it, the track id label (`drawing.annotate`).
OUTLINE_MARGIN = 12
LABEL_HEIGHT = 24
LABEL_WIDTH = 110

Box = Sequence[float]


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the preview is not a JPEG"
    return image


def frame_of(video: str, index: int) -> np.ndarray:
    """Frame `index` of `video`, decoded as the pipeline decodes it (OpenCV, in order)."""
    capture = cv2.VideoCapture(video)
    try:
        for _ in range(index + 1):
            ok, image = capture.read()
            assert ok, f"{video} has no frame {index}"
    finally:
        capture.release()
    return image


def _mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over pixels of the largest channel difference."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1).mean())


def _detail(image: np.ndarray) -> np.ndarray:
    """What a face is recognised by: the image minus its smooth version (edges, texture)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


def detail_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the fine detail of two same-size images: ~1 same picture, ~0 detail gone."""
    da, db = _detail(a).ravel(), _detail(b).ravel()
    if da.std() == 0 or db.std() == 0:
        return 0.0
    return float(np.corrcoef(da, db)[0, 1])


def inner(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The box without its outline: where only the blurred person shows."""
    bounds = pixel_bounds(box, width, height)
    if bounds is None:
        return None
    x1, y1, x2, y2 = bounds
    x1, y1, x2, y2 = x1 + 3, y1 + 3, x2 - 3, y2 - 3
    return (x1, y1, x2, y2) if x2 - x1 >= 8 and y2 - y1 >= 8 else None


def people_and_annotations_mask(boxes: Sequence[Box], width: int, height: int) -> np.ndarray:
    """True wherever blurring, an outline or a label may have changed the picture."""
    mask = np.zeros((height, width), dtype=bool)
    for box in boxes:
        bounds = pixel_bounds(box, width, height, PERSON_PAD)
        if bounds is None:
            continue
        x1, y1, x2, y2 = bounds
        mask[
            max(0, y1 - OUTLINE_MARGIN - LABEL_HEIGHT) : y2 + OUTLINE_MARGIN,
            max(0, x1 - OUTLINE_MARGIN) : max(x2, x1 + LABEL_WIDTH) + OUTLINE_MARGIN,
        ] = True
    return mask


def assert_people_hidden(preview: np.ndarray, source: np.ndarray, boxes: Sequence[Box]) -> None:
    """Inside every person's box the preview has lost the source's fine detail."""
    height, width = source.shape[:2]
    checked = 0
    for box in boxes:
        core = inner(box, width, height)
        if core is None:
            continue
        x1, y1, x2, y2 = core
        shown, original = preview[y1:y2, x1:x2], source[y1:y2, x1:x2]
        # An unblurred person re-encoded as JPEG keeps a correlation near 1.
        correlation = detail_correlation(shown, original)
        assert correlation < BLUR_MAX_CORRELATION, (
            f"box {box}: the person's detail is still there (correlation {correlation:.2f})"
        )
        difference = _mean_diff(shown, original)
        assert difference > BLUR_MEAN_DIFF, f"box {box}: barely changed (mean difference {difference:.1f})"
        checked += 1
    assert checked, f"no box large enough to check among {boxes}"


def assert_background_kept(preview: np.ndarray, source: np.ndarray, boxes: Sequence[Box]) -> None:
    """Away from every box, outline and label, the preview is the source frame (up to JPEG)."""
    height, width = source.shape[:2]
    outside = ~people_and_annotations_mask(boxes, width, height)
    assert outside.mean() > 0.3, "the boxes cover too much of the frame to check the background"
    difference = _mean_diff(preview[outside], source[outside])
    assert difference < JPEG_MEAN_DIFF, f"background changed: mean difference {difference:.2f}"
    assert (
        detail_correlation(
            np.where(outside[..., None], preview, 0).astype(np.uint8),
            np.where(outside[..., None], source, 0).astype(np.uint8),
        )
        > 0.9
    ), "the background lost its detail"
