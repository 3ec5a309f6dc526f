"""An INT8 copy of the detector's OpenVINO export, made once by NNCF post-training quantization.

INT8 convolutions run on the CPU's VNNI/AMX units at several times the float32 rate. NNCF
measures the activation ranges on real frames (the calibration set) and inserts quantize nodes.
Left in floating point (the runtime's: bfloat16 where the CPU has it): the detection head's output
convolutions, the 1x1 projections to box distributions and class scores, which are the values
compared with the thresholds and decoded into pixels and cost nothing measurable in float
(docs/performance.md), and its box arithmetic (the distribution-focal decoding and the adds,
subtracts, multiplies and divides that turn grid offsets into pixels).

Calibration frames pass through the same letterbox as at inference. They come from a video named
by `RVA_CALIBRATION_VIDEO` (a store's own footage is the best choice), else vtest.avi from
Debian's opencv-doc when installed; by default its frames 0-99, every second one, which the
accuracy figures in docs/performance.md keep apart from the frames they report on. The export is
cached like the float one, keyed by the weights' sha, the input size and a fingerprint of the
calibration set (the video's bytes and the frames taken), so another calibration never reuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retail_assets.errors import SetupError
from retail_assets.vision.exported_models import (
    ExportedModel,
    cached_export,
    complete_export,
    export_directory,
    exported_model,
)
from retail_assets.vision.extras import import_extra, make_exports_hint
from retail_assets.vision.letterbox import Letterbox
from retail_assets.vision.models import ResolvedModel, sha256_once

CALIBRATION_VIDEO_ENV = "RVA_CALIBRATION_VIDEO"
DEBIAN_SAMPLE_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# Version of what `_quantize` makes: part of the INT8 export's cache key and of the pipeline
# fingerprint of settings that may run INT8, so a new recipe gets its own export and re-infers the
# outputs of the old one. 2: the head's output convolutions kept in float.
INT8_RECIPE = 2
_INT8_NAME = f"int8r{INT8_RECIPE}"  # in the export directory's name
# The detection head of the YOLOv8 exports (`model.22`): the last convolution of each box (`cv2`)
# and class (`cv3`) branch, and the box decoding, stay in float.
_HEAD = r"__module\.model\.22"
_HEAD_IN_FLOAT = [
    rf".*{_HEAD}\.cv[23]\.\d\.2/.*",
    rf".*{_HEAD}/.*/(Add|Subtract|Multiply|Divide).*",
    rf".*{_HEAD}\.dfl.*",
]


@dataclass(frozen=True)
class CalibrationSet:
    """Which frames calibrate the INT8 ranges: `video` frames `first..last` (inclusive) every `step`."""

    video: Path
    first: int = 0
    last: int = 99
    step: int = 2

    def __post_init__(self) -> None:
        if self.first < 0 or self.last < self.first or self.step < 1:
            raise SetupError(
                f"calibration frames {self.first}-{self.last} step {self.step}: "
                "need 0 <= first <= last and step >= 1"
            )

    @classmethod
    def configured(cls) -> CalibrationSet | None:
        """From RVA_CALIBRATION_VIDEO, else vtest.avi where Debian's opencv-doc put it, else None."""
        configured = os.environ.get(CALIBRATION_VIDEO_ENV, "").strip()
        if configured:
            return cls(Path(configured))
        if DEBIAN_SAMPLE_VIDEO.is_file():
            return cls(DEBIAN_SAMPLE_VIDEO)
        return None

    @classmethod
    def default(cls) -> CalibrationSet:
        """The configured set; SetupError when there is none (quantizing needs frames)."""
        calibration = cls.configured()
        if calibration is None:
            raise SetupError(
                f"the INT8 detector needs calibration frames: set {CALIBRATION_VIDEO_ENV} to a video of "
                "a store camera (its frames 0-99 are used), or run with precision fp32"
            )
        return calibration

    @property
    def frame_indices(self) -> range:
        return range(self.first, self.last + 1, self.step)

    def fingerprint(self) -> str:
        """12 hex digits over the video's bytes and the frames taken. The video is hashed once per
        process and file version (every INT8 detector built asks, and a store's video can be large)."""
        if not self.video.is_file():
            raise SetupError(f"calibration video {self.video}: file does not exist")
        frames = f"{sha256_once(self.video)}:{self.first}:{self.last}:{self.step}"
        return hashlib.sha256(frames.encode()).hexdigest()[:12]

    def frames(self) -> Iterator[np.ndarray]:
        from retail_assets.vision.video_source import VideoSource

        wanted = set(self.frame_indices)
        with VideoSource(self.video) as video:
            for frame in video.frames(self.last + 1):
                if frame.index in wanted:
                    yield frame.image


