"""People pixelated in the preview image: `blur_regions` itself, the setting, and the pipeline on
the first frames of the real PETS09 video with the real model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from retail_assets.errors import InputError
from retail_assets.settings import Settings
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.pipeline import PipelineStats, VideoContext, VideoPipeline
from retail_assets.vision.privacy import blur_regions
from retail_assets_tests.privacy_checks import (
    assert_background_kept,
    assert_people_hidden,
    decode,
    detail_correlation,
    frame_of,
)

FRAMES = 10


def _noise(height: int = 120, width: int = 160, channels: int | None = 3) -> np.ndarray:
    """Random pixels: averaging changes nearly every one of them, so any pixel left alone shows."""
    shape = (height, width) if channels is None else (height, width, channels)
    return np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)


def _mask(shape: tuple[int, ...], *regions: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in regions:
        mask[y1:y2, x1:x2] = True
    return mask


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).reshape(*a.shape[:2], -1).any(axis=2)


def test_pixels_inside_boxes_change_and_every_pixel_outside_stays_exactly() -> None:
    image = _noise()
    before = image.copy()
    # Fractional edges are widened to whole pixels: 10.5 -> 10, 49.2 -> 50.
    out = blur_regions(image, [(10.5, 20.0, 49.2, 100.0), (90, 10, 130, 40)])
    inside = _mask(image.shape, (10, 20, 50, 100), (90, 10, 130, 40))
    assert np.array_equal(out[~inside], image[~inside])
    assert _changed(out, image)[inside].mean() > 0.95
    assert np.array_equal(image, before), "the caller's frame was modified"
    assert out is not image


def test_detail_inside_a_box_is_gone_whatever_its_size() -> None:
    for height in (40, 120, 400):
        image = _noise(height + 20, height)
        width = height // 3  # a standing person's box
        out = blur_regions(image, [(0, 10, width, 10 + height)])
        region = out[10 : 10 + height, :width].reshape(-1, 3)
        # At most 8 cells along the longer side: a face (an eighth of the height) is one colour.
        assert len(np.unique(region, axis=0)) <= 8 * 3, height
        assert abs(detail_correlation(out[10 : 10 + height, :width], image[10 : 10 + height, :width])) < 0.2


def test_boxes_partly_outside_the_frame_are_clipped_and_those_wholly_outside_ignored() -> None:
    image = _noise()
    out = blur_regions(
        image,
        [
            (-30, -15, 25, 40),  # top-left corner
            (140, 90, 400, 300),  # bottom-right corner
            (200, 10, 260, 60),  # right of the frame
            (50, 50, 50, 80),  # no width
            (float("nan"), 0, 10, 10),
        ],
    )
    assert out.shape == image.shape and out.dtype == image.dtype
    inside = _mask(image.shape, (0, 0, 25, 40), (140, 90, 160, 120))
    assert np.array_equal(out[~inside], image[~inside])
    assert _changed(out, image)[inside].mean() > 0.95


def test_no_boxes_gives_an_equal_copy() -> None:
    image = _noise()
    out = blur_regions(image, [])
    assert np.array_equal(out, image) and out is not image


def test_padding_grows_each_box_by_a_fraction_of_its_size() -> None:
    image = _noise()
    out = blur_regions(image, [(40, 20, 80, 100)], pad=0.1)  # 4 px wider, 8 px taller on each side
    inside = _mask(image.shape, (36, 12, 84, 108))
    assert np.array_equal(out[~inside], image[~inside])
    assert _changed(out, image)[inside].mean() > 0.95


def test_single_channel_images_are_blurred_too() -> None:
    image = _noise(channels=None)
    out = blur_regions(image, [(0, 0, 40, 80)])
    assert out.shape == image.shape
    assert np.array_equal(out[80:], image[80:]) and not np.array_equal(out[:80, :40], image[:80, :40])


@pytest.mark.parametrize(("cells", "pad"), [(0, 0.0), (8, -0.1)])
def test_nonsense_settings_are_refused(cells: int, pad: float) -> None:
    with pytest.raises(ValueError):
        blur_regions(_noise(), [(0, 0, 10, 10)], cells=cells, pad=pad)


def test_blurring_does_not_change_the_fingerprint_stored_events_are_keyed_by() -> None:
    for config in (PipelineConfig(), PipelineConfig(tracker="none", max_frames=5)):
        assert config.with_overrides(blur_people=True).fingerprint() == config.fingerprint()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("", True), ("true", True), ("ON", True), ("1", True), ("false", False), ("0", False)],
)
def test_the_setting_is_on_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv("RVA_BLUR_PEOPLE", raising=False)
    else:
        monkeypatch.setenv("RVA_BLUR_PEOPLE", value)
    assert Settings.from_env().blur_people is expected


def test_an_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RVA_BLUR_PEOPLE", "sometimes")
    with pytest.raises(InputError, match="RVA_BLUR_PEOPLE='sometimes'"):
        Settings.from_env()


@dataclass(frozen=True)
class Runs:
    pipeline: VideoPipeline  # the blurring one; its detector serves both runs
    blurred: tuple[Path, PipelineStats]
    plain: tuple[Path, PipelineStats]


@pytest.fixture(scope="module")
def runs(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The first frames of vtest.avi with blurring on and off; one model serves both."""
    blurring = VideoPipeline(PipelineConfig(max_frames=FRAMES, blur_people=True))
    plain = VideoPipeline(
        PipelineConfig(max_frames=FRAMES), detector=blurring.detector, embedder=blurring.embedder
    )
    context = VideoContext("pets09", "view-001", datetime(2009, 3, 1, 12, tzinfo=UTC), vtest.as_uri(), "e")
    root = tmp_path_factory.mktemp("privacy")
    made = []
    for name, pipeline in (("blurred", blurring), ("plain", plain)):
        out = root / f"{name}.ndjson"
        made.append((out, pipeline.process(vtest, context, out)))
    return Runs(blurring, made[0], made[1])


