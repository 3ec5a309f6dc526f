"""Table maintenance on real bronze tables (SeaweedFS, Apache Pulsar, both Iceberg catalogs).

What an operator checks after maintenance: the rows are the same, the files are fewer, the
snapshots are a single chain within the retention, and nothing under the table's location is
left that the table does not reference.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError, SetupError
from retail_assets.lakehouse.bronze import SNAPSHOT_RUN_ID, ensure_bronze_table, partition_filter
from retail_assets.lakehouse.maintenance import (
    SNAPSHOT_MAINTENANCE,
    MaintenanceOptions,
    compact_table,
    expire_snapshots,
    maintain_namespace,
    maintain_table,
    namespace_tables,
    remove_orphan_files,
)
from retail_assets.objectstore import iter_objects, split_s3_uri
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.lakehouse.helpers import publish, upload_video_ndjson, write_partition, write_videos
from retail_assets_tests.streaming.process_kill import run_and_kill

DAY = date(2026, 11, 28)
PARTITION = StoreDay(DAY, "store-001")
OTHER = StoreDay(DAY, "store-002")
# Everything old enough to go at once: what an operator sets to clean a table right now.
RIGHT_NOW = MaintenanceOptions(snapshot_retention=timedelta(0), keep_last=3, orphan_window=timedelta(0))


def _rows(catalog, table_id: str, store_day: StoreDay) -> pa.Table:
    table = catalog.load_table(table_id).scan(row_filter=partition_filter(store_day)).to_arrow()
    return table.sort_by("event_id")


def _data_files(catalog, table_id: str, store_day: StoreDay) -> list[str]:
    table = catalog.load_table(table_id)
    return [task.file.file_path for task in table.scan(row_filter=partition_filter(store_day)).plan_files()]


def _objects_under(s3, location: str) -> set[str]:
    bucket, prefix = split_s3_uri(location.rstrip("/") + "/")
    # Keys ending in "/" are folder markers some stores list, not files.
    return {
        f"s3://{bucket}/{o['Key']}" for o in iter_objects(s3, bucket, prefix) if not o["Key"].endswith("/")
    }


def _referenced_by_pyiceberg(table) -> set[str]:
    """What the table's own metadata tables say it references (independent of the module)."""
    referenced = {table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)}
    referenced |= {s.manifest_list for s in table.snapshots()}
    referenced |= set(table.inspect.all_manifests()["path"].to_pylist())
    referenced |= set(table.inspect.all_files()["file_path"].to_pylist())
    return referenced


def _setup_two_videos(s3, pulsar_client, unique_topic, receipt_store):
    a = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 1200)
    b = upload_video_ndjson(s3, "store-001", "cam-02", DAY, 700)
    c = upload_video_ndjson(s3, "store-002", "cam-01", DAY, 300)
    for video, uri, _lines in (a, b, c):
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    return a, b, c


def test_twenty_rewrites_then_maintenance_leave_one_chain_no_orphan_same_rows_fewer_files(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    a, b, _c = _setup_two_videos(s3, pulsar_client, unique_topic, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, "clean")
    write_partition(catalog, pulsar_client, receipt_store.list_partition(OTHER), table_id, OTHER, "clean")
    clean_files = len(_data_files(catalog, table_id, PARTITION))
    # 20 re-materializations of the store-day: whole-day rebuilds and per-video rewrites (what the
    # sensor's runs do), in small batches, so the partition ends with many small files.
    for i in range(20):
        if i % 2:
            write_partition(
                catalog, pulsar_client, receipts, table_id, PARTITION, f"rerun-{i}", batch_size=150
            )
        else:
            write_videos(
                catalog, pulsar_client, [r for r in receipts if r.video_key == a[0]], table_id, PARTITION,
                f"video-{i}", batch_size=100,
            )  # fmt: skip
    before = _rows(catalog, table_id, PARTITION)
    other_before = _rows(catalog, table_id, OTHER)
    assert len(_data_files(catalog, table_id, PARTITION)) > clean_files
    table = catalog.load_table(table_id)
    assert len(table.snapshots()) > 20

    report = maintain_table(catalog, table_id, RIGHT_NOW)

    table = catalog.load_table(table_id)
    # Rows identical, in this partition and the other one.
    assert _rows(catalog, table_id, PARTITION).equals(before)
    assert _rows(catalog, table_id, OTHER).equals(other_before)
    assert before.num_rows == len(a[2]) + len(b[2])
    # Files per partition at or below one clean write's, and still one video per file.
    files = _data_files(catalog, table_id, PARTITION)
    assert len(files) <= clean_files
    field_id = table.schema().find_field("video_key").field_id
    for task in table.scan(row_filter=partition_filter(PARTITION)).plan_files():
        assert task.file.lower_bounds[field_id] == task.file.upper_bounds[field_id]
    # One live chain within the retention: the newest `keep_last` snapshots, each the parent of the next.
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    assert len(snapshots) == RIGHT_NOW.keep_last
    for parent, child in itertools.pairwise(snapshots):
        assert child.parent_snapshot_id == parent.snapshot_id
    assert snapshots[-1].snapshot_id == table.current_snapshot().snapshot_id
    assert snapshots[-1].summary[SNAPSHOT_MAINTENANCE] == "compaction"
    # No orphan: every object under the table's location is referenced by the table's metadata.
    on_s3 = _objects_under(s3, table.location())
    assert on_s3 - _referenced_by_pyiceberg(table) == set()
    assert report.compaction.partitions_compacted == 1  # store-002 had one file: nothing to merge
    assert report.expiry.snapshots_expired > 0 and report.orphans.files_removed > 0
    assert report.orphans.bytes_removed > 0
    # A second run finds nothing to do.
    again = maintain_table(catalog, table_id, RIGHT_NOW)
    assert again.compaction.partitions_compacted == 0
    assert again.orphans.files_removed == 0


def test_an_orphan_of_a_killed_bronze_write_goes_once_older_than_the_window(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, lines = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 3000)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    ensure_bronze_table(catalog, table_id)
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "ok"
    )
    rows = _rows(catalog, table_id, PARTITION)
    # Killed after 2 batches were written to storage, before its commit: files nobody references.
    args = ["bronze", catalog.name, table_id, PARTITION.key, "killed", receipt_store.prefix, "500"]
    run_and_kill(args, 2)
    table = catalog.load_table(table_id)
    left = _objects_under(s3, table.location()) - _referenced_by_pyiceberg(table)
    left_data = {path for path in left if "/data/" in path}
    assert len(left_data) >= 2

    window = MaintenanceOptions(orphan_window=timedelta(hours=1))
    # Written moments ago: younger than the window, so it may be a writer's not yet committed file.
    young = remove_orphan_files(catalog, table_id, window)
    assert young.files_removed == 0 and young.kept_younger_than_window >= len(left_data)
    assert left_data <= _objects_under(s3, table.location())

    # The same files once the window has passed (`now` an hour and a minute later).
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    old = remove_orphan_files(catalog, table_id, window, now=later)
    assert left_data <= set(old.removed)
    assert _objects_under(s3, table.location()) & left_data == set()
    assert _rows(catalog, table_id, PARTITION).equals(rows)
    assert len(lines) == rows.num_rows


