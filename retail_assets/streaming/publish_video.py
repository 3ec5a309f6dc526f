"""One video's NDJSON from S3 to Pulsar, ending with its receipt: the unit the pipeline runs.

Order matters for exactly-once: messages are sent and flushed, dead letters are written, and
only then the receipt is stored. A crash or fault anywhere before the receipt leaves the
previous receipt (or none) in force, so the orphan messages of this attempt never count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulsar

from retail_assets.contracts.store_day import StoreDay
from retail_assets.streaming.dead_letters import S3DeadLetterSink
from retail_assets.streaming.publisher import publish_ndjson
from retail_assets.streaming.receipts import PublishReceipt, ReceiptStore
from retail_assets.streaming.sources import iter_s3_lines


def publish_video(
    client: pulsar.Client,
    s3_client: Any,
    topic: str,
    ndjson_uri: str,
    *,
    store_day: StoreDay,
    run_id: str,
    video_key: str,
    receipts: ReceiptStore,
    ndjson_etag: str | None = None,
    max_pending: int = 10_000,
    send_timeout_ms: int = 30_000,
    on_progress: Callable[[int], None] | None = None,
) -> PublishReceipt:
    """Publish `ndjson_uri` (s3://...) for `video_key`; dead letters and receipt go to `receipts.bucket`."""
    sink = S3DeadLetterSink(s3_client, receipts.bucket, store_day, video_key)
    receipt = publish_ndjson(
        client,
        topic,
        iter_s3_lines(s3_client, ndjson_uri),
        source=ndjson_uri,
        store_day=store_day,
        run_id=run_id,
        video_key=video_key,
        dead_letters=sink,
        max_pending=max_pending,
        ndjson_etag=ndjson_etag,
        send_timeout_ms=send_timeout_ms,
        on_progress=on_progress,
    )
    receipts.put(receipt)
    return receipt


@dataclass(frozen=True)
class PublishedStoreDay:
    """The receipts in force for a store-day's current NDJSON objects after a publish step."""

    store_day: StoreDay
    scope: tuple[str, ...] | None  # the videos the run was asked for; None = the whole store-day
    receipts: tuple[PublishReceipt, ...]

    @property
    def messages(self) -> int:
        return sum(r.messages_sent for r in self.receipts)
