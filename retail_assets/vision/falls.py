"""Where fall episodes start while a video is processed, so the frame of each start can be kept.

The rule is the one the analytics apply to the stored events (`contracts/falls.py`): a confirmed
track's fallen observations (posture "fallen") belong to one episode while consecutive ones are at
most `FALL_EPISODE_GAP_S` seconds apart in video time; the first one of an episode is its start.
Unconfirmed detections (no track id) belong to no track and start nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from retail_assets.contracts.falls import FALL_EPISODE_GAP_S
from retail_assets.vision.tracker import TrackedDetection

FALLEN_POSTURE = "fallen"


def is_fallen(item: TrackedDetection) -> bool:
    return item.detection.attributes.get("posture") == FALLEN_POSTURE


@dataclass(frozen=True)
class FallFrame:
    """The annotated (and, by default, privacy-blurred) frame where a fall episode starts."""

    event_id: str  # the event of the episode's first fallen observation
    track_id: int
    frame_index: int
    pts_ms: float
    jpeg: bytes


@dataclass
class FallEpisodes:
    """Follows each track's last fallen observation through one video, in frame order."""

    gap_s: float = FALL_EPISODE_GAP_S
    _last_fallen_s: dict[int, float] = field(default_factory=dict)

    def starts(self, video_time_s: float, tracked: Sequence[TrackedDetection]) -> list[int]:
        """Positions in `tracked` (one processed frame) of the observations that start an episode."""
        started = []
        for position, item in enumerate(tracked):
            if item.track_id is None or not is_fallen(item):
                continue
            last = self._last_fallen_s.get(item.track_id)
            if last is None or video_time_s - last > self.gap_s:
                started.append(position)
            self._last_fallen_s[item.track_id] = video_time_s
        return started
