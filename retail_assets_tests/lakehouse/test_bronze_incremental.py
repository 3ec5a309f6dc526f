"""Replacing the rows of some videos of a store-day (`write_bronze_videos`), on both catalogs.

What a busy day needs: a new video's bronze write touches its own rows only, in one commit, and
stays exact when two runs of the store-day commit at once or a writer is killed mid-write.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pyarrow.compute as pc
from pyiceberg.table.snapshots import Summary

from retail_assets.contracts.store_day import StoreDay
from retail_assets.lakehouse.bronze import (
    SNAPSHOT_RUN_ID,
    SNAPSHOTS_KEPT_PROPERTY,
    ensure_bronze_table,
    partition_filter,
)
from retail_assets_tests.lakehouse.helpers import (
    partition_rows,
    publish,
    upload_video_ndjson,
    write_partition,
    write_videos,
)
from retail_assets_tests.streaming.process_kill import run_and_kill

DAY = date(2026, 11, 28)
PARTITION = StoreDay(DAY, "store-001")


def _files_by_video(catalog, table_id: str) -> dict[str, set[str]]:
    """Data file paths of the partition, by the one video each file holds (read from each file)."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    table = catalog.load_table(table_id)
    by_video: dict[str, set[str]] = {}
    for task in table.scan(row_filter=partition_filter(PARTITION)).plan_files():
        rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table([task])
        videos = set(rows["video_key"].to_pylist())
        assert len(videos) == 1, f"{task.file.file_path} mixes videos {videos}"
        by_video.setdefault(videos.pop(), set()).add(task.file.file_path)
    return by_video


def _run_snapshots(catalog, table_id: str, run_id: str) -> list[Summary]:
    table = catalog.load_table(table_id)
    return [s.summary for s in table.snapshots() if s.summary.get(SNAPSHOT_RUN_ID) == run_id]


def _summed(summaries: list[Summary], name: str) -> int:
    return sum(int(s.get(name) or 0) for s in summaries)


def _publish_videos(pulsar_client, s3, topic, receipt_store, counts: dict[str, int]) -> dict[str, tuple]:
    videos = {}
    for camera, count in counts.items():
        video, uri, lines = upload_video_ndjson(s3, PARTITION.store_id, camera, DAY, count)
        publish(pulsar_client, s3, topic, uri, video, receipt_store)
        videos[camera] = (video, uri, lines)
    return videos


def test_a_video_written_alone_touches_only_its_own_rows_and_files(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    videos = _publish_videos(
        pulsar_client, s3, unique_topic, receipt_store, {"cam-01": 400, "cam-02": 300, "cam-03": 200}
    )
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "full"
    )
    files_before = _files_by_video(catalog, table_id)
    assert set(files_before) == {v[0] for v in videos.values()}  # one video per file, every video

    # cam-02's video is processed again (a new publish, e.g. a re-upload): only its rows change.
    b_video, b_uri, b_lines = videos["cam-02"]
    republished = publish(pulsar_client, s3, unique_topic, b_uri, b_video, receipt_store, run_id="run-2")
    commit = write_videos(catalog, pulsar_client, [republished], table_id, PARTITION, "incremental")

    assert commit.videos == (b_video,)
    assert commit.rows == len(b_lines) and commit.rows_replaced == len(b_lines)
    summaries = _run_snapshots(catalog, table_id, "incremental")
    # The old rows went by dropping their files (a DELETE snapshot), not by rewriting any file
    # (which would be an OVERWRITE): no other video's file was read.
    assert sorted(s.operation.value for s in summaries) == ["append", "delete"]
    assert _summed(summaries, "added-records") == len(b_lines)  # nothing else rewritten ...
    assert _summed(summaries, "deleted-records") == len(b_lines)  # ... or removed
    files_after = _files_by_video(catalog, table_id)
    for camera in ("cam-01", "cam-03"):
        assert files_after[videos[camera][0]] == files_before[videos[camera][0]]  # same files, untouched
    assert not files_after[b_video] & files_before[b_video]

    rows = partition_rows(catalog, table_id, PARTITION)
    expected = [line.decode() for _, _, lines in videos.values() for line in lines]
    assert Counter(rows["payload"].to_pylist()) == Counter(expected)
    b_rows = rows.filter(pc.equal(rows["video_key"], b_video))
    assert set(b_rows["producer_name"].to_pylist()) == {republished.producer_name}


def test_a_video_without_a_receipt_any_more_loses_its_rows(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    videos = _publish_videos(pulsar_client, s3, unique_topic, receipt_store, {"cam-01": 50, "cam-02": 70})
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "full"
    )
    gone = videos["cam-01"][0]
    receipt_store.delete(PARTITION, gone)

    commit = write_videos(catalog, pulsar_client, [], table_id, PARTITION, "drop", video_keys=[gone])
    assert commit.rows == 0 and commit.rows_replaced == 50
    rows = partition_rows(catalog, table_id, PARTITION)
    assert set(rows["video_key"].to_pylist()) == {videos["cam-02"][0]} and rows.num_rows == 70