def int8_exported_model(
    model: ResolvedModel, imgsz: int, calibration: CalibrationSet | None, cache: Path | None = None
) -> ExportedModel:
    """The cached INT8 export of `model` at `imgsz`, quantizing the float export first if needed.

    Without a calibration set (a runtime image carries the exports, not the calibration video),
    the one INT8 export of the cache for this model and size is used.
    """
    base = export_directory(model, imgsz, "openvino", cache)
    if calibration is None:
        return _only_int8_export(base)
    target = base.with_name(f"{base.name}-{_INT8_NAME}-{calibration.fingerprint()}")
    if complete_export(target):
        return ExportedModel(target, exported_now=False)
    float_export = exported_model(model, imgsz, "openvino", cache)
    return cached_export(target, lambda scratch: _quantize_apart(float_export, imgsz, calibration, scratch))


def _quantize_apart(
    float_export: ExportedModel, imgsz: int, calibration: CalibrationSet, scratch: Path
) -> Path:
    """`_quantize` in a freshly started process: NNCF reading the model failed with a bare
    OpenVINO RuntimeError in a process that had run S3 transfers before (as a Dagster step has),
    and a child also returns NNCF's memory to the system when it ends."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_quantize, float_export, imgsz, calibration, scratch).result()


def _only_int8_export(base: Path) -> ExportedModel:
    found = sorted(d for d in base.parent.glob(f"{base.name}-{_INT8_NAME}-*") if complete_export(d))
    if len(found) == 1:
        return ExportedModel(found[0], exported_now=False)
    if not found:
        raise SetupError(
            f"no INT8 export of {base.name} in {base.parent} and no calibration video to make one: set "
            f"{CALIBRATION_VIDEO_ENV} (then `retail-assets models export --precision int8`), or use precision fp32"
        )
    raise SetupError(
        f"{len(found)} INT8 exports of {base.name} in {base.parent} ({', '.join(d.name for d in found)}): "
        f"set {CALIBRATION_VIDEO_ENV} to the video that calibrated the one to use"
    )


def _quantize(float_export: ExportedModel, imgsz: int, calibration: CalibrationSet, scratch: Path) -> Path:
    import shutil

    import openvino as ov

    nncf = import_extra(
        "nncf",
        f"the INT8 copy of {float_export.directory.name} (calibration {calibration.video}) is not in "
        "the model cache; quantizing it",
        make_exports_hint(" --precision int8"),
    )

    blobs = []
    for image in calibration.frames():
        letterbox = Letterbox.for_frame(image.shape[0], image.shape[1], imgsz)
        blobs.append(letterbox.blob(image))
    if not blobs:
        raise SetupError(
            f"calibration video {calibration.video}: no frame among {calibration.first}-{calibration.last}"
        )
    network = ov.Core().read_model(float_export.xml)
    # NNCF logs every node it leaves in float; the user needs one line, not a hundred.
    nncf.set_log_level(logging.WARNING)
    print(
        f"quantizing {float_export.directory.name} to INT8 on {len(blobs)} frames of {calibration.video} "
        "(once; cached)",
        file=sys.stderr,
        flush=True,
    )
    quantized = nncf.quantize(
        network,
        nncf.Dataset(blobs),
        # Symmetric weights, asymmetric activations: SiLU outputs are not centred on zero.
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(blobs),
        # The full bias correction (slower to quantize, once) kept more of the float model's boxes
        # on held-out frames of vtest.avi than the fast one: see docs/performance.md.
        fast_bias_correction=False,
        ignored_scope=nncf.IgnoredScope(patterns=_HEAD_IN_FLOAT, types=["Sigmoid"], validate=False),
    )
    out = scratch / "int8"
    out.mkdir()
    ov.save_model(quantized, out / float_export.xml.name, compress_to_fp16=False)
    shutil.copyfile(float_export.metadata, out / float_export.metadata.name)
    return out
