"""CLEAR-MOT and IDF1 on small cases whose figures can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_assets.errors import InputError
from retail_assets.vision.evaluation import Box, evaluate, load_mot_ground_truth

A = (0.0, 0.0, 10.0, 20.0)
B = (100.0, 0.0, 110.0, 20.0)
IGNORED = (200.0, 200.0, 210.0, 220.0)
NOWHERE = (300.0, 300.0, 310.0, 320.0)


def write_gt(path: Path) -> Path:
    """Objects 1 and 2 in frames 1-4 (1-based in the file), plus an ignored (conf 0) box in frame 1."""
    rows = []
    for frame in range(1, 5):
        rows.append(f"{frame},1,{A[0]},{A[1]},10,20,1,-1,-1,-1")
        rows.append(f"{frame},2,{B[0]},{B[1]},10,20,1,-1,-1,-1")
    rows.append(f"1,3,{IGNORED[0]},{IGNORED[1]},10,20,0,-1,-1,-1")
    path.write_text("\n".join(rows) + "\n")
    return path


def boxes(*items: tuple[int, int, tuple[float, float, float, float]]) -> dict[int, list[Box]]:
    frames: dict[int, list[Box]] = {}
    for frame, track, box in items:
        frames.setdefault(frame, []).append(Box(frame, track, *box))
    return frames


def test_hand_computed_case(tmp_path: Path) -> None:
    gt = load_mot_ground_truth(write_gt(tmp_path / "gt.txt"))
    assert sorted(gt.counted) == [0, 1, 2, 3]  # file frame 1 = video frame 0
    predictions = boxes(
        *[(f, 7, A) for f in range(4)],  # object 1: followed perfectly by track 7
        (0, 8, B),
        (1, 8, B),
        (2, 9, B),  # object 2: track 8, then 9 (one switch), then lost in frame 3 (one miss)
        (1, 20, NOWHERE),  # a false positive
        (0, 30, IGNORED),  # covers the ignored box: neither TP nor FP
    )
    scores = evaluate(gt, predictions)
    assert (scores.gt, scores.tp, scores.fp, scores.fn, scores.id_switches) == (8, 7, 1, 1, 1)
    assert scores.mota == pytest.approx(1 - 3 / 8)
    assert scores.precision == pytest.approx(7 / 8)
    assert scores.recall == pytest.approx(7 / 8)
    # IDF1: 1<->7 share 4 frames, 2<->8 share 2; 8 gt boxes and 8 counted predictions.
    assert scores.idtp == 6
    assert scores.idf1 == pytest.approx(2 * 6 / 16)


def test_box_below_the_iou_threshold_is_a_miss_and_a_false_positive(tmp_path: Path) -> None:
    gt = load_mot_ground_truth(write_gt(tmp_path / "gt.txt"))
    shifted = (A[0] + 5, A[1], A[2] + 5, A[3])  # IoU 1/3 with A
    predictions = boxes(*[(f, 1, shifted) for f in range(4)], *[(f, 2, B) for f in range(4)])
    strict = evaluate(gt, predictions, iou_threshold=0.5)
    assert (strict.tp, strict.fp, strict.fn) == (4, 4, 4)
    loose = evaluate(gt, predictions, iou_threshold=0.3)
    assert (loose.tp, loose.fp, loose.fn, loose.mota) == (8, 0, 0, 1.0)


def test_perfect_tracking_scores_one(tmp_path: Path) -> None:
    gt = load_mot_ground_truth(write_gt(tmp_path / "gt.txt"))
    scores = evaluate(gt, boxes(*[(f, 5, A) for f in range(4)], *[(f, 6, B) for f in range(4)]))
    assert (scores.mota, scores.idf1, scores.id_switches) == (1.0, 1.0, 0)


def test_only_the_requested_frames_are_scored(tmp_path: Path) -> None:
    gt = load_mot_ground_truth(write_gt(tmp_path / "gt.txt"))
    scores = evaluate(gt, boxes((0, 5, A), (0, 6, B)), frames=[0])
    assert (scores.frames, scores.gt, scores.mota) == (1, 2, 1.0)


def test_bad_ground_truth_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "gt.txt"
    bad.write_text("1,1,0,0,10,20,1,-1,-1,-1\n1,2,zero,0,10,20,1\n")
    with pytest.raises(InputError, match=r"line 2") as err:
        load_mot_ground_truth(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(InputError, match="does not exist"):
        load_mot_ground_truth(tmp_path / "missing.txt")
