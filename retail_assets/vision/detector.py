"""Person detection behind a small interface, so backends can be swapped.

`Detector` is what the pipeline needs: `detect(image) -> list[Detection]` plus a name and a
fingerprint. `UltralyticsDetector` serves every format ultralytics loads (`.pt`, `.onnx`,
OpenVINO export directories). Class handling lives in `ClassMap`: which model classes are kept,
the label they get in events, and the attributes they carry (the default model's `Fall` class
is a person with `posture = "fallen"`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

import retail_assets.vision  # noqa: F401  (sets YOLO_OFFLINE before ultralytics is imported)
from retail_assets.errors import InputError, SetupError
from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.models import ResolvedModel


@dataclass(frozen=True)
class Detection:
    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float
    class_id: int
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1


# A box this much inside a stronger box is a part of that person, not another one.
DEFAULT_CONTAINED = 0.9


@dataclass(frozen=True)
class DetectorSettings:
    """What decides which boxes a detector returns, whatever runs the network.

    One value for both runtimes, so the OpenVINO and ultralytics detectors cannot be handed
    different rules for the same pipeline settings.
    """

    conf: float  # minimum score of an upright person (of any kept class, for other models)
    fallen_conf: float  # minimum score of the default model's `Fall` class
    imgsz: int = 640
    keep_labels: tuple[str, ...] = ("person",)  # classes kept for general models (COCO etc.)
    nms_iou: float = 0.5  # boxes of different classes overlapping this much are one person
    contained: float = DEFAULT_CONTAINED
    # Only ultralytics reads it: the OpenVINO detector is chosen for CPU runs and runs on the CPU.
    device: str = "cpu"

    def class_map(self, names: dict[int, str]) -> ClassMap:
        return ClassMap.for_model(names, self.conf, self.fallen_conf, self.keep_labels)

    def suppress_duplicates(self, detections: list[Detection]) -> list[Detection]:
        return suppress_overlaps(detections, self.nms_iou, self.contained)


class Detector(Protocol):
    """The detection backend the pipeline calls once per processed frame."""

    @property
    def fingerprint(self) -> str:
        """`<name>@<12 hex of the weights' sha256>`."""
        ...

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections kept by the class map, above their confidence threshold, in score order."""
        ...


@dataclass(frozen=True)
class ClassRule:
    label: str
    min_confidence: float
    attributes: dict[str, Any] = field(default_factory=dict)


class ClassMap:
    """Model class id -> how (and whether) it becomes an event."""

    def __init__(self, rules: dict[int, ClassRule]) -> None:
        if not rules:
            raise InputError("the model has none of the requested classes, nothing would be detected")
        self.rules = rules

    @property
    def lowest_threshold(self) -> float:
        return min(rule.min_confidence for rule in self.rules.values())

    @classmethod
    def for_model(
        cls,
        names: dict[int, str],
        conf: float,
        fallen_conf: float,
        keep_labels: tuple[str, ...] = ("person",),
    ) -> ClassMap:
        """The default model's Normal/Fall become `person`; other models keep `keep_labels`."""
        lowered = {i: n.lower() for i, n in names.items()}
        if set(lowered.values()) == {"normal", "fall"}:
            return cls(
                {
                    i: ClassRule("person", fallen_conf, {"posture": "fallen"})
                    if n == "fall"
                    else ClassRule("person", conf)
                    for i, n in lowered.items()
                }
            )
        wanted = {label.lower() for label in keep_labels}
        return cls({i: ClassRule(names[i], conf) for i, n in lowered.items() if n in wanted})

    def detections(self, xyxy: np.ndarray, scores: np.ndarray, class_ids: Sequence[int]) -> list[Detection]:
        """Raw boxes -> the detections these rules keep, strongest first."""
        detections: list[Detection] = []
        for (x1, y1, x2, y2), score, class_id in zip(xyxy, scores, class_ids, strict=True):
            rule = self.rules.get(int(class_id))
            if rule is None or score < rule.min_confidence or x2 <= x1 or y2 <= y1:
                continue
            detections.append(
                Detection(
                    float(x1),
                    float(y1),
                    float(x2),
                    float(y2),
                    float(score),
                    int(class_id),
                    rule.label,
                    dict(rule.attributes),
                )
            )
        detections.sort(key=lambda d: -d.confidence)
        return detections


