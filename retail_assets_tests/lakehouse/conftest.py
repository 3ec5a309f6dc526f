"""Fixtures for the bronze tests: both Iceberg catalogs of the stack, a fresh table id per test."""

from __future__ import annotations

import uuid

import pytest
from pyiceberg.catalog import Catalog

from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.receipts import ReceiptStore


@pytest.fixture(params=["lakehouse", "lakehouse-rest"])
def catalog(request: pytest.FixtureRequest, stack: EmbeddedStack) -> Catalog:
    """The SQL catalog on SQLite and SeaweedFS's Iceberg REST catalog: every bronze test runs on both."""
    return open_catalog(request.param)


@pytest.fixture
def table_id() -> str:
    return f"rva.bronze_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def receipt_store(s3) -> ReceiptStore:
    # A prefix per test keeps partitions of different tests apart in the shared bucket.
    return ReceiptStore(s3, "detections", prefix=f"_receipts-test-{uuid.uuid4().hex[:8]}")