def test_expiry_keeps_the_last_n_and_snapshots_within_the_retention(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, _ = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 50)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    for i in range(6):
        write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, f"run-{i}")
    table = catalog.load_table(table_id)
    count = len(table.snapshots())
    # A week's retention: every snapshot is a minute old, nothing goes.
    assert expire_snapshots(catalog, table_id, MaintenanceOptions(keep_last=2)).snapshots_expired == 0
    # Eight days later all are older than the retention; the newest two stay.
    later = datetime.now(UTC) + timedelta(days=8)
    dry = expire_snapshots(catalog, table_id, MaintenanceOptions(keep_last=2, dry_run=True), now=later)
    assert dry.snapshots_expired == count - 2 and len(catalog.load_table(table_id).snapshots()) == count
    report = expire_snapshots(catalog, table_id, MaintenanceOptions(keep_last=2), now=later)
    assert report.snapshots_expired == count - 2
    kept = catalog.load_table(table_id).snapshots()
    assert len(kept) == 2
    assert table.current_snapshot().snapshot_id in {s.snapshot_id for s in kept}


def test_maintenance_covers_every_table_of_the_namespace(catalog, stack) -> None:
    import uuid

    namespace = f"maint_{uuid.uuid4().hex[:8]}"
    catalog.create_namespace(namespace)
    schema = pa.schema([("store_id", pa.string()), ("n", pa.int64())])
    for name in ("t1", "t2"):
        table = catalog.create_table(f"{namespace}.{name}", schema=schema)
        for i in range(3):  # three appends: three small files, no video column
            table.append(pa.table({"store_id": ["s"], "n": [i]}, schema=schema))
    assert namespace_tables(catalog, namespace) == [f"{namespace}.t1", f"{namespace}.t2"]
    reports = maintain_namespace(catalog, namespace, RIGHT_NOW)
    assert [r.table for r in reports] == [f"{namespace}.t1", f"{namespace}.t2"]
    for report in reports:
        assert report.compaction.files_before == 3 and report.compaction.files_after == 1
        rows = catalog.load_table(report.table).scan().to_arrow()
        assert sorted(rows["n"].to_pylist()) == [0, 1, 2]
    assert namespace_tables(catalog, "no_such_namespace_here") == []


def test_bad_options_are_refused_naming_the_setting() -> None:
    with pytest.raises(InputError, match="keep_last"):
        MaintenanceOptions(keep_last=0)
    with pytest.raises(InputError, match="target_file_bytes"):
        MaintenanceOptions(target_file_bytes=0)


def test_compaction_dry_run_changes_nothing(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, _ = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 400)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, "small", batch_size=100)
    files = _data_files(catalog, table_id, PARTITION)
    assert len(files) == 4
    report = compact_table(catalog, table_id, MaintenanceOptions(dry_run=True))
    assert report.partitions[0].files_rewritten == 4 and report.partitions[0].files_written == 1
    assert _data_files(catalog, table_id, PARTITION) == files


