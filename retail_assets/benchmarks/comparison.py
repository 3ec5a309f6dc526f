"""Accuracy of the benchmarked pipelines: agreement with the reference and MOT scores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.evaluation import Box, GroundTruth, TrackingScores, evaluate

MATCH_IOU = 0.5


@dataclass(frozen=True)
class BoxAgreement:
    """How far a candidate's boxes agree with the reference's (one-to-one, IoU >= threshold)."""

    matched: int
    reference_boxes: int
    candidate_boxes: int
    iou: float = MATCH_IOU

    @property
    def recall(self) -> float:
        """Share of the reference's boxes the candidate also has (1.0 when the reference has none)."""
        return self.matched / self.reference_boxes if self.reference_boxes else 1.0

    @property
    def precision(self) -> float:
        """Share of the candidate's boxes the reference also has (1.0 when the candidate has none)."""
        return self.matched / self.candidate_boxes if self.candidate_boxes else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "matched": self.matched,
            "reference_boxes": self.reference_boxes,
            "candidate_boxes": self.candidate_boxes,
            "iou": self.iou,
        }


def box_agreement(
    reference: dict[int, list[Box]],
    candidate: dict[int, list[Box]],
    frames: Iterable[int],
    iou_threshold: float = MATCH_IOU,
) -> BoxAgreement:
    """Match the two pipelines' boxes frame by frame over `frames` (Hungarian, on IoU)."""
    matched = reference_total = candidate_total = 0
    for frame in frames:
        ref = reference.get(frame, [])
        got = candidate.get(frame, [])
        reference_total += len(ref)
        candidate_total += len(got)
        if not ref or not got:
            continue
        iou = iou_matrix(_coords(ref), _coords(got))
        rows, cols = linear_sum_assignment(-iou)
        matched += int((iou[rows, cols] >= iou_threshold).sum())
    return BoxAgreement(matched, reference_total, candidate_total, iou_threshold)


def tracking_scores(
    gt: GroundTruth, predictions: dict[int, list[Box]], frames_decoded: int
) -> TrackingScores:
    """MOTA/IDF1 over the ground-truth frames the run decoded (all of them on a full run)."""
    frames = [f for f in sorted(gt.frames) if f < frames_decoded]
    return evaluate(gt, predictions, frames, MATCH_IOU)


def _coords(boxes: list[Box]) -> np.ndarray:
    return np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=np.float64).reshape(-1, 4)
