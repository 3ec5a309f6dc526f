"""One video -> NDJSON v1 detection events: decode, sample, detect, embed, track, write.

`VideoPipeline` loads the model once and is reused for many videos; each `process` call starts
a fresh tracker, streams events to a hidden file and renames it into place only when the whole
video went through. Memory does not grow with video length (one frame at a time, plus one
copy of the frame chosen for the preview, plus one small JPEG per fall episode). With
`PipelineConfig.blur_people` every person detected in the preview frame is pixelated before boxes
and track ids are drawn on it. The frame where a fall episode starts (the rule of
`contracts/falls.py`) is kept the same way, annotated and blurred, for the fall alerts to show.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retail_assets.errors import InputError
from retail_assets.prefetch import prefetched
from retail_assets.vision.backends import build_detector, build_embedder, build_tracker
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.detector import Detection, Detector
from retail_assets.vision.drawing import annotate, encode_jpeg
from retail_assets.vision.embedder import AppearanceEmbedder
from retail_assets.vision.events import AtomicNdjsonWriter, EventBuilder
from retail_assets.vision.falls import FallEpisodes, FallFrame
from retail_assets.vision.models import resolve_model
from retail_assets.vision.privacy import PERSON_PAD, blur_regions
from retail_assets.vision.progress import ProgressBar
from retail_assets.vision.sampling import FrameSampler
from retail_assets.vision.stage_clock import StageClock
from retail_assets.vision.tracker import TrackedDetection, Tracker, TrackerSettings
from retail_assets.vision.trackers import TRACKERS
from retail_assets.vision.video_source import Frame, VideoSource, fetch_s3_video

FrameCallback = Callable[[Frame, Sequence[TrackedDetection], float], None]


@dataclass(frozen=True)
class VideoContext:
    store_id: str
    camera_id: str
    start_time: datetime  # aware, UTC
    video_uri: str
    video_etag: str


@dataclass
class PipelineStats:
    frames_decoded: int
    frames_processed: int
    frames_skipped_corrupt: int
    detections: int  # events written
    tracks: int  # distinct confirmed track ids
    seconds: float
    fps: float  # processed frames per second of wall time
    video_fps: float
    width: int
    height: int
    model: str  # name@sha12
    preview_jpeg: bytes | None
    config_fingerprint: str = ""
    preview_frame_index: int | None = None  # the video frame the preview shows
    preview_blurred: bool = False  # people in the preview are pixelated (`PipelineConfig.blur_people`)
    damaged_stretches: list[tuple[int, int]] = field(default_factory=list)
    out: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)  # decode/detect/embed/track/serialize
    fall_frames: list[FallFrame] = field(default_factory=list)  # one per fall episode start


class VideoPipeline:
    """Loads the detector (and embedder) once; `process` runs one video."""

    def __init__(
        self,
        config: PipelineConfig,
        detector: Detector | None = None,
        embedder: AppearanceEmbedder | None = None,
    ) -> None:
        self.config = config
        self._resolved = resolve_model(config.model)
        self._config_fingerprint = config.fingerprint()
        # Backends are injectable so exported or batched detectors can replace the default.
        self.detector: Detector = detector or build_detector(config, self._resolved)
        self.embedder: AppearanceEmbedder | None = None
        if TRACKERS[config.tracker].needs_embeddings:
            self.embedder = embedder or build_embedder(config)

    @property
    def model_fingerprint(self) -> str:
        return self.detector.fingerprint

    @property
    def config_fingerprint(self) -> str:
        return self._config_fingerprint

    def _new_tracker(self, video_fps: float = 0.0) -> Tracker:
        return build_tracker(self.config, video_fps)

    def warm_up(self, image: np.ndarray) -> None:
        """Run detector and embedder once (lazy compilation, memory pools) before timing."""
        self.detector.detect(image)
        if self.embedder is not None:
            height, width = image.shape[:2]
            self.embedder.embed(image, [(0.0, 0.0, width / 4, height / 2)])

    def process(
        self,
        source: str | Path,
        context: VideoContext,
        out: Path,
        progress: bool = False,
        on_frame: FrameCallback | None = None,
        clock: StageClock | None = None,
    ) -> PipelineStats:
        """Read a local path or s3:// URI, write NDJSON to `out` atomically, return stats."""
        if context.start_time.tzinfo is None:
            raise InputError(f"video {source}: start time {context.start_time} has no timezone")
        downloaded: Path | None = None
        local: str | Path = source
        if str(source).startswith("s3://"):
            downloaded = fetch_s3_video(str(source))
            local = downloaded
        try:
            with VideoSource(local, display_name=str(source)) as video:
                return self._run(video, context, Path(out), progress, on_frame, clock or StageClock())
        finally:
            if downloaded is not None:
                with contextlib.suppress(OSError):
                    os.unlink(downloaded)

    def _run(
        self,
        video: VideoSource,
        context: VideoContext,
        out: Path,
        progress: bool,
        on_frame: FrameCallback | None,
        clock: StageClock,
    ) -> PipelineStats:
        from threadpoolctl import threadpool_limits

        info = video.info
        tracker = self._new_tracker(info.fps)
        sampler = FrameSampler(info.fps, self.config.sample_fps)
        builder = EventBuilder(
            store_id=context.store_id,
            camera_id=context.camera_id,
            start_time=context.start_time,
            video_uri=context.video_uri,
            video_etag=context.video_etag,
            model=self.model_fingerprint,
            tracker=tracker.name,
            config_fingerprint=self._config_fingerprint,
            frame_w=info.width,
            frame_h=info.height,
        )
        total = info.frame_count
        if self.config.max_frames is not None:
            total = min(total, self.config.max_frames) if total else self.config.max_frames
        bar = ProgressBar(total, f"{Path(str(context.video_uri)).name}") if progress else None
        processed = 0
        preview: _Preview | None = None
        falls = FallEpisodes()
        fall_frames: list[FallFrame] = []
        # The tracker's matrix products are small: one BLAS thread is faster than several
        # competing with the detector's threads for the same cores.
        blas = threadpool_limits(limits=1, user_api="blas")
        started = time.perf_counter()
        try:
            with AtomicNdjsonWriter(out) as writer:
                for frame, detections in self._detected_frames(video, sampler, clock):
                    if bar is not None:
                        bar.update(video.report.frames_decoded)
                    tracked = self._track(frame, detections, tracker, clock)
                    processed += 1
                    with clock.stage("serialize"):
                        events = [self._event(builder, frame, item) for item in tracked]
                        for event in events:
                            writer.write(event)
                    for position in falls.starts(frame.pts_ms / 1000.0, tracked):
                        item = tracked[position]
                        assert item.track_id is not None  # only confirmed tracks start an episode
                        image = frame_jpeg(frame.image, tracked, detections, self.config.blur_people)
                        fall_frames.append(
                            FallFrame(
                                events[position]["event_id"], item.track_id, frame.index, frame.pts_ms, image
                            )
                        )
                    # Keep the busiest frame for the preview (first one wins ties: deterministic).
                    if tracked and (preview is None or len(tracked) > len(preview.tracked)):
                        preview = _Preview(frame.index, frame.image.copy(), tracked, detections)
                    if on_frame is not None:
                        elapsed = time.perf_counter() - started
                        on_frame(frame, tracked, processed / elapsed if elapsed > 0 else 0.0)
                writer.commit()
                lines = writer.lines
        finally:
            blas.restore_original_limits()
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - started
        return PipelineStats(
            frames_decoded=video.report.frames_decoded,
            frames_processed=processed,
            frames_skipped_corrupt=video.report.frames_skipped_corrupt,
            detections=lines,
            tracks=len(tracker.tracks_confirmed),
            seconds=round(seconds, 3),
            fps=round(processed / seconds, 3) if seconds > 0 else 0.0,
            video_fps=info.fps,
            width=info.width,
            height=info.height,
            model=self.model_fingerprint,
            preview_jpeg=preview.jpeg(self.config.blur_people) if preview is not None else None,
            config_fingerprint=self._config_fingerprint,
            preview_frame_index=preview.frame_index if preview is not None else None,
            preview_blurred=preview is not None and self.config.blur_people,
            damaged_stretches=list(video.report.damaged_stretches),
            out=str(out),
            stage_seconds=dict(clock.seconds),
            fall_frames=fall_frames,
        )

    def _detected_frames(
        self, video: VideoSource, sampler: FrameSampler, clock: StageClock
    ) -> Iterator[tuple[Frame, list[Detection]]]:
        """The frames to process with their detections, in video order.

        With `overlap_stages`, a background thread decodes and detects up to two frames ahead
        while this one embeds and tracks (OpenCV and OpenVINO release the GIL): both cores work,
        and since each stage still sees the frames in order, the events are the sequential run's.
        """

        def detect_each() -> Iterator[tuple[Frame, list[Detection]]]:
            for frame in clock.timed_iter("decode", video.frames(self.config.max_frames)):
                if sampler.keep(frame.index):
                    with clock.stage("detect"):
                        detections = list(self.detector.detect(frame.image))
                    yield frame, detections

        if self.config.overlap_stages:
            return prefetched(detect_each, depth=2, name="decode-detect")
        return detect_each()

    def _track(
        self, frame: Frame, detections: list[Detection], tracker: Tracker, clock: StageClock
    ) -> list[TrackedDetection]:
        """The tracker's answer to one frame's detections (embedding them first if it needs to)."""
        embeddings = None
        if tracker.needs_embeddings and self.embedder is not None:
            with clock.stage("embed"):
                boxes = [d.xyxy for d in detections]
                if self.config.embed_when == "ambiguous":
                    plan = tracker.plan_embeddings(detections)
                    computed = self.embedder.embed(frame.image, [boxes[i] for i in plan.embed])
                    embeddings = plan.assemble(computed)
                else:
                    embeddings = self.embedder.embed(frame.image, boxes)
        with clock.stage("track"):
            return tracker.update(detections, embeddings, frame.image if tracker.needs_image else None)

    @staticmethod
    def _event(builder: EventBuilder, frame: Frame, item: TrackedDetection) -> dict:
        detection = item.detection
        return builder.build(
            frame_index=frame.index,
            pts_ms=frame.pts_ms,
            detection_index=item.detection_index,
            track_id=item.track_id,
            class_id=detection.class_id,
            label=detection.label,
            confidence=detection.confidence,
            box=item.box,
            attributes=dict(detection.attributes),
        )


