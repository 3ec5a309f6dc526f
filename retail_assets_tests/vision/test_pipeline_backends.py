"""Which backends a configuration runs, and the alternatives to DeepSort, end to end on real frames."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retail_assets.errors import InputError
from retail_assets.vision.detector import UltralyticsDetector
from retail_assets.vision.embedder import MobileNetEmbedder
from retail_assets.vision.openvino_detector import OpenVinoDetector
from retail_assets.vision.openvino_embedder import OpenVinoMobileNetEmbedder
from retail_assets.vision.pipeline import PipelineConfig, VideoContext, VideoPipeline
from retail_assets.vision.stage_clock import STAGES

FRAMES = 12


def _context(video: Path) -> VideoContext:
    return VideoContext("store-1", "cam-1", datetime(2026, 11, 28, 9, tzinfo=UTC), video.as_uri(), "etag-1")


def test_default_runs_the_exported_model_and_reference_runs_pytorch() -> None:
    default, reference = PipelineConfig(), PipelineConfig.reference()
    assert isinstance(VideoPipeline(default).detector, OpenVinoDetector)
    assert isinstance(VideoPipeline(default).embedder, OpenVinoMobileNetEmbedder)
    reference_pipeline = VideoPipeline(reference)
    assert isinstance(reference_pipeline.detector, UltralyticsDetector)
    assert isinstance(reference_pipeline.embedder, MobileNetEmbedder)
    # same detection and tracking settings, different runtimes: outputs never share a fingerprint
    assert (reference.conf, reference.tracker, reference.tracking) == (
        default.conf,
        default.tracker,
        default.tracking,
    )
    assert default.fingerprint() != reference.fingerprint()


def test_unknown_runtime_or_embedder_is_refused() -> None:
    with pytest.raises(InputError, match="runtime must be one of openvino, pytorch"):
        PipelineConfig(runtime="tensorrt")
    with pytest.raises(InputError, match="embed_size"):
        PipelineConfig(embed_size=(16, 16))


@pytest.mark.parametrize("tracker", ["bytetrack", "botsort"])
def test_ultralytics_trackers_give_ids_without_embeddings(
    tracker: str, clip_avi: Path, tmp_path: Path
) -> None:
    pipeline = VideoPipeline(PipelineConfig(tracker=tracker, max_frames=FRAMES))
    assert pipeline.embedder is None
    out = tmp_path / f"{tracker}.ndjson"
    stats = pipeline.process(clip_avi, _context(clip_avi), out)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert stats.frames_processed == FRAMES and events
    assert {event["tracker"] for event in events} == {tracker}
    assert all(isinstance(event["track_id"], int) for event in events)
    # people walk through the clip: most ids last several frames rather than one
    frames_per_id: dict[int, int] = {}
    for event in events:
        frames_per_id[event["track_id"]] = frames_per_id.get(event["track_id"], 0) + 1
    assert max(frames_per_id.values()) >= FRAMES // 2
    assert stats.stage_seconds["embed"] == 0.0 and stats.stage_seconds["track"] > 0


def test_stage_times_cover_every_stage_and_fit_in_the_run(clip_avi: Path, tmp_path: Path) -> None:
    stats = VideoPipeline(PipelineConfig(max_frames=FRAMES)).process(
        clip_avi, _context(clip_avi), tmp_path / "default.ndjson"
    )
    assert set(stats.stage_seconds) == set(STAGES)
    assert all(stats.stage_seconds[stage] > 0 for stage in ("decode", "detect", "embed", "track"))
    # Decoding and detection overlap the other stages in a thread of their own: each thread's
    # stages fit in the run, both together may not.
    for stages in (("decode", "detect"), ("embed", "track", "serialize")):
        assert sum(stats.stage_seconds[stage] for stage in stages) <= stats.seconds * 1.01 + 0.01
