"""Store-day runs as the sensor and the schedule request them, on the real stack with real clips.

What a user checks after a run: which videos were inferred (materialization metadata), the NDJSON
objects in S3, the rows of the bronze partition, the checks, and which steps were skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from retail_assets.definitions import defs
from retail_assets_tests.dagster import store_day as sd
from retail_assets_tests.dagster.conftest import stack_resources


@pytest.mark.timeout(600)
def test_sensor_runs_infer_only_their_video_and_a_reupload_replaces_exactly_its_rows(
    stack, s3, fresh_buckets, unique_topic, clips, instance
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-vk01", date(2026, 6, 1)
    first_key = f"{store}/cam-1/{day}/090000.avi"
    second_key = f"{store}/cam-1/{day}/100000.avi"
    s3.upload_file(str(clips["a"]), videos_bucket, first_key)
    s3.upload_file(str(clips["b"]), videos_bucket, second_key)
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)

    # The sensor asks for one run per video, each restricted to its video.
    tick = sd.tick(instance, resources, None)
    requests = {r.tags["rva/video_key"]: r for r in tick.run_requests}
    assert set(requests) == {first_key, second_key}
    assert {r.partition_key for r in requests.values()} == {f"{day}|{store}"}

    # -- the first video's run: that video only ----------------------------------------------
    request = requests[first_key]
    assert request.run_config["ops"][sd.DETECTIONS_OP]["config"]["video_keys"] == [first_key]
    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = sd.metadata(run, "detections")
    assert det["videos"] == 2  # both are listed in the store-day ...
    assert det["videos_inferred"] == 1 and det["videos_pending"] == 1  # ... only the requested one ran
    assert det["frames_processed"] == sd.MAX_FRAMES
    assert list(det["ndjson_objects"]) == [first_key]
    [first_ndjson] = sd.ndjson_keys(s3, detections_bucket)
    assert first_ndjson.startswith(first_key)  # no NDJSON for the other video
    first_lines = sd.ndjson(s3, det["ndjson_objects"][first_key])
    assert first_lines, "the clip has people in it: the run must have detected some"
    assert {json.loads(line)["video_uri"] for line in first_lines} == {f"s3://{videos_bucket}/{first_key}"}
    events = sd.metadata(run, "pulsar_events")
    assert events["messages_published_this_run"] == events["messages"] == len(first_lines)
    rows = sd.bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(first_lines)  # bronze == what was published
    assert sd.metadata(run, "bronze_raw")["dagster/row_count"] == len(first_lines)
    assert all(sd.checks(run).values()), sd.checks(run)

    # -- the second video's run: the first is current and is neither re-inferred nor re-published --
    request = requests[second_key]
    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = sd.metadata(run, "detections")
    assert det["videos_inferred"] == 1 and det["videos_skipped_current"] == 1 and det["videos_pending"] == 0
    assert sorted(det["ndjson_objects"]) == [first_key, second_key]
    assert sd.ndjson(s3, det["ndjson_objects"][first_key]) == first_lines
    second_lines = sd.ndjson(s3, det["ndjson_objects"][second_key])
    assert second_lines
    events = sd.metadata(run, "pulsar_events")
    assert events["messages_published_this_run"] == len(second_lines)
    assert events["objects_already_published"] == 1
    assert Counter(r["payload"] for r in sd.bronze(store, day)) == Counter(first_lines + second_lines)

    # -- the first video uploaded again under its key, with new bytes ------------------------
    old_etag = sd.etag(s3, videos_bucket, first_key)
    s3.upload_file(str(clips["c"]), videos_bucket, first_key)
    new_etag = sd.etag(s3, videos_bucket, first_key)
    assert new_etag != old_etag
    # The sensor's cursor has passed this key (by design, docs/dagster.md): the nightly rerun of
    # the store-day is what picks the new bytes up.
    assert sd.tick(instance, resources, tick.cursor).run_requests == []
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
    assert det["videos_inferred"] == 1 and det["videos_skipped_current"] == 1  # only the new bytes
    assert sd.ndjson(s3, det["ndjson_objects"][second_key]) == second_lines
    new_first_lines = sd.ndjson(s3, det["ndjson_objects"][first_key])
    assert new_first_lines
    assert {json.loads(line)["video_etag"] for line in new_first_lines} == {new_etag}
    old_ids = {json.loads(line)["event_id"] for line in first_lines}
    assert not old_ids & {json.loads(line)["event_id"] for line in new_first_lines}
    events = sd.metadata(run, "pulsar_events")
    assert events["objects_published_this_run"] == 1 and events["objects_already_published"] == 1
    assert events["messages_published_this_run"] == len(new_first_lines)
    rows = sd.bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(new_first_lines + second_lines)  # no stale rows
    assert not old_ids & {r["event_id"] for r in rows}
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

    [entry] = run.output_for_node("rva__raw_videos")
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
