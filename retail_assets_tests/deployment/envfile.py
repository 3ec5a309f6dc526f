"""A production `.env` made the way operators make it (`retail-assets secrets`), for static compose checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from retail_assets.cli import main
from retail_assets.secrets_cli import SECRET_NAMES
from retail_assets_tests.conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
PROFILES = ("flink", "proxy")


def write_generated_env(path: Path) -> Path:
    assert main(["secrets", "--env-file", str(path), "--example", str(ENV_EXAMPLE)]) == 0
    return path


def compose_config(
    env_file: Path, *extra: str, profiles: tuple[str, ...] = PROFILES
) -> subprocess.CompletedProcess:
    """`docker-compose config` with `env_file` only: secrets in this process's environment are removed,
    so they cannot stand in for a missing value."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose not found: `make system-deps` installs Debian's docker-compose"
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    args = [binary, "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    for profile in profiles:
        args += ["--profile", profile]
    return subprocess.run([*args, "config", *extra], capture_output=True, text=True, cwd=REPO_ROOT, env=env)
