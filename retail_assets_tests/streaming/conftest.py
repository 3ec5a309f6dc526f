"""Fixtures for the streaming tests: a Pulsar client and S3 helpers on the test run's stack."""

from __future__ import annotations

from collections.abc import Iterator

import pulsar
import pytest

from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.receipts import ReceiptStore


@pytest.fixture
def pulsar_client(stack: EmbeddedStack) -> Iterator[pulsar.Client]:
    client = open_client(stack.env()["PULSAR_SERVICE_URL"])
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def receipt_store(s3) -> ReceiptStore:
    return ReceiptStore(s3, "detections")
