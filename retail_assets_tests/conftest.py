"""Session fixtures: one real embedded stack (SeaweedFS + Apache Pulsar + SQLite catalog) per run."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from retail_assets.stack import EmbeddedStack

os.environ.setdefault("YOLO_OFFLINE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_OUTPUT = REPO_ROOT / "test-output"


# The session stack's keys: new for every run and recognisable, so a test can search logs, run
# configuration and errors for them (retail_assets_tests/dagster/test_secrets.py).
STACK_CREDENTIALS = {
    "RVA_STACK_ACCESS_KEY": f"admin-{secrets.token_hex(4)}",
    "RVA_STACK_SECRET_KEY": f"admin-secret-{secrets.token_hex(12)}",
    "RVA_STACK_PIPELINE_ACCESS_KEY": f"pipeline-{secrets.token_hex(4)}",
    "RVA_STACK_PIPELINE_SECRET_KEY": f"pipeline-secret-{secrets.token_hex(12)}",
}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A running stack on free ports; its settings are exported to os.environ for the session.

    Its credentials stay in os.environ too, so a `retail-assets … --dir <its root>` subprocess
    (the demo) finds the same stack identities.
    """
    saved = dict(os.environ)
    os.environ.update(STACK_CREDENTIALS)
    embedded = EmbeddedStack(tmp_path_factory.mktemp("stack"))
    embedded.up()
    os.environ.update(embedded.env())
    try:
        yield embedded
    finally:
        os.environ.clear()
        os.environ.update(saved)
        embedded.down(purge=True)


@pytest.fixture
def s3(stack: EmbeddedStack):
    """The stack's ADMIN client: tests play the operator and the cameras (create buckets, upload
    videos). What the pipeline does runs with the pipeline identity (`pipeline_s3`, AWS_* env)."""
    from retail_assets.objectstore import make_s3_client

    env = stack.env()
    return make_s3_client(
        env["AWS_ENDPOINT_URL_S3"],
        "us-east-1",
        env["RVA_STACK_ADMIN_ACCESS_KEY"],
        env["RVA_STACK_ADMIN_SECRET_KEY"],
    )


@pytest.fixture
def pipeline_s3(stack: EmbeddedStack):
    """A client with the pipeline's identity (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of `stack env`)."""
    from retail_assets.objectstore import make_s3_client

    env = stack.env()
    return make_s3_client(
        env["AWS_ENDPOINT_URL_S3"], "us-east-1", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    )


@pytest.fixture
def pulsar_client(stack: EmbeddedStack):
    """A Pulsar client on the test run's broker, closed after the test."""
    from retail_assets.streaming.connection import open_client

    client = open_client(stack.env()["PULSAR_SERVICE_URL"])
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def unique_topic(stack: EmbeddedStack) -> str:
    """A fresh topic per test so tests never read each other's messages."""
    return f"persistent://retail/metadata/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def dsn(self, db: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{db}"


def _postgres_bindir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server (Debian's packages) on a free port, with `dagster` and `iceberg` DBs."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: `make system-deps` installs Debian's postgresql")
    # Not under pytest's tmp dir: that is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="rva-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    password = secrets.token_hex(16)
    (root / "pw").write_text(password)
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(root / "pw", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = functools.partial(subprocess.run, check=True, capture_output=True, text=True)
    run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "rva", "--auth=scram-sha-256",
         f"--pwfile={root / 'pw'}"])  # fmt: skip
    (root / "pw").unlink()
    opts = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ]
    )
    server = PostgresServer("127.0.0.1", port, "rva", password)
    try:
        import psycopg2

        conn = psycopg2.connect(host=server.host, port=port, user="rva", password=password, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE dagster")
            cur.execute("CREATE DATABASE iceberg")
        conn.close()
        yield server
    finally:
        run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class ExportedCache:
    directory: Path
    output: str  # what `retail-assets models export` printed


@pytest.fixture(scope="session")
def exported_model_cache(tmp_path_factory: pytest.TempPathFactory) -> ExportedCache:
    """A model cache filled by `retail-assets models export`, as the image's first stage does."""
    directory = tmp_path_factory.mktemp("exported-models")
    done = subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "models", "export", "--cache", str(directory)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return ExportedCache(directory, done.stdout)
