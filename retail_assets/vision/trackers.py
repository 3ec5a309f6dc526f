"""Every tracker the pipeline can run, by the name settings, flags and events use.

`TRACKERS` is the one list of names: `PipelineConfig` validates against it, `ingest`, `eval` and
`bench` take their `--tracker` choices from it, and the pipeline starts a tracker through it.
A new tracker is one entry here plus a class implementing `tracker.Tracker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from retail_assets.vision.tracker import DeepSortTracker, NoTracker, Tracker, TrackerSettings
from retail_assets.vision.ultralytics_trackers import UltralyticsTracker


@dataclass(frozen=True)
class TrackerFactory:
    """Starts one kind of tracker for one video (settings, the video's frame rate)."""

    start: Callable[[TrackerSettings, float], Tracker]
    # Known before any tracker exists, so a pipeline loads an appearance embedder only when its
    # tracker will use one; equal to the started tracker's own `needs_embeddings`.
    needs_embeddings: bool

    def __call__(self, settings: TrackerSettings, frame_rate: float) -> Tracker:
        return self.start(settings, frame_rate)


NO_TRACKER = "none"  # tracking off (`--track 0`): every detection, no track ids

TRACKERS: dict[str, TrackerFactory] = {
    "deepsort": TrackerFactory(lambda settings, _rate: DeepSortTracker(settings), needs_embeddings=True),
    "bytetrack": TrackerFactory(
        lambda settings, rate: UltralyticsTracker("bytetrack", settings, frame_rate=rate),
        needs_embeddings=False,
    ),
    "botsort": TrackerFactory(
        lambda settings, rate: UltralyticsTracker("botsort", settings, frame_rate=rate),
        needs_embeddings=False,
    ),
    NO_TRACKER: TrackerFactory(lambda _settings, _rate: NoTracker(), needs_embeddings=False),
}

# What `--tracker` offers: turning tracking off is `--track 0`, not a choice of tracker.
TRACKING_CHOICES: tuple[str, ...] = tuple(name for name in TRACKERS if name != NO_TRACKER)
