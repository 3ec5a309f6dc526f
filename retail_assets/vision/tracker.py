"""Multi-object tracking: DeepSort (deep-sort-realtime) fed with our own appearance features.

Only confirmed tracks that were updated by a detection in the current frame become events with
a `track_id`; tentative tracks and coasting (predicted-only) tracks emit nothing, so every
event is backed by a real detection of that frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from retail_assets.vision.deepsort_metric import NearestNeighborCosine
from retail_assets.vision.detector import Detection

BOX_SOURCES = ("detection", "kalman")


@dataclass(frozen=True)
class TrackerSettings:
    max_age: int = 30  # frames a lost track survives (re-identified if it comes back)
    n_init: int = 3  # consecutive detections before a track is confirmed
    max_iou_distance: float = 0.7
    max_cosine_distance: float = 0.2
    nn_budget: int | None = 100  # appearance samples kept per track (bounds memory)
    # "kalman": the track's filtered box (smoother and, on PETS09, overlaps the people better);
    # "detection": the raw detector box of this frame.
    box: str = "kalman"

    def __post_init__(self) -> None:
        if self.box not in BOX_SOURCES:
            raise ValueError(f"tracker box must be one of {BOX_SOURCES}, got {self.box!r}")


@dataclass(frozen=True)
class TrackedDetection:
    detection: Detection
    detection_index: int  # position in the frame's detection list
    track_id: int | None
    box: tuple[float, float, float, float]


class Tracker(Protocol):
    """Everything the pipeline asks of a tracker; one is started per video and fed each processed frame."""

    name: str  # the events' `tracker` field
    # The pipeline computes appearance features of the frame's detections only for a tracker that
    # uses them: that stage costs about as much as detection.
    needs_embeddings: bool
    # `update` reads the frame itself (BoT-SORT's camera-motion compensation); others get None.
    needs_image: bool
    tracks_confirmed: set[int]  # distinct track ids emitted so far (the run's track count)

    def update(
        self,
        detections: Sequence[Detection],
        embeddings: np.ndarray | None,
        image: np.ndarray | None = None,
    ) -> list[TrackedDetection]:
        """Advance one processed frame; return what the frame emits."""
        ...


class NoTracker:
    """Tracking off: every detection is emitted, with no identity."""

    name = "none"
    needs_embeddings = False
    needs_image = False

    def __init__(self) -> None:
        self.tracks_confirmed: set[int] = set()  # stays empty: nothing gets an identity

    def update(
        self,
        detections: Sequence[Detection],
        embeddings: np.ndarray | None,
        image: np.ndarray | None = None,
    ) -> list[TrackedDetection]:
        return [TrackedDetection(d, i, None, d.xyxy) for i, d in enumerate(detections)]


class DeepSortTracker:
    name = "deepsort"
    needs_embeddings = True
    needs_image = False

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        from deep_sort_realtime.deepsort_tracker import DeepSort

        self.settings = settings or TrackerSettings()
        self._deepsort = DeepSort(
            max_age=self.settings.max_age,
            n_init=self.settings.n_init,
            max_iou_distance=self.settings.max_iou_distance,
            max_cosine_distance=self.settings.max_cosine_distance,
            nn_budget=self.settings.nn_budget,
            embedder=None,  # features come from our AppearanceEmbedder
        )
        # Same distances as deep-sort-realtime's metric, computed without re-normalising every
        # stored sample on every query (that was most of the tracker's time).
        self._deepsort.tracker.metric = NearestNeighborCosine(
            self.settings.max_cosine_distance, self.settings.nn_budget
        )
        self.tracks_confirmed: set[int] = set()

    def update(
        self,
        detections: Sequence[Detection],
        embeddings: np.ndarray | None,
        image: np.ndarray | None = None,
    ) -> list[TrackedDetection]:
        if embeddings is None or len(embeddings) != len(detections):
            raise ValueError("DeepSort needs one embedding per detection")
        raw = [([d.x1, d.y1, d.width, d.height], d.confidence, d.label) for d in detections]
        # `others` carries each detection's index so a track can point back at its detection.
        tracks = self._deepsort.update_tracks(
            raw, embeds=list(embeddings), others=list(range(len(detections)))
        )
        emitted: list[TrackedDetection] = []
        for track in tracks:
            if not track.is_confirmed() or track.time_since_update > 0:
                continue
            index = track.get_det_supplementary()
            if index is None:
                continue
            detection = detections[index]
            track_id = int(track.track_id)
            self.tracks_confirmed.add(track_id)
            if self.settings.box == "kalman":
                x1, y1, x2, y2 = (float(v) for v in track.to_ltrb(orig=False))
                box = (x1, y1, x2, y2)
            else:
                box = detection.xyxy
            emitted.append(TrackedDetection(detection, index, track_id, box))
        emitted.sort(key=lambda t: t.detection_index)
        return emitted