def _writer(catalog, table_id: str, receipt_store, video: str, run_id: str, pause_s: float):
    """A bronze write of one video in its own process (the crash worker, not killed here)."""
    args = [
        "bronze-videos",
        catalog.name,
        table_id,
        PARTITION.key,
        run_id,
        receipt_store.prefix,
        "100",
        video,
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "retail_assets_tests.streaming.crash_worker", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "RVA_CRASH_WORKER_PAUSE_S": str(pause_s)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> list[str]:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return out.splitlines()


def _race_setup(catalog, table_id, pulsar_client, s3, unique_topic, receipt_store):
    a = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 600)
    b = upload_video_ndjson(s3, "store-001", "cam-02", DAY, 400)
    for video, uri, _ in (a, b):
        publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, "small", batch_size=100)
    other = _rows(catalog, table_id, PARTITION).filter(pa.compute.equal(pa.compute.field("video_key"), b[0]))
    # The video is published again (a new producer): the writer replaces its rows with these.
    again = publish(pulsar_client, s3, unique_topic, a[1], a[0], receipt_store, run_id="run-2")
    return a, b, other, again


def _assert_both_landed(catalog, table_id, a, b, other, again) -> None:
    rows = _rows(catalog, table_id, PARTITION)
    assert rows.num_rows == len(a[2]) + len(b[2])
    assert pa.compute.count_distinct(rows["event_id"]).as_py() == rows.num_rows
    of_a = rows.filter(pa.compute.equal(pa.compute.field("video_key"), a[0]))
    assert sorted(of_a["payload"].to_pylist()) == sorted(line.decode() for line in a[2])
    assert set(of_a["producer_name"].to_pylist()) == {again.producer_name}  # the writer's update
    assert rows.filter(pa.compute.equal(pa.compute.field("video_key"), b[0])).equals(other)


def test_a_writer_committing_while_compaction_is_about_to_commit_keeps_its_update(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    a, b, other, again = _race_setup(catalog, table_id, pulsar_client, s3, unique_topic, receipt_store)
    raced: list[str] = []

    def writer_commits_first(partition: str) -> None:
        if not raced:  # compaction has written its files; another process rewrites video a now
            raced.append(partition)
            _finish(_writer(catalog, table_id, receipt_store, a[0], "writer", pause_s=0))

    report = compact_table(catalog, table_id, before_commit=writer_commits_first)
    [partition] = report.partitions
    assert raced and partition.skipped is None
    assert partition.commit_attempts >= 2  # the first commit was rejected and planned again
    _assert_both_landed(catalog, table_id, a, b, other, again)
    table = catalog.load_table(table_id)
    assert table.current_snapshot().summary[SNAPSHOT_MAINTENANCE] == "compaction"
    # Every file compaction wrote for its rejected commit is gone again.
    assert _objects_under(s3, table.location()) - _referenced_by_pyiceberg(table) == set()


def test_compaction_committing_during_a_write_makes_the_writer_redo_and_both_land(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    a, b, other, again = _race_setup(catalog, table_id, pulsar_client, s3, unique_topic, receipt_store)
    writer = _writer(catalog, table_id, receipt_store, a[0], "writer", pause_s=0.5)
    assert writer.stdout is not None
    first = writer.stdout.readline()
    assert first.startswith("progress"), first  # the writer's transaction is open, files written
    report = compact_table(catalog, table_id)
    assert report.partitions_compacted == 1
    _finish(writer)
    _assert_both_landed(catalog, table_id, a, b, other, again)
    # The writer committed after the compaction: its commit was redone on the compacted table.
    table = catalog.load_table(table_id)
    chain = {s.snapshot_id: s for s in table.snapshots()}
    current = table.current_snapshot()
    ancestors = []
    snapshot = current
    while snapshot is not None and snapshot.parent_snapshot_id in chain:
        snapshot = chain[snapshot.parent_snapshot_id]
        ancestors.append(snapshot.summary.get(SNAPSHOT_MAINTENANCE))
    assert current.summary.get(SNAPSHOT_RUN_ID) == "writer" and "compaction" in ancestors


def test_orphan_removal_stops_when_a_referenced_file_is_not_in_the_listing(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    video, uri, _ = upload_video_ndjson(s3, "store-001", "cam-01", DAY, 300)
    publish(pulsar_client, s3, unique_topic, uri, video, receipt_store)
    receipts = receipt_store.list_partition(PARTITION)
    for run_id in ("one", "two"):  # the first write's files are unreferenced once expired
        write_partition(catalog, pulsar_client, receipts, table_id, PARTITION, run_id)
    expire_snapshots(catalog, table_id, MaintenanceOptions(snapshot_retention=timedelta(0), keep_last=1))
    table = catalog.load_table(table_id)
    before = _objects_under(s3, table.location())
    # A live data file the listing does not show (as when a store writes a path differently).
    [live] = _data_files(catalog, table_id, PARTITION)
    bucket, key = split_s3_uri(live)
    s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(SetupError, match=r"not in the object store's listing .* nothing was deleted"):
        remove_orphan_files(catalog, table_id, RIGHT_NOW)
    assert _objects_under(s3, table.location()) == before - {live}
