"""Fall frames: the detections step keeps the annotated, blurred frame of every fall episode start.

The episode rule is checked on synthetic observations; the stored frames on a real stretch of
vtest.avi (frames 495-524, copied losslessly) where the bundled model sees a person as fallen.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from retail_assets.contracts.falls import FALL_EPISODE_GAP_S, fall_frame_key
from retail_assets.contracts.layout import parse_video_key
from retail_assets.detections.ndjson_store import META_FALL_TRACK, META_PREVIEW_BLURRED, infer_video
from retail_assets.inventory.manifest import describe_video
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.detector import Detection
from retail_assets.vision.falls import FallEpisodes
from retail_assets.vision.pipeline import VideoPipeline
from retail_assets.vision.tracker import TrackedDetection
from retail_assets_tests.vision.conftest import VTEST

FIRST_FRAME, END_FRAME = 495, 525  # the model sees one person fallen at frame 513 of vtest.avi


def _observation(track_id: int | None, fallen: bool) -> TrackedDetection:
    attributes = {"posture": "fallen"} if fallen else {}
    detection = Detection(10.0, 10.0, 50.0, 120.0, 0.9, 0, "person", attributes)
    return TrackedDetection(detection, 0, track_id, (10.0, 10.0, 50.0, 120.0))


def test_an_episode_starts_at_the_first_fallen_observation_and_ends_after_a_gap() -> None:
    episodes = FallEpisodes()
    seen = []
    # track 1: fallen at 0.0, 1.0, 3.0 (gaps <= 2 s: one episode), upright at 4.0, fallen at 5.5
    # (2.5 s after the last fallen one: a new episode); an unconfirmed fallen box never starts one.
    for t, observations in [
        (0.0, [_observation(1, True), _observation(None, True)]),
        (1.0, [_observation(1, True), _observation(2, False)]),
        (1.0 + FALL_EPISODE_GAP_S, [_observation(1, True), _observation(2, True)]),
        (4.0, [_observation(1, False), _observation(2, True)]),
        (5.5, [_observation(1, True), _observation(None, True)]),
    ]:
        seen += [(t, observations[p].track_id) for p in episodes.starts(t, observations)]
    assert seen == [(0.0, 1), (3.0, 2), (5.5, 1)]


def _lossless_clip(path: Path) -> Path:
    capture = cv2.VideoCapture(str(VTEST))
    writer = None
    try:
        for index in range(END_FRAME):
            ok, image = capture.read()
            assert ok, f"{VTEST} ended at frame {index}"
            if index < FIRST_FRAME:
                continue
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10.0, size)
            writer.write(image)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return path


@pytest.mark.slow
def test_the_frame_of_every_fall_start_is_stored_blurred_where_the_alert_points(
    s3, pipeline_s3, tmp_path: Path
) -> None:
    assert VTEST.is_file(), f"{VTEST} is missing: install Debian's opencv-doc package (make system-deps)"
    clip = _lossless_clip(tmp_path / "clip.avi")
    key = f"store-fall-{uuid.uuid4().hex[:6]}/cam-1/2026-11-28/090000.avi"
    s3.upload_file(str(clip), "videos", key)
    entry = describe_video(pipeline_s3, "videos", parse_video_key(key), "UTC")
    pipeline = VideoPipeline(PipelineConfig(blur_people=True))

    made, stats = infer_video(pipeline_s3, pipeline, entry, "detections", tmp_path)

    events = [
        json.loads(line)
        for line in pipeline_s3.get_object(Bucket="detections", Key=made.ndjson_key)["Body"].iter_lines()
    ]
    fallen = [e for e in events if e["attributes"].get("posture") == "fallen" and e["track_id"] is not None]
    assert fallen, "the model saw nobody fallen in frames 495-524 of vtest.avi"
    # The episode starts, found from the stored events alone with the shared rule.
    last: dict[int, float] = {}
    starts = []
    for event in sorted(fallen, key=lambda e: e["pts_ms"]):
        t = event["pts_ms"] / 1000
        if event["track_id"] not in last or t - last[event["track_id"]] > FALL_EPISODE_GAP_S:
            starts.append(event)
        last[event["track_id"]] = t
    assert [f.event_id for f in stats.fall_frames] == [e["event_id"] for e in starts]
    for event in starts:
        stored = pipeline_s3.get_object(Bucket="detections", Key=fall_frame_key(key, event["event_id"]))
        assert stored["Metadata"][META_PREVIEW_BLURRED] == "true"
        assert stored["Metadata"][META_FALL_TRACK] == str(event["track_id"])
        image = cv2.imdecode(np.frombuffer(stored["Body"].read(), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (event["frame_h"], event["frame_w"])
        # The fallen person's box is pixelated: inside it the picture has far less detail than the
        # same region of the original frame.
        capture = cv2.VideoCapture(str(clip))
        capture.set(cv2.CAP_PROP_POS_FRAMES, event["frame_index"])
        ok, original = capture.read()
        capture.release()
        assert ok
        assert _detail(image, event["bbox"]) < _detail(original, event["bbox"]) / 2


def _detail(image: np.ndarray, box: dict[str, float]) -> float:
    """Variance of the Laplacian inside the box (inset past the drawn rectangle): edges, i.e. detail."""
    inner = image[int(box["y1"]) + 4 : int(box["y2"]) - 4, int(box["x1"]) + 4 : int(box["x2"]) - 4]
    return float(cv2.Laplacian(cv2.cvtColor(inner, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())