def _boxes_in_frame(out: Path, index: int) -> list[tuple[float, float, float, float]]:
    events = [json.loads(line) for line in out.read_text().splitlines()]
    return [
        (e["bbox"]["x1"], e["bbox"]["y1"], e["bbox"]["x2"], e["bbox"]["y2"])
        for e in events
        if e["frame_index"] == index
    ]


def test_the_stored_preview_hides_the_people_and_keeps_the_rest_of_the_frame(runs: Runs, vtest: Path) -> None:
    out, stats = runs.blurred
    assert stats.preview_blurred and stats.preview_jpeg is not None
    index = stats.preview_frame_index
    assert index is not None and 0 <= index < FRAMES
    source = frame_of(str(vtest), index)
    preview = decode(stats.preview_jpeg)
    assert preview.shape == source.shape
    tracked = _boxes_in_frame(out, index)
    assert len(tracked) >= 3, "the busiest frame of the clip shows several people"
    assert_people_hidden(preview, source, tracked)
    # Untracked detections (tracks not confirmed yet) are blurred too: re-detect the frame to
    # know every region the pipeline may have pixelated.
    detected = [d.xyxy for d in runs.pipeline.detector.detect(source)]
    assert_background_kept(preview, source, tracked + detected)


def test_without_the_setting_the_preview_shows_the_people_and_the_events_are_the_same(
    runs: Runs, vtest: Path
) -> None:
    (blurred_out, blurred), (plain_out, plain) = runs.blurred, runs.plain
    assert plain_out.read_bytes() == blurred_out.read_bytes(), "blurring changed the events"
    assert blurred.config_fingerprint == plain.config_fingerprint
    index = plain.preview_frame_index
    assert not plain.preview_blurred and index is not None and index == blurred.preview_frame_index
    assert plain.preview_jpeg is not None
    with pytest.raises(AssertionError, match="detail is still there"):
        assert_people_hidden(
            decode(plain.preview_jpeg), frame_of(str(vtest), index), _boxes_in_frame(plain_out, index)
        )
