"""Store-day runs as the sensor and the schedule request them, on the real stack with real clips.

What a user checks after a run: which videos were inferred (materialization metadata), the NDJSON
objects in S3, the rows of the bronze partition, the checks, and which steps were skipped.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import dagster as dg
import pytest

from retail_assets.definitions import defs
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets_tests.dagster.conftest import VTEST, stack_resources

ASSET_NAMES = ("raw_videos", "detections", "pulsar_events", "bronze_raw")
DETECTIONS_OP = "rva__detections"  # the op name users put in run config (docs/dagster.md)
MAX_FRAMES = 6
CLIP_FRAMES = 8


def _assets() -> list[dg.AssetsDefinition]:
    return [defs.get_assets_def(dg.AssetKey(["rva", name])) for name in ASSET_NAMES]


def _write_clip(out: Path, first_frame: int, frames: int = CLIP_FRAMES) -> Path:
    """Frames [first_frame, first_frame + frames) of vtest.avi as an MJPG .avi (distinct bytes per offset)."""
    src = cv2.VideoCapture(str(VTEST))
    fps = src.get(cv2.CAP_PROP_FPS) or 10.0
    src.set(cv2.CAP_PROP_POS_FRAMES, first_frame)
    ok, frame = src.read()
    assert ok, f"cannot decode frame {first_frame} of {VTEST}"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
    for _ in range(frames):
        writer.write(frame)
        ok, frame = src.read()
        if not ok:
            break
    writer.release()
    src.release()
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three short clips with people in them and different bytes."""
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: install Debian's opencv-doc package (make system-deps)")
    root = tmp_path_factory.mktemp("clips")
    return {
        name: _write_clip(root / f"{name}.avi", first) for name, first in (("a", 0), ("b", 100), ("c", 200))
    }


def _with_max_frames(run_config: dict[str, Any] | None) -> dict[str, Any]:
    """A requested run's config plus the small max_frames that keeps these tests fast."""
    merged = copy.deepcopy(run_config or {})
    op = merged.setdefault("ops", {}).setdefault(DETECTIONS_OP, {}).setdefault("config", {})
    op["max_frames"] = MAX_FRAMES
    return merged


def _run(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    partition_key: str,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        _assets(),
        partition_key=partition_key,
        instance=instance,
        resources=resources,
        run_config=_with_max_frames(run_config),
        tags=tags,
        raise_on_error=False,
    )


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}


def _steps(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == event_type}


