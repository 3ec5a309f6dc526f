"""The bronze writer against real Apache Pulsar, SeaweedFS and both Iceberg catalogs (SQL and REST)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from datetime import UTC, date, datetime

import pulsar
import pyarrow.compute as pc
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField, StringType, TimestamptzType

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError, SetupError
from retail_assets.lakehouse.bronze import (
    BRONZE_TABLE,
    SNAPSHOT_PARTITION,
    SNAPSHOT_RUN_ID,
    BronzeWriteError,
    ensure_bronze_table,
)
from retail_assets.streaming.schema import detection_event_schema
from retail_assets_tests.lakehouse.helpers import (
    partition_rows,
    publish,
    read_parquet_from_s3,
    upload_video_ndjson,
    write_partition,
)

DAY = date(2026, 11, 28)
PARTITION = StoreDay.parse("2026-11-28|store-001")


def test_table_is_created_with_the_bronze_schema_and_partition_spec(catalog, table_id) -> None:
    table = ensure_bronze_table(catalog, table_id)
    names = table.schema().column_names
    for column in (
        "event_id",
        "store_id",
        "camera_id",
        "event_ts",
        "event_date",
        "payload",
        "pulsar_message_id",
        "pulsar_publish_ts",
        "producer_name",
        "ingested_at",
        "dagster_run_id",
        "source_partition",
    ):
        assert column in names
    assert str(table.schema().find_field("event_ts").field_type) == "timestamptz"
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [
        ("store_id", "identity"),
        ("event_date", "identity"),
    ]
    assert ensure_bronze_table(catalog, table_id).metadata_location == table.metadata_location  # idempotent
    assert BRONZE_TABLE == "rva.bronze_raw"


def test_rows_equal_ndjson_lines_and_every_row_came_through_pulsar(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    videos = [
        upload_video_ndjson(s3, "store-001", cam, DAY, n) for cam, n in (("cam-01", 1200), ("cam-02", 700))
    ]
    # Another store's publish shares the topic; it must not leak into store-001's partition.
    other = upload_video_ndjson(s3, "store-002", "cam-01", DAY, 300)
    for video, uri, _ in [*videos, other]:
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)

    receipts = receipt_store.list_partition(PARTITION)
    assert sorted(r.video_key for r in receipts) == sorted(v for v, _, _ in videos)
    commit = write_partition(
        catalog, pulsar_client, receipts, table_id, PARTITION, "dagster-run-1", batch_size=500
    )

    expected = [line for _, _, lines in videos for line in lines]
    rows = partition_rows(catalog, table_id, PARTITION)
    assert commit.rows == rows.num_rows == len(expected) == 1900
    assert commit.duplicates_dropped == 0
    assert Counter(line.decode() for line in expected) == Counter(rows["payload"].to_pylist())
    assert pc.count_distinct(rows["event_id"]).as_py() == rows.num_rows
    assert set(rows["store_id"].to_pylist()) == {"store-001"}
    assert set(rows["event_date"].to_pylist()) == {DAY}
    assert set(rows["dagster_run_id"].to_pylist()) == {"dagster-run-1"}
    assert set(rows["source_partition"].to_pylist()) == {PARTITION.key}

    # Invariant 2: a row's message id reads that very message back from Pulsar.
    sample = rows.slice(777, 1).to_pylist()[0]
    reader = pulsar_client.create_reader(
        unique_topic,
        pulsar.MessageId.deserialize(bytes.fromhex(sample["pulsar_message_id"])),
        start_message_id_inclusive=True,
        schema=detection_event_schema(),
    )
    msg = reader.read_next(10_000)
    reader.close()
    assert msg.data().decode() == sample["payload"]
    assert msg.producer_name() == sample["producer_name"]

    table = catalog.load_table(table_id)
    summary = table.current_snapshot().summary
    assert summary[SNAPSHOT_RUN_ID] == "dagster-run-1" and summary[SNAPSHOT_PARTITION] == PARTITION.key


def test_data_files_are_plain_parquet_with_the_published_lines(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 400)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    commit = write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-pq"
    )
    assert commit.data_files and all(
        f.startswith("s3://") and f.endswith(".parquet") for f in commit.data_files
    )
    payloads = []
    for uri_of_file in commit.data_files:
        part = read_parquet_from_s3(s3, uri_of_file)
        assert "payload" in part.column_names and "pulsar_message_id" in part.column_names
        payloads += part["payload"].to_pylist()
    assert sorted(payloads) == sorted(line.decode() for line in lines)


def test_rerunning_a_partition_and_republishing_leave_the_same_rows(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 600)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store, run_id="run-1")
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-1"
    )
    # Same partition again, then a re-publish of the same video (new receipt) and a third write.
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-2"
    )
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store, run_id="run-3")
    commit = write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-3"
    )
    rows = partition_rows(catalog, table_id, PARTITION)
    assert rows.num_rows == len(lines) == commit.rows
    assert pc.count_distinct(rows["event_id"]).as_py() == len(lines)
    assert set(rows["dagster_run_id"].to_pylist()) == {"run-3"}
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in lines)


def test_a_video_removed_from_the_partition_disappears_and_other_partitions_stay(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    a = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 100)
    b = upload_video_ndjson(s3, "store-001", "cam-02", DAY, 50)
    c = upload_video_ndjson(s3, "store-002", "cam-01", DAY, 30)
    for video, uri, _ in (a, b, c):
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "r1"
    )
    other = StoreDay(DAY, "store-002")
    write_partition(catalog, pulsar_client, receipt_store.list_partition(other), table_id, other, "r1")

    receipt_store.delete(PARTITION, b[0])
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "r2"
    )
    assert partition_rows(catalog, table_id, PARTITION).num_rows == 100
    assert partition_rows(catalog, table_id, other).num_rows == 30


def test_duplicate_event_ids_are_dropped_and_counted(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 300)
    # The same events twice in one NDJSON (e.g. a concatenated retry): published, then dropped.
    s3.put_object(Bucket="detections", Key=uri.split("/", 3)[3], Body=b"\n".join(lines + lines[:40]) + b"\n")
    receipt = publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    assert receipt.messages_sent == 340
    commit = write_partition(
        catalog, pulsar_client, [receipt], table_id, PARTITION, "run-dup", batch_size=100
    )
    rows = partition_rows(catalog, table_id, PARTITION)
    assert commit.duplicates_dropped == 40 and commit.rows == rows.num_rows == 300
    assert pc.count_distinct(rows["event_id"]).as_py() == 300


def test_two_partitions_written_at_the_same_time_both_land(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    ensure_bronze_table(catalog, table_id)
    partitions = {StoreDay(DAY, "store-001"): 800, StoreDay(DAY, "store-002"): 500}
    lines_of: dict[StoreDay, list[bytes]] = {}
    for partition, count in partitions.items():
        store = partition.store_id
        video, uri, lines_of[partition] = upload_video_ndjson(s3, store, "cam-01", DAY, count)
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)

    # Both writers hold an open transaction with all their rows written before either commits,
    # so the two commits overlap for sure: the catalog must reject one and it is redone.
    all_written = threading.Barrier(len(partitions), timeout=120)
    results: dict[StoreDay, object] = {}

    def write(partition: StoreDay) -> None:
        receipts = receipt_store.list_partition(partition)
        waited: list[bool] = []

        def wait_for_the_other_writer_once(rows_written: int) -> None:
            if rows_written == partitions[partition] and not waited:
                waited.append(True)
                all_written.wait()

        try:
            results[partition] = write_partition(
                catalog,
                pulsar_client,
                receipts,
                table_id,
                partition,
                f"run-{partition.key}",
                batch_size=200,
                on_batch=wait_for_the_other_writer_once,
            )
        except Exception as exc:  # reported below with the partition it belongs to
            results[partition] = exc

    threads = [threading.Thread(target=write, args=(p,)) for p in partitions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for partition, count in partitions.items():
        assert not isinstance(results[partition], Exception), results[partition]
        rows = partition_rows(catalog, table_id, partition)
        assert rows.num_rows == count == results[partition].rows  # type: ignore[union-attr]
        assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in lines_of[partition])
        assert set(rows["dagster_run_id"].to_pylist()) == {f"run-{partition.key}"}
    # The overlap happened: one writer's first commit was rejected and redone.
    attempts = sorted(r.commit_attempts for r in results.values())  # type: ignore[union-attr]
    assert attempts[0] == 1 and attempts[-1] > 1, attempts


def test_every_commit_rejected_raises_and_leaves_the_previous_rows(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    other = StoreDay(DAY, "store-002")
    video, uri, previous_lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 120)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    before = write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-before"
    )
    # A second video joins the store-day; its write loses every race below.
    video_b, uri_b, _ = upload_video_ndjson(s3, "store-001", "cam-02", DAY, 60)
    publish(pulsar_client, s3, unique_topic, uri_b, video_b, receipt_store)
    video_o, uri_o, other_lines = upload_video_ndjson(s3, "store-002", "cam-01", DAY, 30)
    publish(pulsar_client, s3, unique_topic, uri_o, video_o, receipt_store)
    interfering: list[object] = []

    def another_writer_commits_first(rows_written: int) -> None:
        # Once in every attempt (after its first video's batch) while its transaction is open: a
        # real commit by another writer.
        if rows_written != len(previous_lines):
            return
        interfering.append(
            write_partition(
                catalog,
                pulsar_client,
                receipt_store.list_partition(other),
                table_id,
                other,
                f"run-other-{len(interfering)}",
            )
        )

    with pytest.raises(BronzeWriteError) as failure:
        write_partition(
            catalog,
            pulsar_client,
            receipt_store.list_partition(PARTITION),
            table_id,
            PARTITION,
            "run-rejected",
            commit_attempts=3,
            backoff_s=0.01,
            on_batch=another_writer_commits_first,
        )
    message = str(failure.value)
    assert "3 commits were rejected" in message and "nothing was changed" in message
    assert PARTITION.key in message and table_id in message
    assert len(interfering) == 3  # each attempt really met a concurrent commit
    rows = partition_rows(catalog, table_id, PARTITION)
    assert rows.num_rows == before.rows == 120
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in previous_lines)
    assert set(rows["dagster_run_id"].to_pylist()) == {"run-before"}
    assert partition_rows(catalog, table_id, other).num_rows == len(other_lines)
    assert catalog.load_table(table_id).current_snapshot().summary[SNAPSHOT_RUN_ID] == "run-other-2"


def test_a_receipt_carrying_events_of_another_store_is_refused_and_nothing_is_committed(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, previous_lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 40)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "run-before"
    )
    snapshot_before = catalog.load_table(table_id).current_snapshot().snapshot_id
    # store-002's publish, its receipt filed under store-001's partition (e.g. copied by hand).
    video_o, uri_o, _ = upload_video_ndjson(s3, "store-002", "cam-07", DAY, 25)
    foreign = dataclasses.replace(
        publish(pulsar_client, s3, unique_topic, uri_o, video_o, receipt_store), store_day=PARTITION
    )
    with pytest.raises(BronzeWriteError) as failure:
        write_partition(
            catalog,
            pulsar_client,
            [*receipt_store.list_partition(PARTITION), foreign],
            table_id,
            PARTITION,
            "run-mixed",
            batch_size=10,
        )
    message = str(failure.value)
    assert video_o in message and "another store than store-001" in message
    assert catalog.load_table(table_id).current_snapshot().snapshot_id == snapshot_before
    rows = partition_rows(catalog, table_id, PARTITION)
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in previous_lines)
    assert set(rows["dagster_run_id"].to_pylist()) == {"run-before"}


def test_an_existing_table_without_the_bronze_columns_is_refused_naming_them(
    catalog, table_id, pulsar_client
) -> None:
    catalog.create_table(
        table_id,
        schema=Schema(
            NestedField(1, "event_id", StringType(), required=True),
            NestedField(2, "store_id", StringType(), required=True),
            NestedField(3, "camera_id", StringType(), required=True),
            NestedField(4, "event_ts", TimestamptzType(), required=True),
        ),
    )
    with pytest.raises(SetupError) as failure:
        write_partition(catalog, pulsar_client, [], table_id, PARTITION, "run-x")
    message = str(failure.value)
    assert table_id in message
    missing = message.split("lacks bronze column(s)", 1)[1]
    for column in ("event_date", "payload", "pulsar_message_id", "producer_name", "source_partition"):
        assert column in missing
    for column in ("event_id", "store_id", "camera_id", "event_ts"):
        assert column not in missing
    assert catalog.load_table(table_id).current_snapshot() is None  # nothing was written


def test_a_commit_rejected_because_another_writer_committed_first_is_redone(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    first, second = StoreDay(DAY, "store-001"), StoreDay(DAY, "store-002")
    for store, count in (("store-001", 300), ("store-002", 120)):
        video, uri, _ = upload_video_ndjson(s3, store, "cam-01", DAY, count)
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    ensure_bronze_table(catalog, table_id)
    interleaved: list[object] = []

    def commit_other_partition_meanwhile(rows_written: int) -> None:
        # While the first write's transaction is open, another writer commits: a real conflict.
        if not interleaved:
            interleaved.append(
                write_partition(
                    catalog, pulsar_client, receipt_store.list_partition(second), table_id, second, "run-b"
                )
            )

    commit = write_partition(
        catalog,
        pulsar_client,
        receipt_store.list_partition(first),
        table_id,
        first,
        "run-a",
        on_batch=commit_other_partition_meanwhile,
    )
    assert commit.commit_attempts == 2
    assert partition_rows(catalog, table_id, first).num_rows == 300
    assert partition_rows(catalog, table_id, second).num_rows == 120


def test_receipts_of_another_partition_are_refused(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
):
    video, uri, _ = upload_video_ndjson(s3, "store-002", "cam-01", DAY, 5)
    receipt = publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    with pytest.raises(InputError, match="belongs to partition '2026-11-28\\|store-002'"):
        write_partition(catalog, pulsar_client, [receipt], table_id, PARTITION, "run-x")


def test_the_same_partition_written_twice_at_once_ends_with_one_copy_of_each_row(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 250)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    ensure_bronze_table(catalog, table_id)
    racing: list[object] = []

    def same_partition_meanwhile(rows_written: int) -> None:
        if not racing:  # e.g. a backfill and a re-run of the same store-day overlapping
            racing.append(write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, "run-b"))

    commit = write_partition(
        catalog, pulsar_client, receipts, table_id, PARTITION, "run-a", on_batch=same_partition_meanwhile
    )
    assert commit.commit_attempts == 2
    rows = partition_rows(catalog, table_id, PARTITION)
    assert rows.num_rows == 250 and pc.count_distinct(rows["event_id"]).as_py() == 250
    assert set(rows["dagster_run_id"].to_pylist()) == {"run-a"}
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in lines)


def test_event_ts_is_the_payload_time_whatever_its_iso_form(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 3)
    forms = ["2026-11-28T23:59:59.123456789Z", "2026-11-28T09:00:00+00:00", "2026-11-29T00:30:00.5Z"]
    rewritten = []
    for line, ts in zip(lines, forms, strict=True):
        event = json.loads(line)
        event["ts"] = ts
        rewritten.append(json.dumps(event).encode())
    s3.put_object(Bucket="detections", Key=uri.split("/", 3)[3], Body=b"\n".join(rewritten) + b"\n")
    receipt = publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    assert receipt.messages_sent == 3
    write_partition(catalog, pulsar_client, [receipt], table_id, PARTITION, "run-ts")
    rows = partition_rows(catalog, table_id, PARTITION).sort_by("event_ts").to_pylist()
    assert [r["event_ts"] for r in rows] == [
        datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 28, 23, 59, 59, 123456, tzinfo=UTC),  # nanoseconds cut to microseconds
        datetime(2026, 11, 29, 0, 30, 0, 500000, tzinfo=UTC),  # next UTC day, same store-day
    ]
    assert {r["event_date"] for r in rows} == {DAY}


def test_a_partition_without_receipts_ends_empty(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, _ = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 20)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "r1"
    )
    receipt_store.delete(PARTITION, video)  # the store-day's only video was removed
    commit = write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "r2"
    )
    assert commit.rows == 0 and commit.data_files == []
    assert partition_rows(catalog, table_id, PARTITION).num_rows == 0
