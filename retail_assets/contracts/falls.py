"""Falls: the episode rule shared by the detections step and the analytics, and where a fall's
annotated frame is kept.

A track's fallen observations (posture "fallen") belong to one episode while consecutive ones
are at most `FALL_EPISODE_GAP_S` seconds apart in video time; the first observation of an
episode is its start. The detections step saves an annotated frame at every episode start and the
gold fall alerts point at it, so both sides must apply this same rule.
"""

from __future__ import annotations

FALL_EPISODE_GAP_S = 2.0
FALL_FRAMES_PREFIX = "_fall_frames"


def fall_frame_key(video_key: str, event_id: str, prefix: str = FALL_FRAMES_PREFIX) -> str:
    """Where the annotated frame of the fall that starts at `event_id` lives (detections bucket).

    `store-1/cam-1/2026-11-28/090000.mp4` + `0f3a...` ->
    `_fall_frames/store-1/cam-1/2026-11-28/090000.mp4/0f3a....jpg`
    """
    return f"{prefix}/{video_key}/{event_id}.jpg"
