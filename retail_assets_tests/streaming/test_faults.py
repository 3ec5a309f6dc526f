"""Pulsar or S3 going away mid-run, for real: a second embedded stack whose services get killed.

Each fault gives a clear error after bounded retries and leaves no receipt (so nothing of the
failed attempt counts) or, for the bronze write, an unchanged table. After the service comes
back, the next run ends with exactly the NDJSON lines in bronze.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import date

import psutil
import pulsar
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import SetupError
from retail_assets.lakehouse.bronze import BronzeWriteError, partition_filter, write_bronze_partition
from retail_assets.objectstore import make_s3_client
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.publish_video import publish_video
from retail_assets.streaming.publisher import PublishError, create_event_producer
from retail_assets.streaming.reader import ReadError
from retail_assets.streaming.receipts import ReceiptStore
from retail_assets_tests.factories import ndjson_bytes, ndjson_lines, video_key

DAY = date(2026, 11, 28)
PARTITION = StoreDay(DAY, "store-001")
TOPIC = "persistent://retail/metadata/events"


class FaultStack:
    """A second stack for killing services without disturbing the test run's stack."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.env = stack.env()

    def kill(self, service: str) -> None:
        pid = json.loads(self.stack.state_path.read_text())["services"][service]["pid"]
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGKILL)  # a process this fixture started
        proc.wait(10)

    def restart(self) -> None:
        self.stack.up()
        self.env = self.stack.env()

    def s3(self):
        e = self.env
        return make_s3_client(
            e["AWS_ENDPOINT_URL_S3"], "us-east-1", e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"]
        )

    def client(self) -> pulsar.Client:
        return open_client(
            self.env["PULSAR_SERVICE_URL"], operation_timeout_s=3, auth_token=self.env["PULSAR_AUTH_TOKEN"]
        )

    def catalog(self) -> SqlCatalog:
        p = "PYICEBERG_CATALOG__LAKEHOUSE__"
        e = self.env
        return SqlCatalog(
            "fault",
            uri=e[f"{p}URI"],
            warehouse=e[f"{p}WAREHOUSE"],
            **{
                "s3.endpoint": e[f"{p}S3__ENDPOINT"],
                "s3.access-key-id": e["AWS_ACCESS_KEY_ID"],
                "s3.secret-access-key": e["AWS_SECRET_ACCESS_KEY"],
                "s3.region": "us-east-1",
                # Fail fast once S3 is gone: a few quick attempts, not minutes of waiting.
                "s3.connect-timeout": "2",
                "s3.request-timeout": "5",
            },
        )


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    stack = EmbeddedStack(tmp_path_factory.mktemp("fault-stack"))
    stack.up()
    try:
        yield FaultStack(stack)
    finally:
        stack.down(purge=True)


@pytest.fixture
def faults(fault_stack: FaultStack) -> FaultStack:
    """The fault stack with every service up, whatever an earlier test left killed."""
    fault_stack.restart()
    return fault_stack


def _upload(s3, camera: str, count: int) -> tuple[str, str, list[bytes]]:
    video = video_key("store-001", camera, DAY)
    lines = ndjson_lines("store-001", camera, DAY, count, video=video)
    key = f"{video}.best@0123456789ab.ndjson"
    s3.put_object(Bucket="detections", Key=key, Body=ndjson_bytes(lines))
    return video, f"s3://detections/{key}", lines


def _bronze(faults: FaultStack, client, table_id: str, run_id: str, **kw):
    receipts = ReceiptStore(faults.s3(), "detections").list_partition(PARTITION)
    return write_bronze_partition(
        faults.catalog(),
        client,
        receipts,
        store_day=PARTITION,
        run_id=run_id,
        identifier=table_id,
        **kw,
    )


def _assert_bronze_is_exact(faults: FaultStack, table_id: str, lines: list[bytes]) -> None:
    rows = faults.catalog().load_table(table_id).scan(row_filter=partition_filter(PARTITION)).to_arrow()
    assert rows.num_rows == len(lines)
    assert pc.count_distinct(rows["event_id"]).as_py() == len(lines)
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in lines)


def test_no_broker_at_all_fails_after_bounded_attempts(faults: FaultStack) -> None:
    client = open_client("pulsar://127.0.0.1:9", operation_timeout_s=1)  # port 9: nothing listens
    try:
        with pytest.raises(SetupError, match=r"after 2 attempts.*PULSAR_SERVICE_URL"):
            create_event_producer(client, TOPIC, "rva-test", attempts=2, backoff_s=0.1)
    finally:
        client.close()


def test_broker_killed_mid_publish_then_next_run_is_exact(faults: FaultStack) -> None:
    s3 = faults.s3()
    receipts = ReceiptStore(s3, "detections")
    video, uri, lines = _upload(s3, "cam-01", 8000)
    client = faults.client()

    killed: list[int] = []

    def kill_broker_once(handed_over: int) -> None:
        # Progress keeps being reported after the kill; kill only the first time.
        if handed_over >= 2000 and not killed:
            killed.append(handed_over)
            faults.kill("pulsar")

    with pytest.raises(PublishError, match=r"did not complete.*No receipt was written"):
        publish_video(
            client,
            s3,
            TOPIC,
            uri,
            store_day=PARTITION,
            run_id="run-1",
            video_key=video,
            receipts=receipts,
            send_timeout_ms=3000,
            max_pending=1000,
            on_progress=kill_broker_once,
        )
    client.close()
    assert receipts.get(PARTITION, video) is None

    faults.restart()
    client = faults.client()
    try:
        receipt = publish_video(
            client,
            faults.s3(),
            TOPIC,
            uri,
            store_day=PARTITION,
            run_id="run-2",
            video_key=video,
            receipts=receipts,
        )
        assert receipt.messages_sent == len(lines)
        commit = _bronze(faults, client, "rva.bronze_pulsar_fault", "bronze-1")
        assert commit.rows == len(lines)
    finally:
        client.close()
    _assert_bronze_is_exact(faults, "rva.bronze_pulsar_fault", lines)


