"""Tracking accuracy against MOTChallenge ground truth: CLEAR-MOT (MOTA) and IDF1.

Conventions (those of the MOTChallenge devkit):
- gt.txt rows are `frame,id,left,top,width,height,conf,...`; gt frame f is video frame f-1.
- Rows with conf 0 are ignored regions: a prediction that matches one (IoU >= threshold, best
  one-to-one assignment) is removed before scoring, so it is neither a TP nor an FP.
- Per frame, correspondences from the previous frame are kept while their IoU still passes;
  the rest are assigned by minimum-cost bipartite matching on 1 - IoU. An ID switch is a gt
  object matched to a different prediction id than the last one it was matched to.
- MOTA = 1 - (FN + FP + IDSW) / GT. IDF1 = 2 IDTP / (GT + predictions), IDTP from the global
  one-to-one matching of gt trajectories to predicted trajectories that maximises the number
  of frames where they overlap.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from retail_assets.errors import InputError
from retail_assets.vision.boxes import iou_matrix


@dataclass(frozen=True)
class Box:
    frame: int  # 0-based video frame index
    object_id: int
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class GroundTruth:
    counted: dict[int, list[Box]]  # frame -> boxes that count
    ignored: dict[int, list[Box]]  # frame -> conf-0 boxes

    @property
    def frames(self) -> set[int]:
        return set(self.counted) | set(self.ignored)


@dataclass
class TrackingScores:
    frames: int
    gt: int
    predictions: int
    tp: int
    fp: int
    fn: int
    id_switches: int
    mota: float
    precision: float
    recall: float
    idtp: int
    idf1: float
    idp: float
    idr: float
    gt_ids: int
    predicted_ids: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def load_mot_ground_truth(path: str | Path) -> GroundTruth:
    """Parse a MOTChallenge gt.txt; errors name the file, the line and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ground truth {path}: file does not exist")
    counted: dict[int, list[Box]] = defaultdict(list)
    ignored: dict[int, list[Box]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.strip().split(",")
            try:
                if len(fields) < 7:
                    raise ValueError(f"expected at least 7 comma-separated fields, found {len(fields)}")
                frame, object_id = int(float(fields[0])), int(float(fields[1]))
                left, top, width, height, conf = (float(v) for v in fields[2:7])
            except ValueError as exc:
                raise InputError(f"ground truth {path}, line {number}: {exc}") from exc
            if frame < 1:
                raise InputError(f"ground truth {path}, line {number}: frame {frame} (frames start at 1)")
            box = Box(frame - 1, object_id, left, top, left + width, top + height)
            (counted if conf != 0 else ignored)[frame - 1].append(box)
    if not counted and not ignored:
        raise InputError(f"ground truth {path}: no rows")
    return GroundTruth(dict(counted), dict(ignored))


def predictions_from_ndjson(path: str | Path) -> dict[int, list[Box]]:
    """Boxes per frame from NDJSON v1 events; an event without a track id is its own object."""
    frames: dict[int, list[Box]] = defaultdict(list)
    untracked_id = -1
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                bbox = event["bbox"]
                track_id = event["track_id"]
                if track_id is None:
                    track_id, untracked_id = untracked_id, untracked_id - 1
                frames[int(event["frame_index"])].append(
                    Box(
                        int(event["frame_index"]),
                        int(track_id),
                        bbox["x1"],
                        bbox["y1"],
                        bbox["x2"],
                        bbox["y2"],
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"detections {path}, line {number}: not a v1 event ({exc})") from exc
    return dict(frames)


def _coords(boxes: list[Box]) -> np.ndarray:
    return np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=np.float64).reshape(-1, 4)


def _assign(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one pairs with IoU >= threshold minimising the total 1 - IoU."""
    if iou.size == 0:
        return []
    cost = np.where(iou >= threshold, 1.0 - iou, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= threshold]


def _drop_ignored(gt: GroundTruth, preds: list[Box], frame: int, threshold: float) -> list[Box]:
    """Remove predictions that cover an ignored (conf 0) gt box: they are not false positives."""
    ignored = gt.ignored.get(frame, [])
    if not ignored or not preds:
        return preds
    everything = gt.counted.get(frame, []) + ignored
    pairs = _assign(iou_matrix(_coords(everything), _coords(preds)), threshold)
    first_ignored = len(gt.counted.get(frame, []))
    drop = {p for g, p in pairs if g >= first_ignored}
    return [box for i, box in enumerate(preds) if i not in drop]


def evaluate(
    gt: GroundTruth,
    predictions: dict[int, list[Box]],
    frames: Iterable[int] | None = None,
    iou_threshold: float = 0.5,
) -> TrackingScores:
    """Score `predictions` against `gt` over `frames` (default: every gt frame)."""
    frame_list = sorted(gt.frames if frames is None else set(frames))
    tp = fp = fn = switches = total_gt = total_pred = 0
    last_match: dict[int, int] = {}  # gt id -> prediction id it was last matched to
    previous: dict[int, int] = {}  # correspondences of the previous frame
    pair_overlaps: dict[tuple[int, int], int] = defaultdict(int)
    gt_counts: dict[int, int] = defaultdict(int)
    pred_counts: dict[int, int] = defaultdict(int)
    for frame in frame_list:
        gts = gt.counted.get(frame, [])
        preds = _drop_ignored(gt, predictions.get(frame, []), frame, iou_threshold)
        total_gt += len(gts)
        total_pred += len(preds)
        for box in gts:
            gt_counts[box.object_id] += 1
        for box in preds:
            pred_counts[box.object_id] += 1
        iou = iou_matrix(_coords(gts), _coords(preds))
        # IDF1 counts every frame where a (gt, prediction) pair overlaps, matched or not.
        for g, p in zip(*np.nonzero(iou >= iou_threshold), strict=True):
            pair_overlaps[(gts[g].object_id, preds[p].object_id)] += 1
        matches = _match_frame(gts, preds, iou, previous, iou_threshold)
        for g, p in matches:
            gid, pid = gts[g].object_id, preds[p].object_id
            if gid in last_match and last_match[gid] != pid:
                switches += 1
            last_match[gid] = pid
        previous = {gts[g].object_id: preds[p].object_id for g, p in matches}
        tp += len(matches)
        fp += len(preds) - len(matches)
        fn += len(gts) - len(matches)
    idtp = _global_id_matches(pair_overlaps, list(gt_counts), list(pred_counts))
    return TrackingScores(
        frames=len(frame_list),
        gt=total_gt,
        predictions=total_pred,
        tp=tp,
        fp=fp,
        fn=fn,
        id_switches=switches,
        mota=1.0 - (fn + fp + switches) / total_gt if total_gt else 0.0,
        precision=tp / total_pred if total_pred else 0.0,
        recall=tp / total_gt if total_gt else 0.0,
        idtp=idtp,
        idf1=2 * idtp / (total_gt + total_pred) if total_gt + total_pred else 0.0,
        idp=idtp / total_pred if total_pred else 0.0,
        idr=idtp / total_gt if total_gt else 0.0,
        gt_ids=len(gt_counts),
        predicted_ids=len(pred_counts),
    )


def _match_frame(
    gts: list[Box], preds: list[Box], iou: np.ndarray, previous: dict[int, int], threshold: float
) -> list[tuple[int, int]]:
    matches: list[tuple[int, int]] = []
    pred_index = {box.object_id: i for i, box in enumerate(preds)}
    kept_g: set[int] = set()
    kept_p: set[int] = set()
    for g, box in enumerate(gts):  # keep last frame's correspondences while they still overlap
        p = pred_index.get(previous.get(box.object_id, -(10**9)))
        if p is not None and p not in kept_p and iou[g, p] >= threshold:
            matches.append((g, p))
            kept_g.add(g)
            kept_p.add(p)
    free_g = [g for g in range(len(gts)) if g not in kept_g]
    free_p = [p for p in range(len(preds)) if p not in kept_p]
    if free_g and free_p:
        sub = iou[np.ix_(free_g, free_p)]
        matches.extend((free_g[g], free_p[p]) for g, p in _assign(sub, threshold))
    return matches


def _global_id_matches(overlaps: dict[tuple[int, int], int], gt_ids: list[int], pred_ids: list[int]) -> int:
    if not overlaps:
        return 0
    g_index = {g: i for i, g in enumerate(gt_ids)}
    p_index = {p: i for i, p in enumerate(pred_ids)}
    weights = np.zeros((len(gt_ids), len(pred_ids)))
    for (g, p), count in overlaps.items():
        weights[g_index[g], p_index[p]] = count
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return int(weights[rows, cols].sum())
