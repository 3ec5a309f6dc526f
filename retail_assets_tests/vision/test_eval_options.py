"""`retail-assets eval` options that choose which frames are scored and which features track."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from retail_assets.cli import main as cli_main
from retail_assets.vision.evaluation import load_mot_ground_truth
from retail_assets.vision.histogram_embedder import FEATURE_DIM, ColourHistogramEmbedder
from retail_assets_tests.analytics.test_eval_counts import write_ndjson
from retail_assets_tests.vision.conftest import GT


def _run(vtest: Path, *options: str) -> list[str]:
    return ["eval", "--video", str(vtest), "--gt", str(GT), "--json", "--progress", "0", *options]


def _scores(capsys: pytest.CaptureFixture, argv: list[str]) -> dict:
    assert cli_main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_score_from_leaves_out_the_earlier_frames(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    perfect = write_ndjson(tmp_path / "gt.ndjson")
    gt = load_mot_ground_truth(GT)
    everything = _scores(capsys, ["eval", "--detections", str(perfect), "--gt", str(GT), "--json"])
    held_out = _scores(
        capsys, ["eval", "--detections", str(perfect), "--gt", str(GT), "--json", "--score-from", "100"]
    )
    assert everything["frames"] == len(gt.frames)
    assert held_out["frames"] == len([f for f in gt.frames if f >= 100]) < everything["frames"]
    assert held_out["mota"] == pytest.approx(1.0)  # the ground truth scores perfectly on any frames


def test_sampling_scores_only_the_frames_processed(vtest: Path, capsys: pytest.CaptureFixture) -> None:
    scores = _scores(
        capsys,
        _run(vtest, "--max-frames", "40", "--sample-fps", "2.5"),
    )
    gt = load_mot_ground_truth(GT)
    # vtest.avi runs at 10 fps: 2.5 processed frames a second is every 4th frame
    assert scores["frames"] == len([f for f in gt.frames if f < 40 and f % 4 == 0]) == 10
    assert scores["tp"] > 0


def test_sampling_needs_the_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    perfect = write_ndjson(tmp_path / "gt.ndjson")
    code = cli_main(["eval", "--detections", str(perfect), "--gt", str(GT), "--sample-fps", "5"])
    assert code == 2
    assert "--sample-fps runs the pipeline at that rate" in capsys.readouterr().err


def test_colour_histograms_tell_people_apart(vtest: Path) -> None:
    capture = cv2.VideoCapture(str(vtest))
    ok, image = capture.read()
    capture.release()
    assert ok
    embedder = ColourHistogramEmbedder()
    # Two different places of the first frame, and the first one again shifted by two pixels.
    boxes = [(300.0, 100.0, 340.0, 200.0), (600.0, 300.0, 660.0, 450.0), (302.0, 101.0, 342.0, 201.0)]
    features = embedder.embed(image, boxes)
    assert features.shape == (3, FEATURE_DIM)
    assert np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    same = float(features[0] @ features[2])
    other = float(features[0] @ features[1])
    assert same > 0.9 and same > other
    assert embedder.embed(image, []).shape == (0, FEATURE_DIM)


def test_histogram_features_track_people(vtest: Path, capsys: pytest.CaptureFixture) -> None:
    scores = _scores(
        capsys,
        _run(vtest, "--max-frames", "30", "--embedder", "histogram"),
    )
    assert scores["predicted_ids"] > 0 and scores["tp"] > 0
