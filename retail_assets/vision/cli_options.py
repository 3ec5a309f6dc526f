"""Command-line options shared by `ingest` and `eval`: the model and tracker settings."""

from __future__ import annotations

import argparse

from retail_assets.vision.config import (
    EMBED_PRECISIONS,
    EMBED_WHEN,
    EMBEDDERS,
    PRECISIONS,
    RUNTIMES,
    PipelineConfig,
)
from retail_assets.vision.quantization import CALIBRATION_VIDEO_ENV
from retail_assets.vision.trackers import NO_TRACKER, TRACKING_CHOICES


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def unit_float(value: str) -> float:
    number = float(value)
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return number


def crop_size(value: str) -> tuple[int, int]:
    """`HEIGHTxWIDTH` (e.g. 224x224) -> (height, width)."""
    try:
        height, width = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 160x160, got {value!r}") from None
    return height, width


def add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --imgsz, --precision: which network runs (shared with `models export`)."""
    defaults = PipelineConfig()
    parser.add_argument(
        "--model",
        default=defaults.model,
        help="'default' (bundled person model) or ultralytics weights: yolov8n.pt, *.onnx, *_openvino_model/",
    )
    parser.add_argument(
        "--imgsz",
        type=positive_int,
        default=defaults.imgsz,
        help=f"inference image size (default {defaults.imgsz})",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help=f"weights of the OpenVINO detector: fp32 (the export), int8 (NNCF-quantized, calibrated on "
        f"${CALIBRATION_VIDEO_ENV}), or auto (int8 where the detector runs from the export on the CPU, "
        f"else fp32); default {defaults.precision}",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --conf, --fallen-conf, --nms-iou, --imgsz, --device, --tracker, --runtime, --precision,
    --embedder, --embed-size."""
    defaults = PipelineConfig()
    add_weights_arguments(parser)
    parser.add_argument(
        "--conf",
        type=unit_float,
        default=defaults.conf,
        help=f"minimum detection confidence (default {defaults.conf})",
    )
    parser.add_argument(
        "--fallen-conf",
        type=unit_float,
        default=defaults.fallen_conf,
        help=f"minimum confidence of a fallen-person detection (default {defaults.fallen_conf})",
    )
    parser.add_argument(
        "--nms-iou",
        type=float,
        default=defaults.nms_iou,
        help=f"an upright and a fallen box overlapping at least this IoU are one person (default {defaults.nms_iou})",
    )
    parser.add_argument(
        "--device", default=defaults.device, help="torch device: cpu (default), cuda, cuda:0, mps"
    )
    parser.add_argument(
        "--tracker",
        choices=TRACKING_CHOICES,
        default=defaults.tracker,
        help="tracker when --track 1: deepsort (default; appearance + motion), or ultralytics' bytetrack / botsort (motion only, no embedding cost)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=defaults.runtime,
        help="detector runtime for .pt weights on a CPU: openvino (default; cached export, about 3x faster) or pytorch",
    )
    parser.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default=defaults.embedder,
        help=f"DeepSort's appearance features (default {defaults.embedder})",
    )
    parser.add_argument(
        "--embed-size",
        type=crop_size,
        metavar="HxW",
        default=defaults.embed_size,
        help="crop size the OpenVINO embedder sees (default {}x{})".format(*defaults.embed_size),
    )
    parser.add_argument(
        "--embed-when",
        choices=EMBED_WHEN,
        default=defaults.embed_when,
        help=f"which detections DeepSort's appearance features are computed for: always, or only where the association is ambiguous (default {defaults.embed_when})",
    )
    parser.add_argument(
        "--embed-precision",
        choices=EMBED_PRECISIONS,
        default=defaults.embed_precision,
        help=f"arithmetic of the OpenVINO embedder: auto (bfloat16 where the CPU has it, else float32) or fp32 (default {defaults.embed_precision})",
    )


def model_settings(args: argparse.Namespace, tracking: bool) -> dict[str, object]:
    """The PipelineConfig fields the options of `add_model_arguments` set."""
    return {
        "model": args.model,
        "conf": args.conf,
        "fallen_conf": args.fallen_conf,
        "nms_iou": args.nms_iou,
        "imgsz": args.imgsz,
        "device": args.device,
        "tracker": args.tracker if tracking else NO_TRACKER,
        "runtime": args.runtime,
        "precision": args.precision,
        "embedder": args.embedder,
        "embed_size": tuple(args.embed_size),
        "embed_when": args.embed_when,
        "embed_precision": args.embed_precision,
    }