def test_two_runs_of_one_store_day_committing_at_once_both_land(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    ensure_bronze_table(catalog, table_id)
    videos = _publish_videos(pulsar_client, s3, unique_topic, receipt_store, {"cam-01": 600, "cam-02": 500})
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def write(camera: str) -> None:
        receipt = receipt_store.get(PARTITION, videos[camera][0])
        barrier.wait()
        try:
            results[camera] = write_videos(
                catalog, pulsar_client, [receipt], table_id, PARTITION, f"run-{camera}"
            )
        except Exception as exc:  # reported below with the run it belongs to
            results[camera] = exc

    threads = [threading.Thread(target=write, args=(camera,)) for camera in videos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(isinstance(r, Exception) for r in results.values()), results
    rows = partition_rows(catalog, table_id, PARTITION)
    expected = [line.decode() for _, _, lines in videos.values() for line in lines]
    assert Counter(rows["payload"].to_pylist()) == Counter(expected)


def test_a_commit_that_loses_the_race_to_another_video_of_its_day_is_redone(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    videos = _publish_videos(pulsar_client, s3, unique_topic, receipt_store, {"cam-01": 300, "cam-02": 120})
    ensure_bronze_table(catalog, table_id)
    interleaved: list[object] = []

    def commit_other_video_meanwhile(rows_written: int) -> None:
        # While the first write's transaction is open, a run of another video commits: a real conflict.
        if not interleaved:
            other = receipt_store.get(PARTITION, videos["cam-02"][0])
            interleaved.append(write_videos(catalog, pulsar_client, [other], table_id, PARTITION, "run-b"))

    first = receipt_store.get(PARTITION, videos["cam-01"][0])
    commit = write_videos(
        catalog, pulsar_client, [first], table_id, PARTITION, "run-a", on_batch=commit_other_video_meanwhile
    )
    assert interleaved and commit.commit_attempts == 2  # the conflict happened and was redone
    rows = partition_rows(catalog, table_id, PARTITION)
    assert Counter(rows["video_key"].to_pylist()) == {videos["cam-01"][0]: 300, videos["cam-02"][0]: 120}


def test_a_video_write_killed_midway_changes_nothing_and_the_rerun_is_exact(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    videos = _publish_videos(pulsar_client, s3, unique_topic, receipt_store, {"cam-01": 1000})
    write_partition(
        catalog, pulsar_client, receipt_store.list_partition(PARTITION), table_id, PARTITION, "before"
    )
    before = catalog.load_table(table_id).current_snapshot()
    added = _publish_videos(pulsar_client, s3, unique_topic, receipt_store, {"cam-02": 3000})
    new_video = added["cam-02"][0]

    # Killed after 2 of 6 batches of the new video were written to storage, before the commit.
    args = [
        "bronze-videos",
        catalog.name,
        table_id,
        PARTITION.key,
        "killed",
        receipt_store.prefix,
        "500",
        new_video,
    ]
    run_and_kill(args, 2)
    assert catalog.load_table(table_id).current_snapshot().snapshot_id == before.snapshot_id
    assert partition_rows(catalog, table_id, PARTITION).num_rows == 1000  # nothing half-written

    commit = write_videos(
        catalog, pulsar_client, [receipt_store.get(PARTITION, new_video)], table_id, PARTITION, "rerun"
    )
    rows = partition_rows(catalog, table_id, PARTITION)
    expected = [line.decode() for _, _, lines in (*videos.values(), *added.values()) for line in lines]
    assert commit.rows == 3000 and rows.num_rows == 4000
    assert pc.count_distinct(rows["event_id"]).as_py() == 4000
    assert Counter(rows["payload"].to_pylist()) == Counter(expected)


def test_each_write_keeps_the_newest_snapshots_only_and_the_rows_stay_exact(
    catalog, table_id, pulsar_client, s3, unique_topic, receipt_store
) -> None:
    table = ensure_bronze_table(catalog, table_id)
    assert table.properties[SNAPSHOTS_KEPT_PROPERTY] == "32"  # the default, set on creation
    table.transaction().set_properties({SNAPSHOTS_KEPT_PROPERTY: "3"}).commit_transaction()
    videos = _publish_videos(
        pulsar_client, s3, unique_topic, receipt_store, {f"cam-{n:02d}": 10 + n for n in range(1, 7)}
    )
    for n, (video, _, _) in enumerate(videos.values()):
        write_videos(
            catalog, pulsar_client, [receipt_store.get(PARTITION, video)], table_id, PARTITION, f"r{n}"
        )
        assert len(catalog.load_table(table_id).snapshots()) <= 3 + 1  # the kept ones + this write's

    table = ensure_bronze_table(catalog, table_id)
    assert table.properties[SNAPSHOTS_KEPT_PROPERTY] == "3"  # the operator's setting stands
    rows = partition_rows(catalog, table_id, PARTITION)
    expected = [line.decode() for _, _, lines in videos.values() for line in lines]
    assert Counter(rows["payload"].to_pylist()) == Counter(expected)
