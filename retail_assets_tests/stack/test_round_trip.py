"""A real round trip through every embedded component: S3, Pulsar (JSON schema), Iceberg."""

from __future__ import annotations

import io
import json

import pulsar
import pyarrow as pa
import pyarrow.parquet as pq
from pulsar.schema import Integer, JsonSchema, Record, String

from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import open_client


def test_s3_put_and_get(s3) -> None:
    s3.put_object(Bucket="videos", Key="round-trip/hello.txt", Body=b"hello store")
    assert s3.get_object(Bucket="videos", Key="round-trip/hello.txt")["Body"].read() == b"hello store"


class Ping(Record):
    store_id = String()
    seq = Integer()


def test_pulsar_json_schema_produce_and_consume(stack: EmbeddedStack, unique_topic: str) -> None:
    env = stack.env()
    assert env["PULSAR_TOPIC"] == "persistent://retail/metadata/events"
    # A topic of its own: the events topic's registered schema (DetectionEventV1) refuses Ping's.
    topic = unique_topic
    client = open_client(env["PULSAR_SERVICE_URL"])
    try:
        consumer = client.subscribe(
            topic, "round-trip", schema=JsonSchema(Ping), initial_position=pulsar.InitialPosition.Latest
        )
        producer = client.create_producer(topic, schema=JsonSchema(Ping))
        producer.send(Ping(store_id="store-001", seq=7), partition_key="store-001/cam-1")
        msg = consumer.receive(timeout_millis=10_000)
        consumer.acknowledge(msg)
        assert msg.value().store_id == "store-001" and msg.value().seq == 7
        assert json.loads(msg.data()) == {"store_id": "store-001", "seq": 7}
        assert msg.partition_key() == "store-001/cam-1"
    finally:
        client.close()


def test_iceberg_create_append_scan_with_parquet_in_warehouse(stack: EmbeddedStack, s3) -> None:
    catalog = open_catalog("lakehouse")
    table_id = "rva.round_trip"
    if catalog.table_exists(table_id):
        catalog.drop_table(table_id)
    rows = pa.table({"store_id": ["store-001", "store-002"], "n": pa.array([1, 2], pa.int64())})
    table = catalog.create_table(table_id, schema=rows.schema)
    table.append(rows)
    assert table.scan().to_arrow().sort_by("n").to_pylist() == rows.to_pylist()

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="warehouse", Prefix="rva/round_trip/")["Contents"]]
    data_files = [k for k in keys if k.endswith(".parquet")]
    assert data_files, keys
    body = s3.get_object(Bucket="warehouse", Key=data_files[0])["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 2