def _metadata(result: dg.ExecuteInProcessResult, name: str) -> dict[str, Any]:
    [mat] = [
        m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey(["rva", name])
    ]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _ndjson(s3: Any, uri: str) -> list[str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def _ndjson_keys(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"].endswith(".ndjson"))


def _bronze(store_id: str, day: date) -> list[dict[str, Any]]:
    catalog = open_catalog("lakehouse")
    if not catalog.table_exists(BRONZE_TABLE):  # no store-day has reached bronze in this session yet
        return []
    table = catalog.load_table(BRONZE_TABLE)
    return table.scan(row_filter=partition_filter(store_id, day)).to_arrow().to_pylist()


def _tick(instance: dg.DagsterInstance, resources: dict[str, Any], cursor: str | None) -> dg.SensorResult:
    """One tick of the code location's sensor, and what the daemon does with it: stores registered."""
    sensor = defs.get_sensor_def("new_video_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def _etag(s3: Any, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


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
    tick = _tick(instance, resources, None)
    requests = {r.tags["rva/video_key"]: r for r in tick.run_requests}
    assert set(requests) == {first_key, second_key}
    assert {r.partition_key for r in requests.values()} == {f"{day}|{store}"}

    # -- the first video's run: that video only ----------------------------------------------
    request = requests[first_key]
    assert request.run_config["ops"][DETECTIONS_OP]["config"]["video_keys"] == [first_key]
    run = _run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = _metadata(run, "detections")
    assert det["videos"] == 2  # both are listed in the store-day ...
    assert det["videos_inferred"] == 1 and det["videos_pending"] == 1  # ... only the requested one ran
    assert det["frames_processed"] == MAX_FRAMES
    assert list(det["ndjson_objects"]) == [first_key]
    [first_ndjson] = _ndjson_keys(s3, detections_bucket)
    assert first_ndjson.startswith(first_key)  # no NDJSON for the other video
    first_lines = _ndjson(s3, det["ndjson_objects"][first_key])
    assert first_lines, "the clip has people in it: the run must have detected some"
    assert {json.loads(line)["video_uri"] for line in first_lines} == {f"s3://{videos_bucket}/{first_key}"}
    events = _metadata(run, "pulsar_events")
    assert events["messages_published_this_run"] == events["messages"] == len(first_lines)
    rows = _bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(first_lines)  # bronze == what was published
    assert _metadata(run, "bronze_raw")["dagster/row_count"] == len(first_lines)
    assert all(_checks(run).values()), _checks(run)

    # -- the second video's run: the first is current and is neither re-inferred nor re-published --
    request = requests[second_key]
    run = _run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = _metadata(run, "detections")
    assert det["videos_inferred"] == 1 and det["videos_skipped_current"] == 1 and det["videos_pending"] == 0
    assert sorted(det["ndjson_objects"]) == [first_key, second_key]
    assert _ndjson(s3, det["ndjson_objects"][first_key]) == first_lines
    second_lines = _ndjson(s3, det["ndjson_objects"][second_key])
    assert second_lines
    events = _metadata(run, "pulsar_events")
    assert events["messages_published_this_run"] == len(second_lines)
    assert events["objects_already_published"] == 1
    assert Counter(r["payload"] for r in _bronze(store, day)) == Counter(first_lines + second_lines)

    # -- the first video uploaded again under its key, with new bytes ------------------------
    old_etag = _etag(s3, videos_bucket, first_key)
    s3.upload_file(str(clips["c"]), videos_bucket, first_key)
    new_etag = _etag(s3, videos_bucket, first_key)
    assert new_etag != old_etag
    # The sensor's cursor has passed this key (by design, docs/dagster.md): the nightly rerun of
    # the store-day is what picks the new bytes up.
    assert _tick(instance, resources, tick.cursor).run_requests == []
    schedule = defs.get_schedule_def("nightly_store_rerun")
    nightly = schedule(
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            + timedelta(hours=2, minutes=30),
        )
    )
    [request] = [r for r in nightly if r.partition_key == f"{day}|{store}"]
    run = _run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    det = _metadata(run, "detections")
    assert det["videos_inferred"] == 1 and det["videos_skipped_current"] == 1  # only the new bytes
    assert _ndjson(s3, det["ndjson_objects"][second_key]) == second_lines
    new_first_lines = _ndjson(s3, det["ndjson_objects"][first_key])
    assert new_first_lines
    assert {json.loads(line)["video_etag"] for line in new_first_lines} == {new_etag}
    old_ids = {json.loads(line)["event_id"] for line in first_lines}
    assert not old_ids & {json.loads(line)["event_id"] for line in new_first_lines}
    events = _metadata(run, "pulsar_events")
    assert events["objects_published_this_run"] == 1 and events["objects_already_published"] == 1
    assert events["messages_published_this_run"] == len(new_first_lines)
    rows = _bronze(store, day)
    assert Counter(r["payload"] for r in rows) == Counter(new_first_lines + second_lines)  # no stale rows
    assert not old_ids & {r["event_id"] for r in rows}
    assert all(_checks(run).values()), _checks(run)


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
    run = _run(
        instance, stack_resources(stack, videos_bucket, detections_bucket, unique_topic), f"{day}|{store}"
    )
    assert run.success

    [entry] = run.output_for_node("rva__raw_videos")
    assert entry["start_time"] == "2026-06-02T12:30:15.250000+00:00"
    assert "2026-06-02T12:30:15.250000+00:00" in _metadata(run, "raw_videos")["manifest"]
    lines = [json.loads(line) for line in _ndjson(s3, _metadata(run, "detections")["ndjson_objects"][key])]
    assert lines
    start = datetime(2026, 6, 2, 12, 30, 15, 250_000, tzinfo=UTC)
    for event in lines:  # every event's time is the metadata's start + its presentation time
        expected = start + timedelta(milliseconds=event["pts_ms"])
        assert datetime.fromisoformat(event["ts"]) == expected, event
    # The clip's first events (DeepSort confirms a track after a few frames) fall within the
    # second the metadata names, not at the key's 09:00:00.
    first = min(lines, key=lambda e: e["frame_index"])
    assert first["frame_index"] < MAX_FRAMES and first["ts"].startswith("2026-06-02T12:30:15."), first
    rows = _bronze(store, day)
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

    first = _run(instance, resources, f"{day}|{store}")
    assert not first.success
    checks = _checks(first)
    assert checks["ndjson_lines_match_schema"] is False
    [schema_check] = [
        e for e in first.get_asset_check_evaluations() if e.check_name == "ndjson_lines_match_schema"
    ]
    assert "ts" in str(schema_check.metadata["problems"].value)
    assert _materialized(first) == {"raw_videos", "detections"}  # pulsar_events and bronze_raw skipped
    assert "published_messages_equal_ndjson_lines" not in checks
    assert _steps(first, dg.DagsterEventType.STEP_START) == {"rva__raw_videos", "rva__detections"}
    assert _steps(first, dg.DagsterEventType.STEP_FAILURE) == {"rva__detections"}
    assert not s3.list_objects_v2(Bucket=detections_bucket, Prefix="_receipts/").get("Contents")

    second = _run(instance, resources, f"{day}|{store}")
    assert not second.success
    checks = _checks(second)
    assert _metadata(second, "detections")["videos_inferred"] == 0  # current: not validated again
    assert checks["ndjson_lines_match_schema"] is True
    assert checks["published_messages_equal_ndjson_lines"] is False
    events = _metadata(second, "pulsar_events")
    assert events["dead_letters"] > 0 and events["messages"] == 0
    assert _materialized(second) == {"raw_videos", "detections", "pulsar_events"}  # bronze_raw skipped
    assert "bronze_rows_equal_published_messages" not in checks
    assert "rva__bronze_raw" not in _steps(second, dg.DagsterEventType.STEP_START)
    assert _steps(second, dg.DagsterEventType.STEP_FAILURE) == {"rva__pulsar_events"}
    assert _bronze(store, day) == []
