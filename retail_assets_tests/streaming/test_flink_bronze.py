"""The first version's Flink SQL job on a local Flink: Pulsar -> Flink SQL -> Iceberg.

A stack of its own (SeaweedFS, Apache Pulsar, a JobManager and a TaskManager, checkpoints every
2 s) so the job reads only what these tests publish. The job is infrastructure/flink/bronze_ingest.sql
as the stack submits it; its table, rva.bronze_stream in the stack's Iceberg REST catalog, is
compared with the Dagster bronze (rva.bronze_raw, SQL catalog) of the same store-days.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pulsar
import pyarrow.compute as pc
import pytest
from pyiceberg.table import Table

from retail_assets.analytics.gold import build_gold
from retail_assets.analytics.silver import SilverTables
from retail_assets.contracts.store_day import StoreDay
from retail_assets.lakehouse.analytics import (
    GOLD_TABLES,
    SILVER_OCCUPANCY,
    SILVER_TRACKS,
    read_silver,
    write_gold,
    write_silver,
)
from retail_assets.lakehouse.bronze import BRONZE_TABLE, write_bronze_partition, write_bronze_videos
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.lakehouse.maintenance import MaintenanceOptions, maintain_namespace, namespace_tables
from retail_assets.stack import EmbeddedStack
from retail_assets.stack.flink_cluster import JOB_NAME, JOB_TABLE
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import PublishReceipt, publish_ndjson
from retail_assets_tests.factories import ndjson_lines, video_key
from retail_assets_tests.lakehouse.walkers import demo_geometry, silver_of_videos, video_of
from retail_assets_tests.streaming.jvm_reader import comparable, read_with_java, typed_rows

WAIT_S = 180


@pytest.fixture(scope="module")
def flink_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    saved = dict(os.environ)
    stack = EmbeddedStack(tmp_path_factory.mktemp("flink-stack"), flink_checkpoint_interval="2s")
    try:
        stack.up(with_flink=True)
        os.environ.update(stack.env())
        yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.down(purge=True)


@pytest.fixture
def client(flink_stack: EmbeddedStack) -> Iterator[pulsar.Client]:
    client = open_client(flink_stack.env()["PULSAR_SERVICE_URL"])
    yield client
    client.close()


def _publish(
    client: pulsar.Client,
    store_day: StoreDay,
    camera: str,
    count: int,
    run_id: str,
    tmp_path: Path,
    **options: Any,
) -> PublishReceipt:
    """One video's lines through the product's publisher (batching on, as in production)."""
    video = video_key(store_day.store_id, camera, store_day.day)
    lines = ndjson_lines(store_day.store_id, camera, store_day.day, count, video=video)
    return publish_ndjson(
        client,
        os.environ["PULSAR_TOPIC"],
        lines,
        source=f"s3://detections/{video}.ndjson",
        store_day=store_day,
        run_id=run_id,
        video_key=video,
        dead_letters=LocalDeadLetterSink(tmp_path / f"dead-{run_id}-{camera}.ndjson"),
        **options,
    )


def _stream_table() -> Table:
    return open_catalog("lakehouse-rest").load_table(JOB_TABLE)


def _stream_rows(run_id: str) -> list[dict]:
    table = _stream_table()
    if table.current_snapshot() is None:
        return []
    return table.scan(row_filter=f"dagster_run_id == '{run_id}'").to_arrow().to_pylist()


def _wait_for_rows(run_id: str, expected: int) -> list[dict]:
    """Rows of `run_id` once at least `expected` are committed (or what is there after WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    rows = _stream_rows(run_id)
    while len(rows) < expected and time.monotonic() < deadline:
        time.sleep(2)
        rows = _stream_rows(run_id)
    return rows


def _message_id(row: dict, encoding: str) -> tuple[int, int, int]:
    raw = row["pulsar_message_id"]
    data = base64.b64decode(raw) if encoding == "base64" else bytes.fromhex(raw)
    message_id = pulsar.MessageId.deserialize(data)
    return message_id.ledger_id(), message_id.entry_id(), message_id.batch_index()


def test_the_job_is_running_at_the_rest_api(flink_stack) -> None:
    rest_url = flink_stack.env()["FLINK_REST_URL"]
    with urllib.request.urlopen(f"{rest_url}/jobs", timeout=5) as response:
        jobs = json.loads(response.read())["jobs"]
    with urllib.request.urlopen(f"{rest_url}/jobs/overview", timeout=5) as response:
        overview = json.loads(response.read())["jobs"]
    running = [job for job in overview if job["name"] == JOB_NAME and job["state"] == "RUNNING"]
    assert len(running) == 1
    assert {"id": running[0]["jid"], "status": "RUNNING"} in jobs
    status = {row.name: row for row in flink_stack.status()}["flink (jobmanager + taskmanager)"]
    assert status.healthy and f"job {JOB_NAME} RUNNING" in status.detail


def test_the_flink_table_holds_exactly_what_the_dagster_bronze_holds(flink_stack, client, tmp_path) -> None:
    run_id = "run-compare"
    days = [StoreDay(date(2026, 11, 28), "store-001"), StoreDay(date(2026, 11, 29), "store-002")]
    receipts = {
        day: [_publish(client, day, camera, 700, run_id, tmp_path) for camera in ("cam-01", "cam-02")]
        for day in days
    }
    catalog = open_catalog()
    dagster_rows: list[dict] = []
    for day, day_receipts in receipts.items():
        write_bronze_partition(catalog, client, day_receipts, store_day=day, run_id=run_id)
        table = catalog.load_table(BRONZE_TABLE)
        dagster_rows += table.scan(row_filter=f"source_partition == '{day.key}'").to_arrow().to_pylist()
    assert len(dagster_rows) == 2 * 2 * 700

    flink_rows = _wait_for_rows(run_id, len(dagster_rows))

    assert len(flink_rows) == len(dagster_rows)
    by_id = {row["event_id"]: row for row in dagster_rows}
    assert Counter(row["event_id"] for row in flink_rows) == Counter(list(by_id))  # no duplicate, none lost
    same_values = ("store_id", "camera_id", "event_ts", "event_date", "payload", "producer_name",
                   "video_key", "dagster_run_id", "source_partition")  # fmt: skip
    for row in flink_rows:
        dagster = by_id[row["event_id"]]
        assert {c: row[c] for c in same_values} == {c: dagster[c] for c in same_values}
        assert _message_id(row, "base64") == _message_id(dagster, "hex")
        # The broker's publish time, to the millisecond in both.
        assert row["pulsar_publish_ts"] == dagster["pulsar_publish_ts"]

    stream, bronze = _stream_table(), catalog.load_table(BRONZE_TABLE)
    columns = [(f.name, str(f.field_type), f.required) for f in stream.schema().fields]
    assert columns == [(f.name, str(f.field_type), f.required) for f in bronze.schema().fields]
    partitioned_by = [
        (stream.schema().find_field(f.source_id).name, str(f.transform)) for f in stream.spec().fields
    ]
    assert partitioned_by == [("store_id", "identity"), ("event_date", "identity")]


def test_a_killed_taskmanager_resumes_from_its_checkpoint(flink_stack, client, tmp_path) -> None:
    run_id = "run-taskmanager-kill"
    day = StoreDay(date(2026, 11, 30), "store-003")
    before = _publish(client, day, "cam-01", 2000, run_id, tmp_path)
    assert len(_wait_for_rows(run_id, before.messages_sent)) == before.messages_sent

    # Mid-stream: the TaskManager dies (SIGKILL) when half of a video's lines are handed to the
    # broker; the other half, and one more video, are published while no TaskManager runs.
    taskmanager = flink_stack._load()["flink-taskmanager"].process()
    assert taskmanager is not None
    committed_at_kill: list[int] = []

    def kill_taskmanager_halfway(handed_over: int) -> None:
        if handed_over >= 10000 and not committed_at_kill:
            taskmanager.kill()
            taskmanager.wait(10)
            committed_at_kill.append(len(_stream_rows(run_id)))

    during = _publish(client, day, "cam-02", 20000, run_id, tmp_path, on_progress=kill_taskmanager_halfway)
    after = _publish(client, day, "cam-03", 3000, run_id, tmp_path)
    assert committed_at_kill and committed_at_kill[0] < before.messages_sent + during.messages_sent
    flink_stack.up()  # starts a new TaskManager; the job restarts from its last checkpoint

    expected = before.messages_sent + during.messages_sent + after.messages_sent
    rows = _wait_for_rows(run_id, expected)
    time.sleep(6)  # three more checkpoints: a replay would have committed its duplicates by now
    rows = _stream_rows(run_id)
    counts = Counter(row["event_id"] for row in rows)
    lost = expected - len(counts)
    duplicated = len(rows) - len(counts)
    assert (lost, duplicated) == (0, 0)


def test_a_jvm_engine_reads_every_table_as_pyiceberg_does(flink_stack, client, tmp_path) -> None:
    """Bronze, silver and gold after per-video replaces, a re-upload and maintenance, and Flink's
    own table: Iceberg's Java implementation (Flink's Iceberg connector) reads the same rows."""
    namespace = f"jvm_{uuid.uuid4().hex[:8]}"
    catalog = open_catalog()
    catalog.create_namespace(namespace)
    day = StoreDay(date(2026, 12, 1), "store-001")
    bronze = f"{namespace}.bronze_raw"
    first = [_publish(client, day, camera, 300, "run-jvm", tmp_path) for camera in ("cam-01", "cam-02")]
    write_bronze_partition(catalog, client, first, store_day=day, run_id="run-jvm", identifier=bronze)
    # cam-02's video uploaded again: published again and replaced alone.
    again = _publish(client, day, "cam-02", 300, "run-jvm-reupload", tmp_path)
    write_bronze_videos(catalog, client, [again], store_day=day, run_id="run-jvm-reupload", identifier=bronze)

    silver = silver_of_videos(day, 3)
    write_silver(catalog, silver, store_day=day, scope=None, run_id="day", namespace=namespace)
    one = video_of(day, 1)
    one_video = SilverTables(
        silver.tracks.filter(pc.equal(silver.tracks["video_key"], one)),
        silver.occupancy.filter(pc.equal(silver.occupancy["video_key"], one)),
    )
    write_silver(catalog, one_video, store_day=day, scope=[one], run_id="one-video", namespace=namespace)
    stored = read_silver(catalog, day, namespace=namespace)
    gold = build_gold(stored.tracks, stored.occupancy, day, demo_geometry().for_day(day.day), "detections")
    write_gold(catalog, gold.by_table_name(), store_day=day, run_id="day", namespace=namespace)
    maintain_namespace(
        catalog,
        namespace,
        MaintenanceOptions(snapshot_retention=timedelta(0), keep_last=1, orphan_window=timedelta(0)),
    )

    tables = {name.split(".")[-1]: catalog.load_table(name) for name in namespace_tables(catalog, namespace)}
    assert {"bronze_raw", SILVER_TRACKS, SILVER_OCCUPANCY, *GOLD_TABLES} <= set(tables)
    assert len(_wait_for_rows("run-jvm-reupload", again.messages_sent)) == again.messages_sent
    tables["bronze_stream"] = _stream_table()
    catalogs = {label: f"lakehouse.{namespace}" for label in tables} | {"bronze_stream": "rest.rva"}
    # Each table at the snapshot pyiceberg reads, so a commit of the running job cannot come between.
    snapshots = {label: table.current_snapshot().snapshot_id for label, table in tables.items()}
    java = read_with_java(
        flink_stack,
        {label: (f"{catalogs[label]}.{label}", snapshots[label]) for label in tables},
        tmp_path / "jvm",
    )

    for label, table in tables.items():
        python_rows = table.scan(snapshot_id=snapshots[label]).to_arrow().to_pylist()
        assert python_rows, label
        assert comparable(typed_rows(java[label], table)) == comparable(python_rows), label
