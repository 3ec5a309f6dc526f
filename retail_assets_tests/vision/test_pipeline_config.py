"""The pipeline's settings, the tracker registry and the module seams of the vision library."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import numpy as np
import pytest

import retail_assets.vision
from retail_assets.errors import InputError
from retail_assets.vision.backends import build_tracker
from retail_assets.vision.cli_options import add_model_arguments
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.detector import DetectorSettings
from retail_assets.vision.tracker import TrackerSettings
from retail_assets.vision.trackers import NO_TRACKER, TRACKERS, TRACKING_CHOICES

# Stored NDJSON is keyed by these (S3 metadata `config-fingerprint`): if one changes, every
# stored output of those settings is re-inferred. Change a value here only together with a
# deliberate change of what the pipeline produces (and PIPELINE_VERSION).
PINNED_FINGERPRINTS = {
    "default": (PipelineConfig(), "94a2c3ab3463"),
    "reference": (PipelineConfig.reference(), "a381ebc63b25"),
    "bytetrack": (PipelineConfig(tracker="bytetrack"), "e3b148abb4ef"),
    "no tracker": (PipelineConfig(tracker="none"), "495047fe7813"),
}


@pytest.mark.parametrize("name", list(PINNED_FINGERPRINTS))
def test_fingerprints_of_the_real_default_model_stay_what_stored_outputs_are_keyed_by(name: str) -> None:
    config, fingerprint = PINNED_FINGERPRINTS[name]
    assert config.fingerprint() == fingerprint


def test_appearance_settings_key_only_outputs_of_trackers_that_use_appearance() -> None:
    # A change of the embedder's settings re-infers DeepSort's stored outputs, not ByteTrack's.
    changed = {
        "embedder": "histogram",
        "embed_size": (128, 64),
        "embed_when": "always",
        "embed_precision": "auto",
    }
    for name, value in changed.items():
        assert PipelineConfig(**{name: value}).fingerprint() != PipelineConfig().fingerprint(), name
        bytetrack = PipelineConfig(tracker="bytetrack")
        assert bytetrack.with_overrides(**{name: value}).fingerprint() == bytetrack.fingerprint(), name


def test_a_sampled_tracker_keeps_and_confirms_tracks_over_the_same_time() -> None:
    settings = TrackerSettings()
    assert settings.every(1) == settings
    # every second frame of the video: 30 frames of the video are 15 processed ones
    assert (settings.every(2).max_age, settings.every(2).n_init) == (15, 2)
    assert (settings.every(4).max_age, settings.every(4).n_init) == (8, 1)
    tracker = build_tracker(PipelineConfig(sample_fps=5.0), video_fps=10.0)
    assert tracker.settings == settings.every(2)  # type: ignore[attr-defined]
    assert build_tracker(PipelineConfig(), video_fps=10.0).settings == settings  # type: ignore[attr-defined]


def test_detector_settings_carry_every_detection_setting_of_the_config() -> None:
    config = PipelineConfig(conf=0.4, fallen_conf=0.7, nms_iou=0.6, contained=0.8, imgsz=320, device="cuda:0")
    assert config.detector_settings() == DetectorSettings(
        conf=0.4,
        fallen_conf=0.7,
        imgsz=320,
        keep_labels=("person",),
        nms_iou=0.6,
        contained=0.8,
        device="cuda:0",
    )


def test_unknown_tracker_is_refused_naming_the_registry() -> None:
    with pytest.raises(InputError, match="tracker must be one of deepsort, bytetrack, botsort, none"):
        PipelineConfig(tracker="sort")


@pytest.mark.parametrize("name", list(TRACKERS))
def test_every_registered_tracker_implements_the_whole_protocol(name: str) -> None:
    factory = TRACKERS[name]
    tracker = factory(TrackerSettings(), 10.0)
    assert tracker.name == name  # the events' `tracker` field
    assert tracker.needs_embeddings is factory.needs_embeddings
    assert isinstance(tracker.needs_image, bool)
    assert tracker.tracks_confirmed == set()
    features = np.zeros((0, 1280), dtype=np.float32) if tracker.needs_embeddings else None
    assert tracker.plan_embeddings([]).embed == ()
    assert tracker.update([], features, None) == []


def test_tracker_flag_offers_every_registered_tracker_but_off() -> None:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    flag = next(action for action in parser._actions if action.dest == "tracker")
    assert tuple(flag.choices) == TRACKING_CHOICES  # type: ignore[arg-type]
    assert set(TRACKING_CHOICES) | {NO_TRACKER} == set(TRACKERS)


def test_vision_modules_import_no_module_in_a_circle() -> None:
    """Counting every import, deferred and TYPE_CHECKING ones included."""
    package = Path(retail_assets.vision.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        prefix = "retail_assets.vision."
        imports[path.stem] = {
            name.removeprefix(prefix).split(".")[0] for name in names if name.startswith(prefix)
        }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in imports.get(start, ()):
            if module == target or (module not in seen and reaches(module, target, seen | {module})):
                return True
        return False

    assert [module for module in imports if reaches(module, module, {module})] == []
