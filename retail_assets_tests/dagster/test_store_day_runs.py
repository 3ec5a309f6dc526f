"""Store-day runs as the sensor and the schedule request them, on the real stack with real clips.

What a user checks after a run: which videos were inferred (materialization metadata), the NDJSON
objects in S3, the rows of the bronze partition, the checks, and which steps were skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import boto3
import dagster as dg
import pytest

from retail_assets.definitions import defs
from retail_assets_tests.dagster import store_day as sd
from retail_assets_tests.dagster.conftest import stack_resources


@pytest.mark.timeout(600)
def test_sensor_runs_touch_only_their_videos_and_a_reupload_replaces_exactly_its_rows(
    stack, s3, fresh_buckets, unique_topic, clips, instance
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-vk01", date(2026, 6, 1)
    first_key = f"{store}/cam-1/{day}/090000.avi"
    s3.upload_file(str(clips["a"]), videos_bucket, first_key)
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)

    # -- the first video arrives alone: one run, that video only ------------------------------
    tick = sd.tick(instance, resources, None)
    [request] = tick.run_requests
    assert request.partition_key == f"{day}|{store}"
    assert request.run_config["ops"][sd.RAW_VIDEOS_OP]["config"]["video_keys"] == [first_key]
    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = sd.metadata(run, "detections")
    assert det["videos"] == 1 and det["videos_inferred"] == 1
    assert det["frames_processed"] == sd.MAX_FRAMES // 2  # 5 frames a second of a 10 fps clip
    [first_ndjson] = sd.ndjson_keys(s3, detections_bucket)
    assert first_ndjson.startswith(first_key)
    first_lines = sd.ndjson(s3, det["ndjson_objects"][first_key])
    assert first_lines, "the clip has people in it: the run must have detected some"
    assert {json.loads(line)["video_uri"] for line in first_lines} == {f"s3://{videos_bucket}/{first_key}"}
    events = sd.metadata(run, "pulsar_events")
    assert events["messages_published_this_run"] == events["messages"] == len(first_lines)
    assert Counter(r["payload"] for r in sd.bronze(store, day)) == Counter(first_lines)
    assert sd.metadata(run, "bronze_raw")["dagster/row_count"] == len(first_lines)
    assert sd.bronze_touched(run) == (len(first_lines), 0)  # added, deleted
    assert all(sd.checks(run).values()), sd.checks(run)

    # -- a camera group uploads together: one run for its four videos, the first one untouched --
    group = {f"{store}/cam-{n}/{day}/100000.avi": clip for n, clip in zip((2, 3, 4, 5), "bcab", strict=True)}
    for key, clip in group.items():
        s3.upload_file(str(clips[clip]), videos_bucket, key)
    later = sd.tick(instance, resources, tick.cursor)
    [request] = later.run_requests
    assert sorted(request.run_config["ops"][sd.RAW_VIDEOS_OP]["config"]["video_keys"]) == sorted(group)
    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = sd.metadata(run, "detections")
    assert det["videos"] == 4 and det["videos_inferred"] == 4  # the first video not even looked at
    group_lines = [line for key in sorted(group) for line in sd.ndjson(s3, det["ndjson_objects"][key])]
    events = sd.metadata(run, "pulsar_events")
    assert (
        events["messages_published_this_run"] == len(group_lines) and events["objects_already_published"] == 0
    )
    rows = sd.bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(first_lines + group_lines)
    assert len({r["event_id"] for r in rows}) == len(rows)
    assert sd.bronze_touched(run) == (len(group_lines), 0)  # its own rows added, nobody else's touched
    bronze_meta = sd.metadata(run, "bronze_raw")
    assert bronze_meta["dagster/row_count"] == len(rows)  # the whole day, from the table's metadata
    assert bronze_meta["rows_written"] == len(group_lines) and bronze_meta["rows_replaced"] == 0
    assert all(sd.checks(run).values()), sd.checks(run)

    # -- the first video uploaded again under its key, with new bytes ------------------------
    old_etag = sd.etag(s3, videos_bucket, first_key)
    s3.upload_file(str(clips["c"]), videos_bucket, first_key)
    new_etag = sd.etag(s3, videos_bucket, first_key)
    assert new_etag != old_etag
    # The sensor's cursor has passed this key (by design, docs/dagster.md): the nightly rerun of
    # the store-day, a whole-day run that rebuilds its bronze partition, picks the new bytes up.
    assert sd.tick(instance, resources, later.cursor).run_requests == []
    schedule = defs.get_schedule_def("nightly_store_rerun")
    nightly = schedule(
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            + timedelta(hours=2, minutes=30),
        )
    )
    [request] = [r for r in nightly if r.partition_key == f"{day}|{store}"]
    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = sd.metadata(run, "detections")
    assert det["videos"] == 5 and det["videos_inferred"] == 1 and det["videos_skipped_current"] == 4
    new_first_lines = sd.ndjson(s3, det["ndjson_objects"][first_key])
    assert new_first_lines
    assert {json.loads(line)["video_etag"] for line in new_first_lines} == {new_etag}
    old_ids = {json.loads(line)["event_id"] for line in first_lines}
    assert not old_ids & {json.loads(line)["event_id"] for line in new_first_lines}
    events = sd.metadata(run, "pulsar_events")
    assert events["objects_published_this_run"] == 1 and events["objects_already_published"] == 4
    assert events["messages_published_this_run"] == len(new_first_lines)
    rows = sd.bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(new_first_lines + group_lines)  # no stale rows
    assert not old_ids & {r["event_id"] for r in rows}
    assert sd.metadata(run, "bronze_raw")["write"] == "whole store-day"
    assert all(sd.checks(run).values()), sd.checks(run)


@pytest.mark.timeout(600)
def test_start_time_metadata_overrides_the_time_in_the_key(
    stack, s3, fresh_buckets, unique_topic, clips, instance
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-st01", date(2026, 6, 2)
    key = f"{store}/cam-1/{day}/090000.avi"  # the key says 09:00 UTC ...
    s3.upload_file(
        str(clips["a"]),
        videos_bucket,
        key,
        ExtraArgs={
            "Metadata": {"start-time": "2026-06-02T08:30:15.250-04:00"}
        },  # ... the camera knows better
    )
    instance.add_dynamic_partitions("stores", [store])
    run = sd.run(
        instance, stack_resources(stack, videos_bucket, detections_bucket, unique_topic), f"{day}|{store}"
    )
    assert run.success

    [entry] = run.output_for_node("rva__raw_videos").entries
    assert entry.video.start_time.isoformat() == "2026-06-02T12:30:15.250000+00:00"
    assert "2026-06-02T12:30:15.250000+00:00" in sd.metadata(run, "raw_videos")["manifest"]
    lines = [
        json.loads(line) for line in sd.ndjson(s3, sd.metadata(run, "detections")["ndjson_objects"][key])
    ]
    assert lines
    start = datetime(2026, 6, 2, 12, 30, 15, 250_000, tzinfo=UTC)
    for event in lines:  # every event's time is the metadata's start + its presentation time
        expected = start + timedelta(milliseconds=event["pts_ms"])
        assert datetime.fromisoformat(event["ts"]) == expected, event
    # The clip's first events (DeepSort confirms a track after a few frames) fall within the
    # second the metadata names, not at the key's 09:00:00.
    first = min(lines, key=lambda e: e["frame_index"])
    assert first["frame_index"] < sd.MAX_FRAMES and first["ts"].startswith("2026-06-02T12:30:15."), first
    rows = sd.bronze(store, day)
    assert sorted(r["event_ts"] for r in rows) == sorted(datetime.fromisoformat(e["ts"]) for e in lines)


@pytest.mark.timeout(600)
def test_a_failing_blocking_check_skips_the_downstream_steps_of_its_run(
    stack, s3, fresh_buckets, unique_topic, clips, instance
) -> None:
    """Real input, no fake: a `start-time` metadata in the year 999 is accepted, and the events'
    `ts` then come out as `999-...` (Python's strftime does not pad the year), which the v1 schema
    rejects. The schema check fails and nothing is published; on the next run the same NDJSON is
    current, so it is not validated again, reaches the publisher, is dead-lettered there, and the
    published-messages check fails instead. Bronze never gets a row."""
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-bk01", date(2026, 6, 3)
    key = f"{store}/cam-1/{day}/090000.avi"
    s3.upload_file(
        str(clips["a"]), videos_bucket, key, ExtraArgs={"Metadata": {"start-time": "0999-06-03T09:00:00Z"}}
    )
    instance.add_dynamic_partitions("stores", [store])
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)

    first = sd.run(instance, resources, f"{day}|{store}")
    assert not first.success
    checks = sd.checks(first)
    assert checks["ndjson_lines_match_schema"] is False
    [schema_check] = [
        e for e in first.get_asset_check_evaluations() if e.check_name == "ndjson_lines_match_schema"
    ]
    assert "ts" in str(schema_check.metadata["problems"].value)
    assert sd.materialized(first) == {"raw_videos", "detections"}  # pulsar_events and bronze_raw skipped
    assert "published_messages_equal_ndjson_lines" not in checks
    assert sd.steps(first, dg.DagsterEventType.STEP_START) == {"rva__raw_videos", "rva__detections"}
    assert sd.steps(first, dg.DagsterEventType.STEP_FAILURE) == {"rva__detections"}
    assert not s3.list_objects_v2(Bucket=detections_bucket, Prefix="_receipts/").get("Contents")

    second = sd.run(instance, resources, f"{day}|{store}")
    assert not second.success
    checks = sd.checks(second)
    assert sd.metadata(second, "detections")["videos_inferred"] == 0  # current: not validated again
    assert checks["ndjson_lines_match_schema"] is True
    assert checks["published_messages_equal_ndjson_lines"] is False
    events = sd.metadata(second, "pulsar_events")
    assert events["dead_letters"] > 0 and events["messages"] == 0
    assert sd.materialized(second) == {"raw_videos", "detections", "pulsar_events"}  # bronze_raw skipped
    assert "bronze_rows_equal_published_messages" not in checks
    assert "rva__bronze_raw" not in sd.steps(second, dg.DagsterEventType.STEP_START)
    assert sd.steps(second, dg.DagsterEventType.STEP_FAILURE) == {"rva__pulsar_events"}
    assert sd.bronze(store, day) == []


def test_a_run_for_one_video_asks_the_object_store_about_that_video_only(
    stack, s3, fresh_buckets, unique_topic, clips, instance
) -> None:
    """The manifest of a sensor run: every S3 request boto3 builds (presigned ones included) is
    recorded by a botocore event hook on the default session, which the resource's client inherits."""
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-rq01", date(2026, 6, 4)
    keys = [f"{store}/cam-{n}/{day}/090000.avi" for n in (1, 2, 3)]
    for key in keys:
        s3.upload_file(str(clips["a"]), videos_bucket, key)
    instance.add_dynamic_partitions("stores", [store])
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)
    requests: list[tuple[str, str | None, str | None]] = []

    def record(model, params, **_: object) -> None:
        requests.append((model.name, params.get("Key"), params.get("Prefix")))

    events = boto3._get_default_session().events
    events.register("before-parameter-build.s3", record)
    try:
        result = dg.materialize(
            [defs.get_assets_def(dg.AssetKey(["rva", "raw_videos"]))],
            partition_key=f"{day}|{store}",
            instance=instance,
            resources=resources,
            run_config={"ops": {sd.RAW_VIDEOS_OP: {"config": {"video_keys": [keys[1]]}}}},
        )
    finally:
        events.unregister("before-parameter-build.s3", record)
    assert result.success
    [entry] = result.output_for_node(sd.RAW_VIDEOS_OP).entries
    assert entry.video.key == keys[1] and entry.readable
    # A HEAD, and the GET the header probe makes through a presigned URL: about that video only,
    # no listing, nothing about the other videos.
    assert requests == [("HeadObject", keys[1], None), ("GetObject", keys[1], None)]
