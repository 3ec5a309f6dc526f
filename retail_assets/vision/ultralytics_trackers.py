"""ultralytics' own ByteTrack and BoT-SORT as alternatives to DeepSort.

Both associate detections by motion (Kalman filter) and box overlap, in two stages (confident
detections first, then weaker ones); neither needs appearance features, so the embedding stage
disappears. BoT-SORT adds camera-motion compensation (sparse optical flow) and a different
Kalman state. Settings are ultralytics' shipped defaults (`bytetrack.yaml`, `botsort.yaml`),
with the lost-track buffer taken from the project's `max_age`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

import retail_assets.vision  # noqa: F401  (sets YOLO_OFFLINE before ultralytics is imported)
from retail_assets.vision.detector import Detection
from retail_assets.vision.tracker import EmbeddingPlan, TrackedDetection, TrackerSettings, embed_every

BYTETRACK_DEFAULTS = {
    "track_high_thresh": 0.25,
    "track_low_thresh": 0.1,
    "new_track_thresh": 0.25,
    "match_thresh": 0.8,
    "fuse_score": True,
}
BOTSORT_EXTRA = {
    "gmc_method": "sparseOptFlow",
    "proximity_thresh": 0.5,
    "appearance_thresh": 0.8,
    "with_reid": False,
    "model": "auto",
}


class _Boxes:
    """The slice of ultralytics' `Boxes` the trackers read: conf, cls, xywh, xyxy, boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls

    @property
    def xywh(self) -> np.ndarray:
        centre = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        size = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return np.concatenate([centre, size], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: np.ndarray) -> _Boxes:
        return _Boxes(self.xyxy[index], self.conf[index], self.cls[index])


class UltralyticsTracker:
    """ByteTrack (`kind="bytetrack"`) or BoT-SORT (`kind="botsort"`) behind our Tracker interface."""

    needs_embeddings = False

    def __init__(self, kind: str, settings: TrackerSettings | None = None, frame_rate: float = 30.0) -> None:
        from retail_assets.vision.extras import import_extra

        import_extra("ultralytics", f"the {kind} tracker (ultralytics')")
        from ultralytics.trackers.bot_sort import BOTSORT
        from ultralytics.trackers.byte_tracker import BYTETracker

        settings = settings or TrackerSettings()
        options = dict(BYTETRACK_DEFAULTS, track_buffer=settings.max_age, tracker_type=kind)
        if kind == "botsort":
            options.update(BOTSORT_EXTRA)
            self._tracker = BOTSORT(SimpleNamespace(**options))
        elif kind == "bytetrack":
            self._tracker = BYTETracker(SimpleNamespace(**options))
        else:
            raise ValueError(f"unknown ultralytics tracker {kind!r}")
        self.name = kind
        self.needs_image = kind == "botsort"  # its camera-motion compensation reads the frame
        self.settings = settings
        self.tracks_confirmed: set[int] = set()

    def plan_embeddings(self, detections: Sequence[Detection]) -> EmbeddingPlan:
        return embed_every(detections)

    def update(
        self,
        detections: Sequence[Detection],
        embeddings: np.ndarray | None,
        image: np.ndarray | None = None,
    ) -> list[TrackedDetection]:
        boxes = _Boxes(
            np.array([d.xyxy for d in detections], dtype=np.float32).reshape(-1, 4),
            np.array([d.confidence for d in detections], dtype=np.float32),
            np.array([d.class_id for d in detections], dtype=np.float32),
        )
        rows = self._tracker.update(boxes, image)
        emitted: list[TrackedDetection] = []
        for row in rows:
            index = int(row[-1])
            track_id = int(row[4])
            detection = detections[index]
            self.tracks_confirmed.add(track_id)
            box = detection.xyxy if self.settings.box == "detection" else tuple(float(v) for v in row[:4])
            emitted.append(TrackedDetection(detection, index, track_id, box))  # type: ignore[arg-type]
        emitted.sort(key=lambda t: t.detection_index)
        return emitted
