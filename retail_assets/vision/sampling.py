"""Which decoded frames get processed: all of them, or a target rate (`sample_fps`)."""

from __future__ import annotations


class FrameSampler:
    """Keeps a frame when it starts a new `1/sample_fps` time slot of the video.

    Decisions depend only on the frame index and the video's fps, so the same video and
    settings always process the same frames (needed for deterministic output).
    """

    def __init__(self, video_fps: float, sample_fps: float | None) -> None:
        if sample_fps is not None and sample_fps <= 0:
            raise ValueError(f"sample_fps must be positive, got {sample_fps}")
        # Sampling at or above the video's own rate (or with an unknown rate) keeps every frame.
        self._step = video_fps / sample_fps if sample_fps and video_fps > sample_fps else 1.0
        self._next_slot = 0

    @property
    def keeps_every_frame(self) -> bool:
        return self._step == 1.0

    def keep(self, frame_index: int) -> bool:
        if self.keeps_every_frame:
            return True
        slot = int(frame_index // self._step)
        if slot >= self._next_slot:
            self._next_slot = slot + 1
            return True
        return False


def processed_frames(frames_decoded: int, video_fps: float, sample_fps: object) -> list[int]:
    """Indices of the frames a pipeline with this `sample_fps` (None: every frame) processed."""
    rate = float(sample_fps) if isinstance(sample_fps, int | float) else None
    sampler = FrameSampler(video_fps, rate)
    return [index for index in range(frames_decoded) if sampler.keep(index)]
