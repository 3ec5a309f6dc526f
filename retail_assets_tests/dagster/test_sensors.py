"""new_video_sensor against a real bucket: thousands of objects, new, already-seen and malformed keys."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import product

import dagster as dg
import pytest

from retail_assets.contracts.layout import parse_video_key
from retail_assets.defs.names import RAW_VIDEOS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.defs.sensors import (
    MAX_OBJECTS_PER_TICK,
    MAX_VIDEOS_PER_RUN,
    batch_run_requests,
    new_video_sensor,
)
from retail_assets.inventory.bucket_scan import NewVideo, ScanCursor, scan_bucket
from retail_assets_tests.dagster.conftest import stack_resources

STORES = ("store-001", "store-002", "store-003")
CAMERAS = ("cam-1", "cam-2")
DATES = ("2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05")
MALFORMED = {
    "README.txt": "not inside",
    "store-001/notes.txt": "not inside",
    "store-001/cam-1/2026-06-10/lunch.mp4": "file name",
    "store-001/cam-1/2026-06-10/093000.txt": "extension",
    "store-001/cam-1/2026-13-45/090000.mp4": "impossible date",
    "bad store!/cam-1/2026-06-10/090000.mp4": "store id",
}
# Keys that fit the layout but have no partition: before RVA_START_DATE (2026-01-01) or in the future.
OUT_OF_RANGE = {
    "store-001/cam-1/2025-12-31/090000.mp4": "outside the partitions",
    "store-001/cam-1/2099-01-01/090000.mp4": "outside the partitions",
}


def _upload(s3, bucket: str, keys: list[str]) -> None:
    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, keys))


def _videos_of(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"][RAW_VIDEOS_OP]["config"]["video_keys"]


def _tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = new_video_sensor(context)
    assert isinstance(result, dg.SensorResult)
    # What the daemon does with a tick's result: register the new stores.
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


@pytest.fixture
def loaded_bucket(stack, s3, fresh_buckets):
    videos, _ = fresh_buckets
    times = [f"{9 + i // 60:02d}{i % 60:02d}00" for i in range(100)]
    valid = [f"{s}/{c}/{d}/{t}.mp4" for s, c, d, t in product(STORES, CAMERAS, DATES, times)]
    _upload(s3, videos, valid + list(MALFORMED) + list(OUT_OF_RANGE))
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=videos):
        etags.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    return valid, etags


def test_sensor_requests_every_video_once_in_store_day_batches_over_thousands_of_objects(
    stack, s3, fresh_buckets, loaded_bucket, instance, capfd: pytest.CaptureFixture
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    valid, etags = loaded_bucket
    assert len(valid) == 3000
    resources = stack_resources(stack, videos_bucket, detections_bucket, "unused")

    requests: list[dg.RunRequest] = []
    cursor = None
    ticks = 0
    while True:
        result = _tick(instance, resources, cursor)
        ticks += 1
        cursor = result.cursor
        if not result.run_requests:
            break
        requests.extend(result.run_requests)
        assert sum(len(_videos_of(r)) for r in result.run_requests) <= MAX_OBJECTS_PER_TICK
        assert ticks < 10

    # Every valid video in exactly one run, that run in the video's partition, at most
    # MAX_VIDEOS_PER_RUN videos a run; run keys unique.
    requested = [key for r in requests for key in _videos_of(r)]
    assert sorted(requested) == sorted(valid)
    for request in requests:
        videos = _videos_of(request)
        assert 1 <= len(videos) <= MAX_VIDEOS_PER_RUN
        assert {f"{v.split('/')[2]}|{v.split('/')[0]}" for v in videos} == {request.partition_key}
        assert request.tags["rva/videos"] == str(len(videos))
        # The run key names exactly these objects, etags included (a re-upload is a new run).
        same = [NewVideo(parse_video_key(key), etags[key], 0) for key in videos]
        assert batch_run_requests(same)[0].run_key == request.run_key
    assert len({r.run_key for r in requests}) == len(requests)
    # 3,000 videos over 30 store-days (100 each, two cameras): batches of 32 or fewer, not 3,000 runs.
    assert len(requests) < len(valid) / 20
    assert ticks == 3  # 3,000 videos at 2,000 per tick, then a tick with nothing new
    assert sorted(instance.get_dynamic_partitions(STORES_PARTITIONS_NAME)) == list(STORES)

    # Every malformed key was reported in a tick, with what is wrong, and never requested.
    logged = capfd.readouterr().err  # the tick's log
    for key, reason in {**MALFORMED, **OUT_OF_RANGE}.items():
        assert key in logged, key
        assert reason in logged, reason
        assert key not in requested

    # The last tick requested nothing; it listed only the two stray keys that sit outside any
    # camera prefix, and did not report them again.
    message = result.skip_reason.skip_message
    assert "0 new videos" in message and "0 keys skipped" in message
    assert " 2 objects examined" in message


def test_a_tick_with_nothing_new_does_work_independent_of_bucket_size(
    stack, s3, fresh_buckets, loaded_bucket, instance
) -> None:
    videos_bucket, _ = fresh_buckets
    first = scan_bucket(s3, videos_bucket, ScanCursor(), max_objects=10_000)
    assert len(first.new_videos) == 3000 + len(OUT_OF_RANGE)  # the date range is the sensor's check
    assert first.objects_examined == 3000 + len(MALFORMED) + len(OUT_OF_RANGE)

    second = scan_bucket(s3, videos_bucket, first.cursor, max_objects=10_000)
    assert second.new_videos == [] and second.malformed == []
    # One listing of the root, one per store prefix (4, including the malformed one), one per
    # camera prefix (7): the same for 3,000 objects as for 30. Only stray top-level keys are listed.
    assert second.list_calls == 1 + 4 + 7
    assert second.objects_examined == 2  # README.txt and store-001/notes.txt, listed but not reported again


def test_sensor_sees_new_videos_and_new_stores_after_the_cursor(stack, s3, fresh_buckets, instance) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    resources = stack_resources(stack, videos_bucket, detections_bucket, "unused")
    _upload(
        s3, videos_bucket, ["store-001/cam-1/2026-06-10/090000.mp4", "store-001/cam-1/2026-06-10/091500.mp4"]
    )
    first = _tick(instance, resources, None)
    [both] = first.run_requests  # one store-day: one run for its two videos
    assert _videos_of(both) == [
        "store-001/cam-1/2026-06-10/090000.mp4",
        "store-001/cam-1/2026-06-10/091500.mp4",
    ]
    assert instance.get_dynamic_partitions(STORES_PARTITIONS_NAME) == ["store-001"]

    again = _tick(instance, resources, first.cursor)
    assert again.run_requests == []  # already seen: nothing requested twice

    _upload(
        s3,
        videos_bucket,
        [
            "store-001/cam-1/2026-06-10/093000.mp4",  # after the camera's cursor
            "store-001/cam-2/2026-06-10/080000.mp4",  # a new camera of a known store
            "store-007/cam-1/2026-06-11/120000_entrance.avi",  # a new store
            "store-001/cam-1/2026-06-10/085959.mp4",  # late: sorts before the cursor (nightly rerun's job)
        ],
    )
    third = _tick(instance, resources, again.cursor)
    by_partition = {r.partition_key: sorted(_videos_of(r)) for r in third.run_requests}
    assert by_partition == {
        "2026-06-10|store-001": [
            "store-001/cam-1/2026-06-10/093000.mp4",
            "store-001/cam-2/2026-06-10/080000.mp4",
        ],
        "2026-06-11|store-007": ["store-007/cam-1/2026-06-11/120000_entrance.avi"],
    }
    assert third.dynamic_partitions_requests[0].partition_keys == ["store-007"]
    assert sorted(instance.get_dynamic_partitions(STORES_PARTITIONS_NAME)) == ["store-001", "store-007"]


def test_batches_are_bounded_and_their_run_keys_name_exactly_their_objects() -> None:
    def new(key: str, etag: str = "e1") -> NewVideo:
        return NewVideo(parse_video_key(key), etag, 1)

    day = [new(f"store-001/cam-{c}/2026-06-10/09{m:02d}00.mp4") for m in range(3) for c in range(1, 31)]
    requests = batch_run_requests(day)  # 90 videos of one store-day
    assert [len(_videos_of(r)) for r in requests] == [
        MAX_VIDEOS_PER_RUN,
        MAX_VIDEOS_PER_RUN,
        90 - 2 * MAX_VIDEOS_PER_RUN,
    ]
    assert [k for r in requests for k in _videos_of(r)] == [n.video.key for n in day]  # arrival order kept

    one = [new("store-001/cam-1/2026-06-10/090000.mp4")]
    assert batch_run_requests(one)[0].run_key == batch_run_requests(one)[0].run_key  # stable
    reuploaded = [new("store-001/cam-1/2026-06-10/090000.mp4", etag="e2")]
    assert (
        batch_run_requests(reuploaded)[0].run_key != batch_run_requests(one)[0].run_key
    )  # new bytes, new run
