"""`retail-assets stack up|status|env|down` on a stack of its own, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from retail_assets.objectstore import make_s3_client
from retail_assets.stack import EmbeddedStack


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "stack", "--dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def env_of(state_dir: Path) -> dict[str, str]:
    out = cli(state_dir, "env")
    assert out.returncode == 0, out.stderr
    pairs = [line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines()]
    return {k: v.strip("'") for k, v in pairs}


def test_up_twice_status_env_down_up_keeps_data(tmp_path: Path, stack: EmbeddedStack) -> None:
    state = tmp_path / "own-stack"
    first = cli(state, "up")
    assert first.returncode == 0, first.stderr
    assert "seaweedfs started" in first.stdout and "pulsar-lite started" in first.stdout
    try:
        again = cli(state, "up")
        assert again.returncode == 0, again.stderr
        assert "seaweedfs already running" in again.stdout
        assert "pulsar-lite already running" in again.stdout

        # DAGSTER_HOME is seeded with the local instance settings (pool limits).
        assert "pools" in (state / "dagster_home" / "dagster.yaml").read_text()

        status = cli(state, "status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("healthy") == 4

        env = env_of(state)
        # Two stacks side by side (this one and the session's) never share a port.
        assert env["AWS_ENDPOINT_URL_S3"] != stack.env()["AWS_ENDPOINT_URL_S3"]
        assert env["PULSAR_SERVICE_URL"] != stack.env()["PULSAR_SERVICE_URL"]
        assert env["PYICEBERG_CATALOG__LAKEHOUSE__WAREHOUSE"] == "s3://warehouse/"
        s3 = make_s3_client(
            env["AWS_ENDPOINT_URL_S3"], "us-east-1", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        )
        s3.put_object(Bucket="videos", Key="store-1/cam-1/2026-11-28/090000.mp4", Body=b"kept")

        down = cli(state, "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        stopped = cli(state, "status")
        assert stopped.returncode == 1 and "DOWN" in stopped.stdout

        back = cli(state, "up")
        assert back.returncode == 0, back.stderr
        env = env_of(state)
        s3 = make_s3_client(
            env["AWS_ENDPOINT_URL_S3"], "us-east-1", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        )
        body = s3.get_object(Bucket="videos", Key="store-1/cam-1/2026-11-28/090000.mp4")["Body"].read()
        assert body == b"kept"
    finally:
        cli(state, "down", "--purge")
    assert not state.exists()


def test_down_only_stops_its_own_processes(tmp_path: Path, stack: EmbeddedStack) -> None:
    other = EmbeddedStack(tmp_path / "other")
    assert other.down() == []  # nothing recorded, nothing touched
    assert all(row.healthy for row in stack.status())


def test_env_without_stack_says_what_to_do(tmp_path: Path) -> None:
    out = cli(tmp_path / "nothing", "env")
    assert out.returncode == 1
    assert "retail-assets stack up" in out.stderr
    assert os.path.basename(str(tmp_path / "nothing")) in out.stderr
