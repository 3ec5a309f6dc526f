"""Occupancy of a sampled video counts the frames the pipeline processed, whatever the rate asked."""

from __future__ import annotations

import pytest

from retail_assets.analytics.silver import build_silver
from retail_assets.vision.sampling import FrameSampler
from retail_assets_tests.analytics.helpers import DAY, GEOMETRY, detections, track_rows


@pytest.mark.parametrize("sample_fps", [5.0, 6.0, 4.0, 3.0])
def test_one_person_in_every_processed_frame_is_one_person_on_average(sample_fps: float) -> None:
    # A minute of a 10 fps video; 6 and 4 fps do not divide 10.
    sampler = FrameSampler(10.0, sample_fps)
    frames = [index for index in range(600) if sampler.keep(index)]
    rows = [row for frame in frames for row in track_rows(1, [(150.0, 50.0)], first_frame=frame)]
    occupancy = build_silver(detections(rows), GEOMETRY, DAY).occupancy.to_pylist()
    whole_frame = [row for row in occupancy if row["zone"] == "*"]
    assert sum(row["frames"] for row in whole_frame) == len(frames)
    assert sum(row["people_sum"] for row in whole_frame) == len(frames)
