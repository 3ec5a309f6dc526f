"""Accuracy of the benchmarked pipelines: agreement with the reference and MOT scores."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.evaluation import Box, GroundTruth, TrackingScores, evaluate

MATCH_IOU = 0.5


def box_recall(
    reference: dict[int, list[Box]],
    candidate: dict[int, list[Box]],
    frames: Iterable[int],
    iou_threshold: float = MATCH_IOU,
) -> tuple[float, int, int]:
    """Share of the reference's boxes that `candidate` also has (one-to-one, IoU >= threshold).

    Returns (recall, matched, reference boxes); recall is 1.0 when the reference has no box.
    """
    matched = total = 0
    for frame in frames:
        ref = reference.get(frame, [])
        total += len(ref)
        got = candidate.get(frame, [])
        if not ref or not got:
            continue
        iou = iou_matrix(_coords(ref), _coords(got))
        rows, cols = linear_sum_assignment(-iou)
        matched += int((iou[rows, cols] >= iou_threshold).sum())
    return (matched / total if total else 1.0), matched, total


def tracking_scores(
    gt: GroundTruth, predictions: dict[int, list[Box]], frames_decoded: int
) -> TrackingScores:
    """MOTA/IDF1 over the ground-truth frames the run decoded (all of them on a full run)."""
    frames = [f for f in sorted(gt.frames) if f < frames_decoded]
    return evaluate(gt, predictions, frames, MATCH_IOU)


def _coords(boxes: list[Box]) -> np.ndarray:
    return np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=np.float64).reshape(-1, 4)
