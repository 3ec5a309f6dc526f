"""Class handling and duplicate suppression of the detector, on hand-made boxes."""

from __future__ import annotations

from retail_assets.vision.detector import ClassMap, Detection, suppress_overlaps


def person(x1: float, y1: float, x2: float, y2: float, score: float, class_id: int = 0) -> Detection:
    return Detection(x1, y1, x2, y2, score, class_id, "person")


def test_upright_and_fallen_box_on_one_body_count_once() -> None:
    upright = person(0, 0, 100, 200, 0.9)
    fallen = person(0, 20, 100, 210, 0.7, class_id=1)  # IoU about 0.85 with the upright box
    assert suppress_overlaps([upright, fallen], 0.5) == [upright]


def test_a_box_on_part_of_a_body_is_dropped() -> None:
    body = person(0, 0, 100, 200, 0.9)
    upper_half = person(5, 0, 95, 100, 0.6)  # entirely inside, IoU only 0.45
    assert suppress_overlaps([body, upper_half], 0.5) == [body]


def test_people_side_by_side_are_kept() -> None:
    # Two neighbours of the same class overlapping by IoU 0.6 (ultralytics keeps both below 0.7).
    left = person(0, 0, 100, 200, 0.8)
    right = person(25, 0, 125, 200, 0.7)
    assert suppress_overlaps([left, right], 0.5) == [left, right]


def test_fall_model_classes_are_both_people_and_fall_is_stricter() -> None:
    rules = ClassMap.for_model({0: "Normal", 1: "Fall"}, conf=0.35, fallen_conf=0.6).rules
    assert rules[0].label == rules[1].label == "person"
    assert rules[0].attributes == {}
    assert rules[1].attributes == {"posture": "fallen"}
    assert (rules[0].min_confidence, rules[1].min_confidence) == (0.35, 0.6)


def test_general_models_keep_only_people() -> None:
    rules = ClassMap.for_model({0: "person", 1: "bicycle", 2: "car"}, conf=0.3, fallen_conf=0.6).rules
    assert list(rules) == [0]
    assert rules[0].label == "person"
