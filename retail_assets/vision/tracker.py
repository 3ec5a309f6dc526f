"""Multi-object tracking: DeepSort (deep-sort-realtime) fed with our own appearance features.

Only confirmed tracks that were updated by a detection in the current frame become events with
a `track_id`; tentative tracks and coasting (predicted-only) tracks emit nothing, so every
event is backed by a real detection of that frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.deepsort_metric import NearestNeighborCosine
from retail_assets.vision.detector import Detection

BOX_SOURCES = ("detection", "kalman")

# When a detection may borrow its track's appearance instead of having it computed
# (`DeepSortTracker.plan_embeddings`): it overlaps one confirmed track's predicted box at least
# this much, and nothing else (no other track, no other detection) more than BORROW_MAX_OTHER_IOU.
# Then the association has one answer whatever the features say: a cosine match in DeepSort's
# cascade, or else the IoU match that follows it. Each track's appearance is still computed at
# least every REFRESH_FRAMES processed frames, so its gallery keeps up with how the person looks.
BORROW_MIN_IOU = 0.5
BORROW_MAX_OTHER_IOU = 0.05
REFRESH_FRAMES = 5


@dataclass(frozen=True)
class TrackerSettings:
    # Both count frames of the video: a tracker fed every k-th frame (`sample_fps`) gets them
    # divided by k (`every`), so a track lives and is confirmed over the same stretch of time.
    max_age: int = 30  # frames a lost track survives (re-identified if it comes back)
    n_init: int = 3  # frames of consecutive detections before a track is confirmed
    max_iou_distance: float = 0.7
    max_cosine_distance: float = 0.2
    nn_budget: int | None = 100  # appearance samples kept per track (bounds memory)
    # "kalman": the track's filtered box (smoother and, on PETS09, overlaps the people better);
    # "detection": the raw detector box of this frame.
    box: str = "kalman"

    def __post_init__(self) -> None:
        if self.box not in BOX_SOURCES:
            raise ValueError(f"tracker box must be one of {BOX_SOURCES}, got {self.box!r}")

    def every(self, step: int) -> TrackerSettings:
        """These settings for a tracker that sees every `step`-th frame of the video."""
        if step == 1:
            return self
        return replace(
            self,
            max_age=max(1, int(self.max_age / step + 0.5)),
            n_init=max(1, int(self.n_init / step + 0.5)),
        )


@dataclass(frozen=True)
class TrackedDetection:
    detection: Detection
    detection_index: int  # position in the frame's detection list
    track_id: int | None
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class EmbeddingPlan:
    """Which detections of a frame need their appearance computed; the others borrow it."""

    embed: tuple[int, ...]  # detection indices to embed, in order
    borrowed: dict[int, np.ndarray]  # detection index -> its track's last computed feature

    def assemble(self, computed: np.ndarray) -> np.ndarray:
        """One feature row per detection: `computed` (an embedder's rows for `embed`, shape
        (len(embed), dim) even when empty) and the borrowed ones."""
        if len(computed) != len(self.embed):
            raise ValueError(f"expected {len(self.embed)} computed features, got {len(computed)}")
        features = np.empty((len(self.embed) + len(self.borrowed), computed.shape[1]), dtype=np.float32)
        features[list(self.embed)] = computed
        for index, feature in self.borrowed.items():
            features[index] = feature
        return features


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

    def plan_embeddings(self, detections: Sequence[Detection]) -> EmbeddingPlan:
        """Which of this frame's detections `update` needs embedded; asked before `update` when the
        pipeline embeds only ambiguous detections. Trackers without appearance plan every one."""
        ...


def embed_every(detections: Sequence[Detection]) -> EmbeddingPlan:
    return EmbeddingPlan(tuple(range(len(detections))), {})


class NoTracker:
    """Tracking off: every detection is emitted, with no identity."""

    name = "none"
    needs_embeddings = False
    needs_image = False

    def __init__(self) -> None:
        self.tracks_confirmed: set[int] = set()  # stays empty: nothing gets an identity

    def plan_embeddings(self, detections: Sequence[Detection]) -> EmbeddingPlan:
        return embed_every(detections)

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
        self._frames = 0  # processed frames so far
        # track id -> (frame, feature) of the last detection of the track whose appearance was
        # computed rather than borrowed
        self._computed: dict[int, tuple[int, np.ndarray]] = {}
        self._borrowed: frozenset[int] = frozenset()  # of the frame planned, not yet updated

    def plan_embeddings(self, detections: Sequence[Detection]) -> EmbeddingPlan:
        """Embed every detection except those whose association has one possible answer (see
        BORROW_MIN_IOU): those borrow their track's last computed feature."""
        tracks = self._deepsort.tracker.tracks
        borrowed: dict[int, np.ndarray] = {}
        if detections and tracks:
            boxes = np.array([d.xyxy for d in detections], dtype=np.float64)
            to_tracks = iou_matrix(boxes, self._predicted_boxes())
            between = iou_matrix(boxes, boxes)
            np.fill_diagonal(between, 0.0)
            for index in range(len(detections)):
                column = int(np.argmax(to_tracks[index]))
                track = tracks[column]
                computed = self._computed.get(int(track.track_id))
                if (
                    computed is None
                    or self._frames - computed[0] >= REFRESH_FRAMES
                    or not track.is_confirmed()
                    or track.time_since_update != 0  # matched in the previous frame
                    or to_tracks[index, column] < BORROW_MIN_IOU
                ):
                    continue
                others = (
                    np.delete(to_tracks[index], column),  # other tracks near this detection
                    np.delete(to_tracks[:, column], index),  # other detections near this track
                    between[index],  # other detections near this one
                )
                if all((other < BORROW_MAX_OTHER_IOU).all() for other in others):
                    borrowed[index] = computed[1]
        self._borrowed = frozenset(borrowed)
        embed = tuple(index for index in range(len(detections)) if index not in borrowed)
        return EmbeddingPlan(embed, borrowed)

    def _predicted_boxes(self) -> np.ndarray:
        """x1,y1,x2,y2 of every track's Kalman prediction for the coming frame (state untouched)."""
        kalman = self._deepsort.tracker.kf
        boxes = np.empty((len(self._deepsort.tracker.tracks), 4))
        for row, track in enumerate(self._deepsort.tracker.tracks):
            mean, _ = kalman.predict(track.mean, track.covariance)  # returns new arrays
            x, y, aspect, height = mean[:4]  # centre, width / height, height
            width = aspect * height
            boxes[row] = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
        return boxes

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
        self._remember_computed(tracks, embeddings)
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

    def _remember_computed(self, tracks: Sequence, embeddings: np.ndarray) -> None:
        live: dict[int, tuple[int, np.ndarray]] = {}
        for track in tracks:
            track_id = int(track.track_id)
            index = track.get_det_supplementary() if track.time_since_update == 0 else None
            if index is not None and index not in self._borrowed:
                live[track_id] = (self._frames, embeddings[index])
            elif track_id in self._computed:
                live[track_id] = self._computed[track_id]
        self._computed = live
        self._borrowed = frozenset()
        self._frames += 1
