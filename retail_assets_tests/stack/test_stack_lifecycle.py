"""`retail-assets stack up|status|env|down` on a stack of its own, through the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from retail_assets.errors import SetupError
from retail_assets.objectstore import check_bucket, make_s3_client
from retail_assets.stack import EmbeddedStack
from retail_assets.stack.services import DEV_ACCESS_KEY, DEV_SECRET_KEY

# Credentials of the user's own, set before `stack up` (never the development pair).
OWN_ACCESS_KEY = "lifecycle-test-key"
OWN_SECRET_KEY = "lifecycle-test-secret-0123456789"
OWN_PIPELINE_KEY = "lifecycle-pipeline-key"
OWN_PIPELINE_SECRET = "lifecycle-pipeline-secret-0123456789"


def cli(state_dir: Path, *args: str, own_credentials: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if own_credentials:
        env.update(
            RVA_STACK_ACCESS_KEY=OWN_ACCESS_KEY,
            RVA_STACK_SECRET_KEY=OWN_SECRET_KEY,
            RVA_STACK_PIPELINE_ACCESS_KEY=OWN_PIPELINE_KEY,
            RVA_STACK_PIPELINE_SECRET_KEY=OWN_PIPELINE_SECRET,
        )
    return subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "stack", "--dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def env_of(state_dir: Path, own_credentials: bool = False) -> dict[str, str]:
    out = cli(state_dir, "env", own_credentials=own_credentials)
    assert out.returncode == 0, out.stderr
    pairs = [line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines()]
    return {k: v.strip("'") for k, v in pairs}


def test_up_twice_status_env_down_up_keeps_data_ports_and_own_credentials(
    tmp_path: Path, stack: EmbeddedStack
) -> None:
    state = tmp_path / "own-stack"

    def own(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(state, *args, own_credentials=True)

    first = own("up")
    assert first.returncode == 0, first.stderr
    assert "seaweedfs started" in first.stdout and "apache pulsar started" in first.stdout
    try:
        again = own("up")
        assert again.returncode == 0, again.stderr
        assert "seaweedfs already running" in again.stdout
        assert "apache pulsar already running" in again.stdout

        # DAGSTER_HOME is seeded with the local instance settings (pool limits).
        assert "pools" in (state / "dagster_home" / "dagster.yaml").read_text()

        status = own("status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("healthy") == 4

        env = env_of(state, own_credentials=True)
        # Two stacks side by side (this one and the session's) never share a port.
        assert env["AWS_ENDPOINT_URL_S3"] != stack.env()["AWS_ENDPOINT_URL_S3"]
        assert env["PULSAR_SERVICE_URL"] != stack.env()["PULSAR_SERVICE_URL"]
        assert env["PYICEBERG_CATALOG__LAKEHOUSE__WAREHOUSE"] == "s3://warehouse/"
        # The stack runs with the credentials set before `stack up`; the development pair is refused.
        # The pipeline's pair is AWS_*, the catalog's FileIO uses it too; the admin's has its own names.
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
            OWN_PIPELINE_KEY,
            OWN_PIPELINE_SECRET,
        )
        assert (env["RVA_STACK_ADMIN_ACCESS_KEY"], env["RVA_STACK_ADMIN_SECRET_KEY"]) == (
            OWN_ACCESS_KEY,
            OWN_SECRET_KEY,
        )
        assert env["PYICEBERG_CATALOG__LAKEHOUSE__S3__SECRET_ACCESS_KEY"] == OWN_PIPELINE_SECRET
        # The identities file holding the keys is readable by its owner only.
        assert (state / "s3-identities.json").stat().st_mode & 0o077 == 0
        # `stack env --redact` (for sharing) shows every name and no secret.
        shared = own("env", "--redact")
        assert shared.returncode == 0 and "AWS_SECRET_ACCESS_KEY='***'" in shared.stdout
        for printed in (shared.stdout, first.stdout, status.stdout):
            assert OWN_SECRET_KEY not in printed and OWN_PIPELINE_SECRET not in printed
        s3 = make_s3_client(env["AWS_ENDPOINT_URL_S3"], "us-east-1", OWN_ACCESS_KEY, OWN_SECRET_KEY)
        check_bucket(s3, "videos")
        s3.put_object(Bucket="videos", Key="store-1/cam-1/2026-11-28/090000.mp4", Body=b"kept")
        default_pair = make_s3_client(env["AWS_ENDPOINT_URL_S3"], "us-east-1", DEV_ACCESS_KEY, DEV_SECRET_KEY)
        with pytest.raises(SetupError, match="rejected the credentials"):
            check_bucket(default_pair, "videos")
        ports_before = _recorded_ports(state)

        down = own("down")
        assert down.returncode == 0 and "stopped" in down.stdout
        stopped = own("status")
        assert stopped.returncode == 1 and "DOWN" in stopped.stdout
        # Every port can be listened on again at once, even those whose last connections linger in
        # TIME_WAIT (the services, like the stack's check, listen with SO_REUSEADDR).
        free = {name: all(map(_bindable, ports.values())) for name, ports in ports_before.items()}
        assert all(free.values()), free

        back = own("up")
        assert back.returncode == 0, back.stderr
        # Ports that stayed free are kept, so what `stack env` printed stays valid.
        assert _recorded_ports(state) == ports_before
        env_after = env_of(state, own_credentials=True)
        assert env_after["PULSAR_SERVICE_URL"] == env["PULSAR_SERVICE_URL"]
        assert env_after["AWS_ENDPOINT_URL_S3"] == env["AWS_ENDPOINT_URL_S3"]
        assert (env_after["AWS_ACCESS_KEY_ID"], env_after["AWS_SECRET_ACCESS_KEY"]) == (
            OWN_PIPELINE_KEY,
            OWN_PIPELINE_SECRET,
        )
        env = env_after
        s3 = make_s3_client(env["AWS_ENDPOINT_URL_S3"], "us-east-1", OWN_ACCESS_KEY, OWN_SECRET_KEY)
        body = s3.get_object(Bucket="videos", Key="store-1/cam-1/2026-11-28/090000.mp4")["Body"].read()
        assert body == b"kept"
        default_pair = make_s3_client(env["AWS_ENDPOINT_URL_S3"], "us-east-1", DEV_ACCESS_KEY, DEV_SECRET_KEY)
        with pytest.raises(SetupError, match="rejected the credentials"):
            check_bucket(default_pair, "videos")
    finally:
        own("down", "--purge")
    assert not state.exists()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _recorded_ports(state: Path) -> dict[str, dict[str, int]]:
    services = json.loads((state / "stack.json").read_text())["services"]
    return {name: record["ports"] for name, record in services.items()}


def test_down_only_stops_its_own_processes(tmp_path: Path, stack: EmbeddedStack) -> None:
    other = EmbeddedStack(tmp_path / "other")
    assert other.down() == []  # nothing recorded, nothing touched
    assert all(row.healthy for row in stack.status())


def _record(state: Path, services: dict[str, subprocess.Popen], created: dict[str, float]) -> None:
    """A stack.json as `stack up` writes it, naming the given processes."""
    state.mkdir(parents=True, exist_ok=True)
    records = {
        name: {"name": name, "pid": proc.pid, "create_time": created[name], "ports": {}, "log": ""}
        for name, proc in services.items()
    }
    (state / "stack.json").write_text(json.dumps({"services": records}))


def test_down_leaves_alone_a_live_process_that_took_over_a_recorded_pid(tmp_path: Path) -> None:
    # Two processes of this test: one that `down` may stop (its pid and start time are the ones
    # recorded) and one whose pid is recorded with another start time, as when a pid is reused.
    ours = subprocess.Popen(["sleep", "300"])
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        _record(
            tmp_path / "stack",
            {"pulsar": ours, "seaweedfs": stranger},
            {
                "pulsar": psutil.Process(ours.pid).create_time(),
                "seaweedfs": psutil.Process(stranger.pid).create_time() - 3600,
            },
        )
        messages = EmbeddedStack(tmp_path / "stack").down()
        assert f"pulsar: stopped (pid {ours.pid})" in messages
        assert "seaweedfs: not running" in messages
        assert ours.wait(10) is not None  # the recorded process was stopped...
        assert stranger.poll() is None  # ...the other one is alive
        assert psutil.Process(stranger.pid).status() != psutil.STATUS_ZOMBIE
    finally:
        for proc in (ours, stranger):
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def test_env_without_stack_says_what_to_do(tmp_path: Path) -> None:
    out = cli(tmp_path / "nothing", "env")
    assert out.returncode == 1
    assert "retail-assets stack up" in out.stderr
    assert os.path.basename(str(tmp_path / "nothing")) in out.stderr
