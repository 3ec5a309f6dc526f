"""The detector run by OpenVINO Runtime from a cached export, with no torch in the loop.

Pre- and post-processing reproduce ultralytics' predict path (letterbox to the smallest
stride-multiple rectangle, class-aware NMS at IoU 0.7, boxes scaled back and clipped), so the
boxes match the PyTorch model's; doing them here with OpenCV and NumPy instead of through
ultralytics' predictor saves its per-frame torch overhead and keeps torch out of memory.

OpenVINO picks its inference precision per CPU: bfloat16 where the CPU has AMX or AVX-512
BF16 units, float32 elsewhere. `precision="f32"` forces full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retail_assets.errors import SetupError
from retail_assets.vision.detector import Detection, DetectorSettings
from retail_assets.vision.exported_models import exported_model
from retail_assets.vision.letterbox import Letterbox
from retail_assets.vision.models import ResolvedModel
from retail_assets.vision.openvino_requests import RequestPerShape, cpu_config
from retail_assets.vision.quantization import CalibrationSet, int8_exported_model

NMS_IOU = 0.7  # ultralytics' predict default
MAX_DETECTIONS = 300
PRECISIONS = ("auto", "f32", "bf16", "f16")


def read_class_names(metadata: Path) -> dict[int, str]:
    import yaml

    try:
        names = yaml.safe_load(metadata.read_text(encoding="utf-8"))["names"]
        return {int(k): str(v) for k, v in names.items()}
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise SetupError(f"exported model {metadata.parent}: unreadable class names ({exc})") from exc


def class_aware_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS within each class, best score first (as torchvision's nms)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    # Shift each class far away so boxes of different classes never overlap (ultralytics' trick).
    shifted = boxes + (classes[:, None] * 7680.0)
    x1, y1, x2, y2 = shifted.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < MAX_DETECTIONS:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        inter_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = inter_w * inter_h
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return np.array(keep, dtype=np.int64)


class OpenVinoDetector:
    """YOLO detections from the OpenVINO export of `model` (exported on first use, then cached)."""

    backend = "openvino"

    def __init__(
        self,
        model: ResolvedModel,
        settings: DetectorSettings,
        precision: str = "auto",
        threads: int | None = None,
        cache: Path | None = None,
        int8: bool = False,
        calibration: CalibrationSet | None = None,
    ) -> None:
        import openvino as ov

        if precision not in PRECISIONS:
            raise SetupError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.model = model
        self.settings = settings
        # `int8`: the INT8 copy of the export, quantized once on `calibration` and then cached
        # (without a calibration set, the cache's one INT8 export of this model is used).
        self.int8 = int8
        if int8:
            self.export = int8_exported_model(model, settings.imgsz, calibration, cache)
        else:
            self.export = exported_model(model, settings.imgsz, "openvino", cache)
        self.class_map = settings.class_map(read_class_names(self.export.metadata))
        self._kept_classes = np.array(sorted(self.class_map.rules), dtype=np.int64)
        core = ov.Core()
        network = core.read_model(self.export.xml)
        # One compiled network per input shape (a video has one frame size, so usually one).
        self._requests = RequestPerShape(core, network, cpu_config(precision, threads))

    @property
    def fingerprint(self) -> str:
        """`name@sha12` of the weights; `name-int8@sha12` for their INT8 copy (other boxes)."""
        if self.int8:
            return f"{self.model.name}-int8@{self.model.sha256[:12]}"
        return self.model.fingerprint

    def raw_outputs(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        height, width = image.shape[:2]
        letterbox = Letterbox.for_frame(height, width, self.settings.imgsz)
        request = self._requests((1, 3, letterbox.input_h, letterbox.input_w))
        # Write straight into the request's input tensor (its shape is fixed at compile time) and
        # run. Cheaper than `infer({0: blob})`, and it avoids OpenVINO's input dispatcher, seen
        # failing with a bare RuntimeError in a process that also runs the S3 client's threads.
        request.get_input_tensor(0).data[...] = letterbox.blob(image)  # type: ignore[attr-defined]
        request.infer()  # type: ignore[attr-defined]
        return np.array(request.get_output_tensor(0).data[0]), letterbox  # type: ignore[attr-defined]

    def detect(self, image: np.ndarray) -> list[Detection]:
        output, letterbox = self.raw_outputs(image)
        return self.decode(output, letterbox, image.shape[0], image.shape[1])

    def decode(self, output: np.ndarray, letterbox: Letterbox, height: int, width: int) -> list[Detection]:
        """(4 + classes, anchors) network output -> detections in frame pixels, best first."""
        class_scores = output[4:]
        class_ids = class_scores.argmax(axis=0)
        scores = class_scores[class_ids, np.arange(class_scores.shape[1])]
        keep = (scores > self.class_map.lowest_threshold) & np.isin(class_ids, self._kept_classes)
        if not keep.any():
            return []
        cx, cy, w, h = output[:4, keep]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float64)
        scores, class_ids = scores[keep].astype(np.float64), class_ids[keep]
        kept = class_aware_nms(boxes, scores, class_ids, NMS_IOU)
        boxes = letterbox.to_frame(boxes[kept], height, width)
        return self._detections(boxes, scores[kept], class_ids[kept])

    def _detections(self, boxes: np.ndarray, scores: np.ndarray, class_ids: Sequence[int]) -> list[Detection]:
        # The same class rules and duplicate suppression as UltralyticsDetector (one box per person).
        return self.settings.suppress_duplicates(self.class_map.detections(boxes, scores, class_ids))
