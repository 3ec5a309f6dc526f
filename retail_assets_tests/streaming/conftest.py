"""Fixtures for the streaming tests: a Pulsar client and S3 helpers on the test run's stack."""

from __future__ import annotations

import pytest

from retail_assets.streaming.receipts import ReceiptStore


@pytest.fixture
def receipt_store(s3) -> ReceiptStore:
    return ReceiptStore(s3, "detections")
