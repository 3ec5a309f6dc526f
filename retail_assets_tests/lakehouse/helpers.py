"""Helpers for bronze tests: publish videos through S3 like the pipeline does, read the table back."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from retail_assets.contracts.layout import parse_video_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.lakehouse.bronze import (
    BronzeCommit,
    partition_filter,
    write_bronze_partition,
    write_bronze_videos,
)
from retail_assets.objectstore import split_s3_uri
from retail_assets.streaming.publish_video import publish_video
from retail_assets.streaming.receipts import PublishReceipt, ReceiptStore
from retail_assets_tests.factories import ndjson_bytes, ndjson_lines, video_key


def upload_video_ndjson(s3: Any, store: str, camera: str, day: date, count: int, hhmmss: str = "090000"):
    """Put one video's NDJSON in the detections bucket; (video key, s3 uri, lines)."""
    video = video_key(store, camera, day, hhmmss)
    lines = ndjson_lines(store, camera, day, count, video=video)
    key = f"{video}.best@0123456789ab.ndjson"
    s3.put_object(Bucket="detections", Key=key, Body=ndjson_bytes(lines))
    return video, f"s3://detections/{key}", lines


def publish(
    client, s3, topic: str, uri: str, video: str, receipts: ReceiptStore, run_id: str = "run-1", **kw
):
    return publish_video(
        client,
        s3,
        topic,
        uri,
        store_day=parse_video_key(video).store_day,
        run_id=run_id,
        video_key=video,
        receipts=receipts,
        **kw,
    )


def write_partition(
    catalog: Catalog,
    client,
    receipts: list[PublishReceipt],
    table_id: str,
    store_day: StoreDay,
    run_id: str,
    **kw,
) -> BronzeCommit:
    return write_bronze_partition(
        catalog,
        client,
        receipts,
        store_day=store_day,
        run_id=run_id,
        identifier=table_id,
        **kw,
    )


def write_videos(
    catalog: Catalog,
    client,
    receipts: list[PublishReceipt],
    table_id: str,
    store_day: StoreDay,
    run_id: str,
    **kw,
) -> BronzeCommit:
    return write_bronze_videos(
        catalog, client, receipts, store_day=store_day, run_id=run_id, identifier=table_id, **kw
    )


def partition_rows(catalog: Catalog, table_id: str, store_day: StoreDay) -> pa.Table:
    return catalog.load_table(table_id).scan(row_filter=partition_filter(store_day)).to_arrow()


def read_parquet_from_s3(s3: Any, uri: str) -> pa.Table:
    """A data file read with pyarrow alone (downloaded bytes, no Iceberg)."""
    bucket, key = split_s3_uri(uri)
    return pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