@dataclass(frozen=True)
class _Preview:
    """The frame chosen for the preview image, with what was found in it."""

    frame_index: int
    image: np.ndarray
    tracked: list[TrackedDetection]
    detections: list[Detection]

    def jpeg(self, blur_people: bool) -> bytes:
        return frame_jpeg(self.image, self.tracked, self.detections, blur_people)


def frame_jpeg(
    image: np.ndarray,
    tracked: Sequence[TrackedDetection],
    detections: Sequence[Detection],
    blur_people: bool,
) -> bytes:
    """The frame as a JPEG with boxes and track ids drawn; people pixelated first when `blur_people`."""
    if blur_people:
        # Every detection of the frame, not only the tracked ones: a person whose track is not
        # confirmed yet has no box drawn but is in the picture all the same.
        boxes = [item.box for item in tracked] + [d.xyxy for d in detections]
        image = blur_regions(image, boxes, pad=PERSON_PAD)
    return encode_jpeg(annotate(image, tracked))


def utc_start(moment: datetime) -> datetime:
    """`moment` as aware UTC (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# PipelineConfig lives in `config`; callers build a config and a pipeline together, so it is
# importable from here as well.
__all__ = [
    "PipelineConfig",
    "PipelineStats",
    "TrackerSettings",
    "VideoContext",
    "VideoPipeline",
]