class UltralyticsDetector:
    """YOLO through ultralytics; loads the model once and reuses it for every frame."""

    def __init__(self, model: ResolvedModel, settings: DetectorSettings) -> None:
        from retail_assets.vision.extras import import_extra

        ultralytics = import_extra(
            "ultralytics",
            f"model {model.spec!r} through ultralytics (runtime pytorch, a GPU device or a non-.pt model)",
        )
        self.model = model
        self.settings = settings
        try:
            self._yolo = ultralytics.YOLO(model.load_target, task="detect")
        except Exception as exc:  # ultralytics raises many types for unreadable weights
            raise SetupError(f"model {model.spec!r}: ultralytics could not load it: {exc}") from exc
        names = {int(k): str(v) for k, v in dict(self._yolo.names).items()}
        self.class_map = settings.class_map(names)

    @property
    def fingerprint(self) -> str:
        return self.model.fingerprint

    def detect(self, image: np.ndarray) -> list[Detection]:
        result = self._yolo.predict(
            image,
            conf=self.class_map.lowest_threshold,
            imgsz=self.settings.imgsz,
            device=self.settings.device,
            classes=sorted(self.class_map.rules),
            verbose=False,
        )[0]
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float64)
        scores = boxes.conf.cpu().numpy().astype(np.float64)
        class_ids = boxes.cls.cpu().numpy().astype(int)
        return self.settings.suppress_duplicates(self.class_map.detections(xyxy, scores, class_ids))


def suppress_overlaps(
    detections: list[Detection], iou_threshold: float, contained: float = DEFAULT_CONTAINED
) -> list[Detection]:
    """Drop duplicate boxes of one person, keeping the higher score (detections sorted by score).

    Two cases, on top of ultralytics' own per-class suppression:
    - boxes of different classes overlapping with IoU >= `iou_threshold`: the default model's
      classes are both a person, so an upright and a fallen box on one body count once;
    - a box lying at least `contained` (share of its own area) inside a higher-scored box of
      any class: the model sometimes adds a box on part of a body (the upper half) next to the
      whole-body box. A person mostly hidden behind another can be lost this way; two people
      side by side (who overlap only partly) are not.
    Runs after the per-class thresholds, so a dropped low-score box never suppresses a kept one.
    """
    if len(detections) < 2:
        return detections
    coords = np.array([d.xyxy for d in detections])
    overlaps = iou_matrix(coords, coords)
    widths = np.clip(np.minimum(coords[:, None, 2], coords[None, :, 2]) - np.maximum(coords[:, None, 0], coords[None, :, 0]), 0, None)  # fmt: skip
    heights = np.clip(np.minimum(coords[:, None, 3], coords[None, :, 3]) - np.maximum(coords[:, None, 1], coords[None, :, 1]), 0, None)  # fmt: skip
    areas = (coords[:, 2] - coords[:, 0]) * (coords[:, 3] - coords[:, 1])
    inside = widths * heights / np.maximum(areas[:, None], 1e-9)  # [i, k]: share of box i inside box k
    kept: list[int] = []
    for i, detection in enumerate(detections):
        duplicate = any(
            inside[i, k] >= contained
            or (detection.class_id != detections[k].class_id and overlaps[i, k] >= iou_threshold)
            for k in kept
        )
        if not duplicate:
            kept.append(i)
    return [detections[i] for i in kept]


class NoDetector:
    """Detection off (`--yolo 0`): frames are decoded and shown, nothing is detected."""

    fingerprint = "none@" + hashlib.sha256(b"no detector").hexdigest()[:12]

    def detect(self, image: np.ndarray) -> list[Detection]:
        return []
