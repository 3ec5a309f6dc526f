"""`retail-assets demo`: a round trip through every embedded component, with a summary.

Runs against the stack in the state directory (`retail-assets stack up` first; `make demo` does).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid

import pyarrow as pa

from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.objectstore import check_bucket, make_s3_client
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import open_client


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help="stack state directory (default: ./.retail)")


def run(args: argparse.Namespace) -> int:
    os.environ.update(EmbeddedStack(args.dir).env())
    s3 = make_s3_client(os.environ["AWS_ENDPOINT_URL_S3"])
    check_bucket(s3, "videos")
    key = f"demo/round-trip-{uuid.uuid4().hex[:8]}.json"
    s3.put_object(Bucket="videos", Key=key, Body=b'{"hello": "store"}')
    assert s3.get_object(Bucket="videos", Key=key)["Body"].read() == b'{"hello": "store"}'
    print(f"s3       put + get s3://videos/{key}")

    client = open_client(os.environ["PULSAR_SERVICE_URL"])
    try:
        topic = os.environ["PULSAR_TOPIC"]
        reader_start = client.create_producer(topic).send(b'{"demo": "marker"}')
        msg_id = client.create_producer(topic).send(json.dumps({"store_id": "demo"}).encode())
        reader = client.create_reader(topic, reader_start)
        received = reader.read_next(10_000)
        print(f"pulsar   produced {msg_id} and read it back from {topic}: {received.data().decode()}")
    finally:
        client.close()

    catalog = open_catalog(os.environ.get("RVA_CATALOG", "lakehouse"))
    table_id = "rva.demo_round_trip"
    rows = pa.table({"store_id": ["demo"], "note": ["round trip"]})
    table = catalog.create_table_if_not_exists(table_id, schema=rows.schema)
    table.append(rows)
    print(
        f"iceberg  appended 1 row to lakehouse.{table_id}: {len(table.scan().to_arrow())} rows, "
        f"snapshot {table.current_snapshot().snapshot_id}"
    )
    return 0
