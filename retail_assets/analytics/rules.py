"""The counting rules' parameters, in one frozen value shared by the columnar and naive code."""

from __future__ import annotations

from dataclasses import dataclass

from retail_assets.contracts.falls import FALL_EPISODE_GAP_S
from retail_assets.errors import InputError


@dataclass(frozen=True)
class Rules:
    """How detections become crossings, visits and falls (defaults in brackets).

    Lines. The anchor (bottom-centre of the box, the feet) has a side of a line only while its
    projection onto the line falls within the segment, extended by `line_margin_px` [10] at each
    end, and only when it is more than `dead_band_px` [2] from the line: on the line it keeps its
    side. A track's sided observations form runs on one side; the first run sets its starting side
    and a later run on the other side is a crossing when it is confirmed: `confirm_observations`
    [3] consecutive observations on that side, or one at least `confirm_distance_px` [10] past the
    line. Short runs in between (flicker on the line) change nothing, so standing on a line counts
    once and every real crossing counts once. The crossing's time is the run's first observation.

    Zones. A visit is a track's anchors inside the polygon; inside observations at most
    `zone_grace_s` [1.0] seconds apart belong to one visit, so a missed or outside frame does not
    split it. Visits shorter than `min_visit_s` [0.0] are dropped.

    Paths. Silver keeps at most `path_points_per_s` [2] anchors per second of a track.

    Falls. A track's fallen observations at most `fall_episode_gap_s` [FALL_EPISODE_GAP_S, 2.0,
    shared with the detections step] apart are one episode; its confidence is the MEAN confidence
    of its fallen observations (one lucky frame should not make a weak episode look sure).
    """

    confirm_observations: int = 3
    confirm_distance_px: float = 10.0
    dead_band_px: float = 2.0
    line_margin_px: float = 10.0
    zone_grace_s: float = 1.0
    min_visit_s: float = 0.0
    path_points_per_s: float = 2.0
    fall_episode_gap_s: float = FALL_EPISODE_GAP_S

    def __post_init__(self) -> None:
        if self.confirm_observations < 1:
            raise InputError(f"confirm_observations must be at least 1, got {self.confirm_observations}")
        for name in ("confirm_distance_px", "dead_band_px", "line_margin_px", "zone_grace_s", "min_visit_s"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.path_points_per_s <= 0 or self.fall_episode_gap_s < 0:
            raise InputError("path_points_per_s must be positive and fall_episode_gap_s not negative")

    # Integer microseconds, so SQL and Python compare times exactly.
    @property
    def zone_grace_us(self) -> int:
        return round(self.zone_grace_s * 1_000_000)

    @property
    def path_step_us(self) -> int:
        return round(1_000_000 / self.path_points_per_s)

    @property
    def fall_gap_us(self) -> int:
        return round(self.fall_episode_gap_s * 1_000_000)


DEFAULT_RULES = Rules()
