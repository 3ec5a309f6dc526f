"""Publish receipts: the commit marker of a publish, and their durable store in S3.

A receipt is written only after every message of a publish was acknowledged, at
`contracts.layout.receipt_key` (`_receipts/<YYYY-MM-DD>/<store>/<video key>.json` in the
detections bucket). Re-publishing a video replaces its receipt, which is how an earlier (or
crashed) publish's messages stop counting. The bronze writer and later re-runs find the
receipts here, without any orchestrator state.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.contracts.layout import RECEIPTS_PREFIX, receipt_key, receipts_prefix
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import SetupError
from retail_assets.objectstore import describe_endpoint, is_not_found, iter_objects


@dataclass(frozen=True)
class PublishReceipt:
    """What one publish sent; JSON-serialisable; enough to read exactly these messages back."""

    topic: str
    producer_name: str
    messages_sent: int
    dead_letters: int
    first_message_id: str | None  # hex of pulsar MessageId.serialize()
    last_message_id: str | None
    source: str
    store_day: StoreDay
    run_id: str
    video_key: str
    ndjson_etag: str | None
    published_at: str
    lines_read: int = 0
    blank_lines: int = 0
    dead_letter_location: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        # The stored form names the store-day by its partition key, as every receipt ever written.
        fields = asdict(self)
        del fields["store_day"]
        fields["partition_key"] = self.store_day.key
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> PublishReceipt:
        fields = json.loads(text)
        fields["store_day"] = StoreDay.parse(fields.pop("partition_key"))
        return cls(**fields)


class ReceiptStore:
    """Receipts of one bucket/prefix; every S3 fault becomes a SetupError naming the object."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str = RECEIPTS_PREFIX) -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def key_for(self, store_day: StoreDay, video_key: str) -> str:
        return receipt_key(store_day, video_key, self.prefix)

    def put(self, receipt: PublishReceipt) -> None:
        key = self.key_for(receipt.store_day, receipt.video_key)
        self._call(
            "write",
            key,
            self._s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=receipt.to_json().encode(),
            ContentType="application/json",
        )

    def get(self, store_day: StoreDay, video_key: str) -> PublishReceipt | None:
        key = self.key_for(store_day, video_key)
        try:
            body = self._call("read", key, self._s3.get_object, Bucket=self.bucket, Key=key)["Body"].read()
        except _Missing:
            return None
        return PublishReceipt.from_json(body)

    def list_partition(self, store_day: StoreDay) -> list[PublishReceipt]:
        """All receipts of a store-day, in video key order."""
        prefix = receipts_prefix(store_day, self.prefix)
        try:
            keys = [
                obj["Key"]
                for obj in iter_objects(self._s3, self.bucket, prefix)
                if obj["Key"].endswith(".json")
            ]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("list", prefix, exc) from exc
        receipts = []
        for key in keys:
            try:
                body = self._call("read", key, self._s3.get_object, Bucket=self.bucket, Key=key)[
                    "Body"
                ].read()
            except _Missing:
                continue  # deleted between listing and reading
            receipts.append(PublishReceipt.from_json(body))
        return receipts

    def delete(self, store_day: StoreDay, video_key: str) -> None:
        key = self.key_for(store_day, video_key)
        self._call("delete", key, self._s3.delete_object, Bucket=self.bucket, Key=key)

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        # boto3's own retries (the client's retry config) have run when an error reaches here.
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if is_not_found(exc):
                raise _Missing from exc
            raise self._error(what, key, exc) from exc
        except BotoCoreError as exc:
            raise self._error(what, key, exc) from exc

    def _error(self, what: str, key: str, exc: Exception) -> SetupError:
        return SetupError(
            f"cannot {what} publish receipt s3://{self.bucket}/{key} at {describe_endpoint(self._s3)} "
            f"({type(exc).__name__}: {exc}); check AWS_ENDPOINT_URL_S3 and that the object store is up"
        )


class _Missing(Exception):
    """The receipt object does not exist."""
