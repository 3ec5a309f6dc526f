"""Which decoded frames get processed: all of them, or a target rate (`sample_fps`)."""

from __future__ import annotations


class FrameSampler:
    """Keeps every `step`-th frame: the video's fps over `sample_fps`, rounded to the nearest whole
    number (at least 1), so 6 fps of a 10 fps video processes every second frame (5 fps).

    The frames processed lie on a regular grid, which is what silver rebuilds from the events to
    count them (a processed frame without anyone in it leaves no event, yet counts towards
    occupancy's means); a rate that does not divide the video's would leave an irregular pattern
    that cannot be rebuilt. Decisions depend only on the frame index and the video's fps, so the
    same video and settings always process the same frames (needed for deterministic output).
    """

    def __init__(self, video_fps: float, sample_fps: float | None) -> None:
        if sample_fps is not None and sample_fps <= 0:
            raise ValueError(f"sample_fps must be positive, got {sample_fps}")
        # Sampling at or above the video's own rate (or with an unknown rate) keeps every frame.
        ratio = video_fps / sample_fps if sample_fps and video_fps > sample_fps else 1.0
        self.step = max(1, int(ratio + 0.5))

    @property
    def keeps_every_frame(self) -> bool:
        return self.step == 1

    def keep(self, frame_index: int) -> bool:
        return frame_index % self.step == 0


def processed_frames(frames_decoded: int, video_fps: float, sample_fps: object) -> list[int]:
    """Indices of the frames a pipeline with this `sample_fps` (None: every frame) processed."""
    rate = float(sample_fps) if isinstance(sample_fps, int | float) else None
    return list(range(0, frames_decoded, FrameSampler(video_fps, rate).step))
