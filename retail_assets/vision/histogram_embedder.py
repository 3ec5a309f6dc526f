"""Colour histograms as appearance features: a cheap alternative to a CNN embedding.

Each person crop is split into an upper and a lower half (clothes of the torso and of the legs
differ more between people than within one) and described by a hue-saturation histogram of each
half, pixels too dark or too grey to have a reliable hue left out, then L2-normalised so DeepSort's
cosine metric compares them. A few hundred microseconds a crop, against milliseconds for
MobileNetV2; docs/performance.md holds what it costs in identities.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from retail_assets.vision.embedder import crop

HUE_BINS = 16
SATURATION_BINS = 4
FEATURE_DIM = 2 * HUE_BINS * SATURATION_BINS
# Hue means little on near-black or near-grey pixels: they are left out of the histogram.
MIN_VALUE = 40
MIN_SATURATION = 30


class ColourHistogramEmbedder:
    """Upper- and lower-body hue-saturation histograms of each crop, L2-normalised."""

    name = "colour-histogram"

    def embed(self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        features = np.zeros((len(boxes), FEATURE_DIM), dtype=np.float32)
        for row, box in enumerate(boxes):
            hsv = cv2.cvtColor(crop(image, box), cv2.COLOR_BGR2HSV)
            mask = cv2.inRange(hsv, (0, MIN_SATURATION, MIN_VALUE), (180, 256, 256))
            middle = hsv.shape[0] // 2
            halves = [(hsv[:middle], mask[:middle]), (hsv[middle:], mask[middle:])]
            parts = [
                cv2.calcHist([part], [0, 1], part_mask, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256]).ravel()
                if part.size
                else np.zeros(HUE_BINS * SATURATION_BINS, dtype=np.float32)
                for part, part_mask in halves
            ]
            vector = np.concatenate(parts)
            norm = float(np.linalg.norm(vector))
            # A crop with no coloured pixel gets a flat feature rather than zeros (cosine of zero is undefined).
            features[row] = vector / norm if norm > 0 else 1.0 / np.sqrt(FEATURE_DIM)
        return features
