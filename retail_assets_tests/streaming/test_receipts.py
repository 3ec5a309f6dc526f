"""Receipts in S3: the commit marker of a publish."""

from __future__ import annotations

import pytest

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.streaming.receipts import PublishReceipt


def _receipt(video: str, partition: str = "2026-11-28|store-001", sent: int = 3) -> PublishReceipt:
    return PublishReceipt(
        topic="persistent://retail/metadata/events",
        producer_name=f"rva-{video}",
        messages_sent=sent,
        dead_letters=0,
        first_message_id="08001000",
        last_message_id="08001002",
        source=f"s3://detections/{video}.ndjson",
        store_day=StoreDay.parse(partition),
        run_id="run-1",
        video_key=video,
        ndjson_etag='"abc"',
        published_at="2026-11-28T10:00:00+00:00",
    )


def test_put_get_list_replace_delete(s3) -> None:
    from retail_assets.streaming.receipts import ReceiptStore

    store = ReceiptStore(s3, "detections", prefix="_receipts-unit")
    a = _receipt("store-001/cam-01/2026-11-28/090000.mp4")
    b = _receipt("store-001/cam-02/2026-11-28/100000.mp4")
    other_day = _receipt("store-001/cam-01/2026-11-29/090000.mp4", partition="2026-11-29|store-001")
    for receipt in (a, b, other_day):
        store.put(receipt)
    assert store.get(a.store_day, a.video_key) == a
    assert store.list_partition(StoreDay.parse("2026-11-28|store-001")) == [a, b]
    key = store.key_for(a.store_day, a.video_key)
    assert key == "_receipts-unit/2026-11-28/store-001/store-001/cam-01/2026-11-28/090000.mp4.json"

    replacement = _receipt(a.video_key, sent=9)
    store.put(replacement)  # a re-publish replaces the receipt
    assert store.get(a.store_day, a.video_key) == replacement
    store.delete(b.store_day, b.video_key)
    assert store.list_partition(StoreDay.parse("2026-11-28|store-001")) == [replacement]
    assert store.get(b.store_day, b.video_key) is None


def test_bad_partition_key_is_named(s3) -> None:
    from retail_assets.streaming.receipts import ReceiptStore

    with pytest.raises(InputError, match="'store-001' must look like"):
        ReceiptStore(s3, "detections").list_partition(StoreDay.parse("store-001"))
