"""DeepSort's nearest-neighbour cosine metric, vectorised: same distances, a fraction of the cost.

deep-sort-realtime keeps each track's appearance samples as a Python list of vectors and, for
every association step of every frame, turns each list back into an array and normalises all
of it again. With 1280-d features and up to `nn_budget` samples per track that copying and
normalising dominates the tracker's time. This drop-in replacement normalises each feature
once, when it arrives, and keeps every track's samples as one array, so a distance query is a
single matrix product per track. The distances (1 - cosine similarity, minimum over a
track's samples) are the ones the original computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, np.finfo(np.float32).tiny)


class NearestNeighborCosine:
    """The interface of `deep_sort.nn_matching.NearestNeighborDistanceMetric("cosine", ...)`."""

    def __init__(self, matching_threshold: float, budget: int | None = None) -> None:
        self.matching_threshold = matching_threshold
        self.budget = budget
        self.samples: dict[int, np.ndarray] = {}

    def partial_fit(self, features: np.ndarray, targets: np.ndarray, active_targets: Sequence[int]) -> None:
        if len(features):
            normalised = _normalised(features)
            for target in np.unique(targets):
                new = normalised[np.asarray(targets) == target]
                old = self.samples.get(int(target))
                stacked = new if old is None else np.concatenate([old, new])
                if self.budget is not None:
                    stacked = stacked[-self.budget :]
                self.samples[int(target)] = stacked
        active = {int(t) for t in active_targets}
        self.samples = {k: v for k, v in self.samples.items() if k in active}

    def distance(self, features: np.ndarray, targets: Sequence[int]) -> np.ndarray:
        cost = np.zeros((len(targets), len(features)))
        if not len(features):
            return cost
        queries = _normalised(features).T
        for row, target in enumerate(targets):
            cost[row] = 1.0 - (self.samples[int(target)] @ queries).max(axis=0)
        return cost
