"""Session fixtures: one real embedded stack (SeaweedFS + Pulsar Lite + SQLite catalog) per run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from retail_assets.stack import EmbeddedStack

os.environ.setdefault("YOLO_OFFLINE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_OUTPUT = REPO_ROOT / "test-output"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A running stack on free ports; its settings are exported to os.environ for the session."""
    embedded = EmbeddedStack(tmp_path_factory.mktemp("stack"))
    embedded.up()
    saved = dict(os.environ)
    os.environ.update(embedded.env())
    try:
        yield embedded
    finally:
        os.environ.clear()
        os.environ.update(saved)
        embedded.down(purge=True)


@pytest.fixture
def s3(stack: EmbeddedStack):
    from retail_assets.objectstore import make_s3_client

    env = stack.env()
    return make_s3_client(
        env["AWS_ENDPOINT_URL_S3"], "us-east-1", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    )


@pytest.fixture
def unique_topic(stack: EmbeddedStack) -> str:
    """A fresh topic per test so tests never read each other's messages."""
    return f"persistent://retail/metadata/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT
