"""SIGKILL in the middle of a publish and in the middle of a bronze write; the next run is exact."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pyarrow.compute as pc

from retail_assets.contracts.store_day import StoreDay
from retail_assets.lakehouse.bronze import SNAPSHOT_RUN_ID
from retail_assets_tests.lakehouse.helpers import (
    partition_rows,
    publish,
    upload_video_ndjson,
    write_partition,
)
from retail_assets_tests.streaming.helpers import read_whole_topic
from retail_assets_tests.streaming.process_kill import run_and_kill

DAY = date(2026, 11, 28)
PARTITION = StoreDay.parse("2026-11-28|store-001")


def test_publish_killed_midway_leaves_orphans_that_never_reach_bronze(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 10_000)
    first = publish(pulsar_client, s3, unique_topic, uri, video, receipt_store, run_id="run-1")

    # A re-publish of the same video is killed after 3 chunks (6,000 lines handed to the producer).
    run_and_kill(["publish", unique_topic, uri, PARTITION.key, video, "run-2", receipt_store.prefix], 3)
    assert receipt_store.get(PARTITION, video) == first  # the crashed attempt wrote no receipt
    on_topic = Counter(m.producer_name() for m in read_whole_topic(pulsar_client, unique_topic))
    orphans = {name: n for name, n in on_topic.items() if name != first.producer_name}
    assert orphans and 0 < sum(orphans.values()) < len(lines)  # the crash left part of a publish

    commit = write_partition(catalog, pulsar_client, [first], table_id, PARTITION, "bronze-1")
    assert commit.rows == len(lines)

    # The next run publishes again and rebuilds: exactly the NDJSON lines, no duplicate event id.
    again = publish(pulsar_client, s3, unique_topic, uri, video, receipt_store, run_id="run-3")
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "bronze-2"
    )
    rows = partition_rows(catalog, table_id, PARTITION)
    assert rows.num_rows == len(lines)
    assert pc.count_distinct(rows["event_id"]).as_py() == len(lines)
    assert sorted(rows["payload"].to_pylist()) == sorted(line.decode() for line in lines)
    assert set(rows["producer_name"].to_pylist()) == {again.producer_name}


def test_bronze_write_killed_midway_changes_nothing_and_the_rerun_is_exact(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    a = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 3000)
    b = upload_video_ndjson(s3, "store-001", "cam-02", DAY, 2000)
    publish(pulsar_client, s3, unique_topic, a[1], a[0], receipt_store)
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "before"
    )
    before = catalog.load_table(table_id).current_snapshot()
    publish(pulsar_client, s3, unique_topic, b[1], b[0], receipt_store)

    # Killed after 2 of 10 batches were written to storage, before the commit.
    args = ["bronze", catalog.name, table_id, PARTITION.key, "killed", receipt_store.prefix, "500"]
    run_and_kill(args, 2)
    table = catalog.load_table(table_id)
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert partition_rows(catalog, table_id, PARTITION).num_rows == 3000  # old rows, none half-written

    commit = write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "rerun"
    )
    rows = partition_rows(catalog, table_id, PARTITION)
    expected = sorted(line.decode() for line in a[2] + b[2])
    assert commit.rows == rows.num_rows == 5000
    assert pc.count_distinct(rows["event_id"]).as_py() == 5000
    assert sorted(rows["payload"].to_pylist()) == expected
    assert catalog.load_table(table_id).current_snapshot().summary[SNAPSHOT_RUN_ID] == "rerun"