def test_object_store_killed_mid_publish_then_next_run_is_exact(faults: FaultStack) -> None:
    s3 = faults.s3()
    receipts = ReceiptStore(s3, "detections")
    video, uri, lines = _upload(s3, "cam-02", 12_000)
    client = faults.client()

    def kill_s3_once(handed_over: int) -> None:
        if handed_over == 2000:
            faults.kill("seaweedfs")

    try:
        with pytest.raises(SetupError, match="check that the object store is up") as failure:
            publish_video(
                client,
                s3,
                TOPIC,
                uri,
                store_day=PARTITION,
                run_id="run-1",
                video_key=video,
                receipts=receipts,
                on_progress=kill_s3_once,
            )
        assert faults.env["AWS_SECRET_ACCESS_KEY"] not in str(failure.value)
        faults.restart()
        s3 = faults.s3()
        receipts = ReceiptStore(s3, "detections")
        assert receipts.get(PARTITION, video) is None  # the failed attempt never became visible
        receipt = publish_video(
            client,
            s3,
            TOPIC,
            uri,
            store_day=PARTITION,
            run_id="run-2",
            video_key=video,
            receipts=receipts,
        )
        assert receipt.messages_sent == len(lines)
        _bronze(faults, client, "rva.bronze_s3_fault", "bronze-1")
    finally:
        client.close()
    videos = {r.video_key: r for r in receipts.list_partition(PARTITION)}
    expected = [line for v in videos for line in (lines if v == video else _lines_of(faults, v))]
    _assert_bronze_is_exact(faults, "rva.bronze_s3_fault", expected)


def _lines_of(faults: FaultStack, video: str) -> list[bytes]:
    key = f"{video}.best@0123456789ab.ndjson"
    return faults.s3().get_object(Bucket="detections", Key=key)["Body"].read().splitlines()


def test_broker_killed_mid_bronze_read_leaves_the_table_unchanged(faults: FaultStack) -> None:
    s3 = faults.s3()
    receipts = ReceiptStore(s3, "detections")
    # More messages than the reader's receive queue holds, so the broker is still needed when killed.
    video, uri, _ = _upload(s3, "cam-03", 30_000)
    client = faults.client()
    table_id = "rva.bronze_read_fault"
    try:
        publish_video(
            client,
            s3,
            TOPIC,
            uri,
            store_day=PARTITION,
            run_id="run-1",
            video_key=video,
            receipts=receipts,
        )
        before = _bronze(faults, client, table_id, "before")
        killed: list[int] = []

        def kill_broker_once(rows: int) -> None:
            if not killed:
                killed.append(rows)
                faults.kill("pulsar")

        with pytest.raises(ReadError):
            _bronze(faults, client, table_id, "during", batch_size=2000, on_batch=kill_broker_once)
    finally:
        client.close()
    table = faults.catalog().load_table(table_id)
    assert table.current_snapshot().snapshot_id == before.snapshot_id

    faults.restart()
    client = faults.client()
    try:
        commit = _bronze(faults, client, table_id, "after")
    finally:
        client.close()
    assert commit.rows == before.rows
    everything = [line for r in receipts.list_partition(PARTITION) for line in _lines_of(faults, r.video_key)]
    _assert_bronze_is_exact(faults, table_id, everything)


def test_object_store_killed_mid_bronze_write_fails_clearly(faults: FaultStack) -> None:
    s3 = faults.s3()
    receipts = ReceiptStore(s3, "detections")
    video, uri, _ = _upload(s3, "cam-04", 3000)
    client = faults.client()
    table_id = "rva.bronze_write_fault"
    try:
        publish_video(
            client,
            s3,
            TOPIC,
            uri,
            store_day=PARTITION,
            run_id="run-1",
            video_key=video,
            receipts=receipts,
        )
        killed: list[int] = []

        def kill_s3_once(rows: int) -> None:
            if not killed:
                killed.append(rows)
                faults.kill("seaweedfs")

        with pytest.raises(BronzeWriteError, match="writing to the object store failed"):
            _bronze(faults, client, table_id, "during", batch_size=500, on_batch=kill_s3_once)
        faults.restart()
        assert faults.catalog().load_table(table_id).current_snapshot() is None  # nothing was committed
        _bronze(faults, client, table_id, "after")
    finally:
        client.close()
    receipts = ReceiptStore(faults.s3(), "detections")  # S3 may listen on new ports after the restart
    everything = [line for r in receipts.list_partition(PARTITION) for line in _lines_of(faults, r.video_key)]
    _assert_bronze_is_exact(faults, table_id, everything)
