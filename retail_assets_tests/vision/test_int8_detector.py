"""The INT8 detector: quantized once per calibration set, cached, and close to the float boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from retail_assets.errors import InputError, SetupError
from retail_assets.vision.backends import detector_precision
from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.models import resolve_model
from retail_assets.vision.openvino_detector import OpenVinoDetector
from retail_assets.vision.quantization import CALIBRATION_VIDEO_ENV, INT8_RECIPE, CalibrationSet

# Held out: none of these frames is in the calibration set below (frames 0-18).
CHECKED_FRAMES = range(300, 420, 4)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("int8-cache")


@pytest.fixture(scope="module")
def calibration(vtest: Path) -> CalibrationSet:
    return CalibrationSet(vtest, first=0, last=18, step=2)  # 10 frames keep the test short


@pytest.fixture(scope="module")
def detectors(model_cache: Path, calibration: CalibrationSet) -> tuple[OpenVinoDetector, OpenVinoDetector]:
    model = resolve_model("default")
    settings = PipelineConfig().detector_settings()
    float_detector = OpenVinoDetector(model, settings, cache=model_cache)
    int8_detector = OpenVinoDetector(model, settings, cache=model_cache, int8=True, calibration=calibration)
    return float_detector, int8_detector


def _frames(video: Path, indices: range) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    for index in range(indices.stop):
        ok, image = capture.read()
        assert ok
        if index in indices:
            frames.append(image)
    capture.release()
    return frames


def test_int8_export_is_cached_per_calibration_set(
    detectors: tuple[OpenVinoDetector, OpenVinoDetector],
    model_cache: Path,
    calibration: CalibrationSet,
    vtest: Path,
) -> None:
    float_detector, int8_detector = detectors
    model = resolve_model("default")
    assert int8_detector.export.exported_now
    assert int8_detector.export.directory.name == (
        f"{float_detector.export.directory.name}-int8r{INT8_RECIPE}-{calibration.fingerprint()}"
    )
    # Events name the quantized weights apart from the float ones.
    assert int8_detector.fingerprint == f"{model.name}-int8@{model.sha256[:12]}"
    assert float_detector.fingerprint == model.fingerprint
    settings = PipelineConfig().detector_settings()
    again = OpenVinoDetector(model, settings, cache=model_cache, int8=True, calibration=calibration)
    assert not again.export.exported_now and again.export.directory == int8_detector.export.directory
    other = CalibrationSet(vtest, first=0, last=18, step=3)
    assert other.fingerprint() != calibration.fingerprint()


def test_int8_export_keeps_only_the_heads_outputs_in_float(
    detectors: tuple[OpenVinoDetector, OpenVinoDetector],
) -> None:
    import openvino as ov

    _, int8_detector = detectors
    network = ov.Core().read_model(int8_detector.export.xml)
    quantized, in_float = set(), set()
    for op in network.get_ordered_ops():
        if op.get_type_name() == "Convolution":
            layer = op.get_friendly_name().split("/")[0]
            # 8-bit weights reach a convolution through a dequantizing Multiply; float ones as they are.
            weights = op.input_value(1).get_node().get_type_name()
            (in_float if weights == "Constant" else quantized).add(layer)
    # The 1x1 projections to box distributions and class scores of each of the three scales, and
    # the distribution-focal decoding; every other convolution has 8-bit weights.
    head = "__module.model.22"
    outputs = {f"{head}.cv{branch}.{scale}.2" for branch in (2, 3) for scale in range(3)}
    assert in_float == outputs | {f"{head}.dfl.conv"}
    assert len(quantized) > 50


def test_int8_boxes_agree_with_the_float_export_on_held_out_frames(
    detectors: tuple[OpenVinoDetector, OpenVinoDetector], vtest: Path
) -> None:
    float_detector, int8_detector = detectors
    matched = float_boxes = int8_boxes = 0
    for image in _frames(vtest, CHECKED_FRAMES):
        expected, got = float_detector.detect(image), int8_detector.detect(image)
        float_boxes += len(expected)
        int8_boxes += len(got)
        if expected and got:
            iou = iou_matrix(np.array([d.xyxy for d in expected]), np.array([d.xyxy for d in got]))
            rows, cols = linear_sum_assignment(-iou)
            matched += int((iou[rows, cols] >= 0.5).sum())
    assert float_boxes > 100  # people are in these frames
    assert matched / float_boxes >= 0.9, (matched, float_boxes)
    assert matched / int8_boxes >= 0.9, (matched, int8_boxes)


def test_a_runtime_without_the_calibration_video_uses_the_cached_int8_export(
    detectors: tuple[OpenVinoDetector, OpenVinoDetector], model_cache: Path, tmp_path: Path
) -> None:
    _, int8_detector = detectors
    model = resolve_model("default")
    settings = PipelineConfig().detector_settings()
    found = OpenVinoDetector(model, settings, cache=model_cache, int8=True, calibration=None)
    assert found.export.directory == int8_detector.export.directory and not found.export.exported_now
    empty = tmp_path / "empty-cache"
    with pytest.raises(SetupError, match=r"no INT8 export of .* and no calibration video"):
        OpenVinoDetector(model, settings, cache=empty, int8=True, calibration=None)


def test_int8_needs_calibration_frames(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CALIBRATION_VIDEO_ENV, str(tmp_path / "missing.mp4"))
    with pytest.raises(SetupError, match=r"missing\.mp4: file does not exist"):
        CalibrationSet.default().fingerprint()
    with pytest.raises(SetupError, match="first <= last"):
        CalibrationSet(tmp_path / "x.mp4", first=10, last=5)


def test_int8_is_refused_outside_the_openvino_runtime() -> None:
    with pytest.raises(InputError, match="precision int8 needs the OpenVINO runtime"):
        PipelineConfig(precision="int8", runtime="pytorch")
    with pytest.raises(InputError, match="precision must be one of auto, fp32, int8"):
        PipelineConfig(precision="int4")
    # The reference stays at full precision whatever the default becomes.
    assert PipelineConfig.reference().precision == "fp32"


def test_auto_precision_is_int8_only_where_the_detector_runs_from_the_openvino_export() -> None:
    model = resolve_model("default")
    assert PipelineConfig().precision == "auto"
    assert detector_precision(PipelineConfig(), model) == "int8"
    # the PyTorch runtime and GPUs run the weights as they are, with no flag to remember
    assert detector_precision(PipelineConfig(runtime="pytorch"), model) == "fp32"
    assert detector_precision(PipelineConfig(device="cuda:0"), model) == "fp32"
    assert detector_precision(PipelineConfig(precision="fp32"), model) == "fp32"


def test_int8_outputs_are_stored_apart_from_float_ones() -> None:
    # (fp32 leaves the fingerprint as it was before the setting existed: the pinned values in
    # test_pipeline_config.py hold that.)
    assert PipelineConfig(precision="int8").fingerprint() != PipelineConfig(precision="fp32").fingerprint()
