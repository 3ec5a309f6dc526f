"""Durable publish receipts in S3: the commit marker of a publish.

A receipt is written only after every message of a publish was acknowledged, at
`<bucket>/<prefix>/<YYYY-MM-DD>/<store>/<video key>.json`. Re-publishing a video replaces its
receipt, which is how an earlier (or crashed) publish's messages stop counting. The bronze
writer and later re-runs find the receipts here, without any orchestrator state.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.contracts.partition_keys import parse_partition_key
from retail_assets.errors import SetupError
from retail_assets.objectstore import describe_endpoint, iter_objects
from retail_assets.streaming.publisher import PublishReceipt


class ReceiptStore:
    """Receipts of one bucket/prefix; every S3 fault becomes a SetupError naming the object."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "_receipts") -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def partition_prefix(self, partition_key: str) -> str:
        day = parse_partition_key(partition_key)
        return f"{self.prefix}/{day.day.isoformat()}/{day.store_id}/"

    def key_for(self, partition_key: str, video_key: str) -> str:
        return f"{self.partition_prefix(partition_key)}{video_key}.json"

    def put(self, receipt: PublishReceipt) -> None:
        key = self.key_for(receipt.partition_key, receipt.video_key)
        self._call(
            "write",
            key,
            self._s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=receipt.to_json().encode(),
            ContentType="application/json",
        )

    def get(self, partition_key: str, video_key: str) -> PublishReceipt | None:
        key = self.key_for(partition_key, video_key)
        try:
            body = self._call("read", key, self._s3.get_object, Bucket=self.bucket, Key=key)["Body"].read()
        except _Missing:
            return None
        return PublishReceipt.from_json(body)

    def list_partition(self, partition_key: str) -> list[PublishReceipt]:
        """All receipts of a store-day, in video key order."""
        prefix = self.partition_prefix(partition_key)
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

    def delete(self, partition_key: str, video_key: str) -> None:
        key = self.key_for(partition_key, video_key)
        self._call("delete", key, self._s3.delete_object, Bucket=self.bucket, Key=key)

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        # boto3's own retries (the client's retry config) have run when an error reaches here.
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
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
