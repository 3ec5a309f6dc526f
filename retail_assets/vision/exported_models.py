"""Exported copies of the detector, made once per model and image size and reused by every run.

PyTorch inference of the detector costs about three times an OpenVINO run of the same weights
on a CPU, so the fast pipeline runs an OpenVINO export. Exporting takes seconds and needs
torch (the `export` extra); running the export does not, so a runtime install without torch runs
from a cache that `retail-assets models export` filled beforehand (the production image copies
one in). Exports live in a per-user cache directory:

    ~/.cache/retail-video-analytics/models/<name>-<sha12>-<imgsz>-openvino/

keyed by the weights' sha256 (a new model never reuses an old export) and the image size. The
export is made with dynamic input shapes so one export serves every frame shape; the runtime
fixes the shape per video. Two processes that need the same export at once take a file lock:
one exports, the other waits and reuses the result. An export is written to a temporary
directory and renamed into place when complete, so a crash never leaves a half export behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import retail_assets.vision  # noqa: F401  (sets YOLO_OFFLINE before ultralytics is imported)
from retail_assets.errors import SetupError
from retail_assets.vision.extras import import_extra, make_exports_hint
from retail_assets.vision.models import ResolvedModel

CACHE_ENV = "RVA_MODEL_CACHE"
FORMATS = ("openvino",)
# Written last inside an export directory: its presence means the export is complete.
COMPLETE_MARKER = "export-complete"


def model_cache_dir() -> Path:
    """`$RVA_MODEL_CACHE`, else `$XDG_CACHE_HOME/retail-video-analytics/models` (~/.cache by default)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "retail-video-analytics" / "models"


@dataclass(frozen=True)
class ExportedModel:
    directory: Path
    exported_now: bool  # False when an earlier run's export was reused

    @property
    def xml(self) -> Path:
        return next(self.directory.glob("*.xml"))

    @property
    def metadata(self) -> Path:
        return self.directory / "metadata.yaml"


def export_directory(
    model: ResolvedModel, imgsz: int, fmt: str = "openvino", cache: Path | None = None
) -> Path:
    return (cache or model_cache_dir()) / f"{model.name}-{model.sha256[:12]}-{imgsz}-{fmt}"


def exported_model(
    model: ResolvedModel, imgsz: int, fmt: str = "openvino", cache: Path | None = None
) -> ExportedModel:
    """The cached export of `model` at `imgsz`, exporting it first if no run has yet."""
    if fmt not in FORMATS:
        raise SetupError(f"export format {fmt!r} is not supported (choose from {', '.join(FORMATS)})")
    if model.path is None or model.path.suffix != ".pt":
        raise SetupError(
            f"model {model.spec!r}: only PyTorch .pt weights can be exported; pass an export "
            "directory or .onnx file to the ultralytics backend instead"
        )
    target = export_directory(model, imgsz, fmt, cache)
    return cached_export(target, lambda scratch: _export_yolo(model, imgsz, fmt, target, scratch))


def cached_export(target: Path, produce: Callable[[Path], Path]) -> ExportedModel:
    """`target` if a complete export is there; else `produce(scratch_dir)` -> directory moved to `target`.

    Only one process produces at a time (file lock); the others wait and reuse its result.
    """
    if complete_export(target):
        return ExportedModel(target, exported_now=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.with_name(target.name + ".lock")):
        if complete_export(target):  # another process exported it while we waited for the lock
            return ExportedModel(target, exported_now=False)
        with tempfile.TemporaryDirectory(prefix=".export-", dir=target.parent) as scratch:
            produced = produce(Path(scratch))
            (produced / COMPLETE_MARKER).write_text(f"{target.name}\n")
            if target.exists():  # an incomplete leftover of a crashed export
                shutil.rmtree(target)
            os.replace(produced, target)
    return ExportedModel(target, exported_now=True)


def complete_export(directory: Path) -> bool:
    """Whether `directory` holds a finished export (its marker is written last)."""
    return (directory / COMPLETE_MARKER).is_file() and any(directory.glob("*.xml"))


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, even on a crash
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _export_yolo(model: ResolvedModel, imgsz: int, fmt: str, target: Path, scratch: Path) -> Path:
    ultralytics = import_extra(
        "ultralytics",
        f"model {model.spec!r}: its {fmt} export at image size {imgsz} is not in the model cache "
        f"({target}); making it",
        make_exports_hint(),
    )
    assert model.path is not None
    # ultralytics writes the export next to the weights; work on a copy so the weights'
    # own directory (possibly a read-only site-packages) is never touched.
    weights = scratch / model.path.name
    shutil.copyfile(model.path, weights)
    try:
        produced = ultralytics.YOLO(str(weights), task="detect").export(
            format=fmt, imgsz=imgsz, dynamic=True, verbose=False
        )
    except Exception as exc:  # ultralytics raises many types; the user needs the model and cause
        raise SetupError(f"model {model.spec!r}: export to {fmt} failed: {exc}") from exc
    return Path(produced)
