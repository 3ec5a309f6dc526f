"""A wrong setup gives a message that names the endpoint or setting and how to fix it."""

from __future__ import annotations

import socket

import pytest

from retail_assets.errors import SetupError
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.objectstore import check_bucket, make_s3_client
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import check_broker


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_s3_endpoint_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    client = make_s3_client(url, "us-east-1", "k", "s")
    with pytest.raises(SetupError) as err:
        check_bucket(client, "videos")
    assert url in str(err.value) and "unreachable" in str(err.value)
    assert "retail-assets stack up" in str(err.value)


def test_s3_wrong_credentials(stack: EmbeddedStack) -> None:
    url = stack.env()["AWS_ENDPOINT_URL_S3"]
    client = make_s3_client(url, "us-east-1", "rva-local", "not-the-secret")
    with pytest.raises(SetupError) as err:
        check_bucket(client, "videos")
    assert "rejected the credentials" in str(err.value)
    assert "AWS_SECRET_ACCESS_KEY" in str(err.value) and url in str(err.value)


def test_s3_missing_bucket(s3) -> None:
    with pytest.raises(SetupError) as err:
        check_bucket(s3, "no-such-bucket", "RVA_VIDEOS_BUCKET")
    assert "'no-such-bucket' does not exist" in str(err.value)
    assert "RVA_VIDEOS_BUCKET" in str(err.value)


def test_pulsar_unreachable() -> None:
    url = f"pulsar://127.0.0.1:{closed_port()}"
    with pytest.raises(SetupError) as err:
        check_broker(url, "persistent://retail/metadata/events", timeout_s=2)
    assert url in str(err.value) and "PULSAR_SERVICE_URL" in str(err.value)


def test_catalog_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SetupError) as err:
        open_catalog("nowhere", type="rest", uri=url)
    assert "'nowhere'" in str(err.value) and url in str(err.value)
    assert "PYICEBERG_CATALOG__NOWHERE__URI" in str(err.value)


def test_catalog_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SetupError) as err:
        open_catalog("unconfigured")
    assert "PYICEBERG_CATALOG__UNCONFIGURED__URI" in str(err.value)
