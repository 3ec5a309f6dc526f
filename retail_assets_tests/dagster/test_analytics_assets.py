"""Silver and gold in the store-day graph: real clips of vtest.avi through every asset, the demo
store's geometry in the object store; checks, pictures, re-runs, one new video, bad geometry and
the automation that refreshes an older day."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import EqualTo

from retail_assets.analytics.geometry import parse_geometry, put_geometry
from retail_assets.contracts.layout import footfall_chart_key, heatmap_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.definitions import defs
from retail_assets.defs.assets import STORE_DAY_ASSETS
from retail_assets.defs.assets.analytics import camera_geometry, gold, silver
from retail_assets.defs.names import BRONZE_RAW, GOLD_STORE_DAILY, SILVER_TRACKS
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.lakehouse.analytics import GOLD_TABLES, SILVER_OCCUPANCY, read_rows
from retail_assets.lakehouse.analytics import SILVER_TRACKS as SILVER_TRACKS_TABLE
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.settings import default_geometry_uri
from retail_assets_tests.dagster.conftest import stack_resources
from retail_assets_tests.dagster.store_day import DETECTIONS_OP, RAW_VIDEOS_OP, checks, metadata
from retail_assets_tests.lakehouse.walkers import GEOMETRY_FILE

DAY = date(2026, 11, 28)


def _store() -> str:
    return f"store-{uuid.uuid4().hex[:6]}"


def _put_demo_geometry(s3: Any, detections_bucket: str, store: str) -> None:
    """The shipped vtest geometry, named for `store`, where the pipeline looks for it."""
    text = GEOMETRY_FILE.read_text().replace("store_id: store-001", f"store_id: {store}")
    put_geometry(default_geometry_uri(detections_bucket), parse_geometry(text, "test"), text, s3)


def _materialize(instance, resources, partition: str, assets=STORE_DAY_ASSETS, run_config=None, frames=8):
    config = json.loads(json.dumps(run_config or {}))
    config.setdefault("ops", {})[DETECTIONS_OP] = {"config": {"max_frames": frames}}
    if not any(BRONZE_RAW in a.keys for a in assets):
        config["ops"].pop(DETECTIONS_OP)
    return dg.materialize(
        assets,
        partition_key=partition,
        instance=instance,
        resources=resources,
        run_config=config,
        raise_on_error=False,
    )


def _rows(store_day: StoreDay) -> dict[str, list[str]]:
    catalog = open_catalog("lakehouse")
    return {
        name: sorted(
            json.dumps(r, default=str, sort_keys=True)
            for r in read_rows(catalog, name, store_day).to_pylist()
        )
        for name in (SILVER_TRACKS_TABLE, SILVER_OCCUPANCY, *GOLD_TABLES)
    }


@pytest.mark.timeout(900)
def test_the_store_day_graph_answers_with_checks_and_pictures_and_reruns_identically(
    stack, s3, pipeline_s3, fresh_buckets, unique_topic, instance, short_clip
) -> None:
    videos, detections = fresh_buckets
    store = _store()
    _put_demo_geometry(s3, detections, store)
    s3.upload_file(str(short_clip), videos, f"{store}/cam-1/{DAY}/090000.avi")
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store])
    resources = stack_resources(stack, videos, detections, unique_topic)
    store_day = StoreDay(DAY, store)

    result = _materialize(instance, resources, store_day.key, frames=30)
    assert result.success
    assert checks(result) and all(checks(result).values()), checks(result)
    tracks = metadata(result, "silver_tracks")
    assert tracks["write"] == "whole store-day" and tracks["geometry_version"] == "2026-01-01"
    assert tracks["dagster/row_count"] > 0
    daily = metadata(result, "gold_store_daily")
    assert daily["tracks"] == tracks["dagster/row_count"]
    for key in (heatmap_key(store_day, "cam-1"), footfall_chart_key(store_day)):
        assert pipeline_s3.get_object(Bucket=detections, Key=key)["Body"].read()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"s3://{detections}/{key}" in daily["pictures"]
    assert daily["heatmap cam-1"].startswith("![heatmap cam-1](data:image/png;base64,")
    first = _rows(store_day)
    assert len(first[SILVER_TRACKS_TABLE]) == tracks["dagster/row_count"]

    # Re-materializing the partition gives the same rows, none twice.
    again = _materialize(instance, resources, store_day.key, frames=30)
    assert again.success and all(checks(again).values())
    assert _rows(store_day) == first


@pytest.mark.timeout(900)
def test_a_run_for_one_new_video_replaces_only_that_videos_silver_rows(
    stack, s3, fresh_buckets, unique_topic, instance, clips
) -> None:
    videos, detections = fresh_buckets
    store = _store()
    _put_demo_geometry(s3, detections, store)
    first, second = f"{store}/cam-1/{DAY}/090000.avi", f"{store}/cam-1/{DAY}/091000.avi"
    s3.upload_file(str(clips["a"]), videos, first)
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store])
    resources = stack_resources(stack, videos, detections, unique_topic)
    store_day = StoreDay(DAY, store)
    assert _materialize(instance, resources, store_day.key).success
    catalog = open_catalog("lakehouse")
    table = catalog.load_table(f"rva.{SILVER_TRACKS_TABLE}")
    before = read_rows(catalog, SILVER_TRACKS_TABLE, store_day, videos=[first])
    assert before.num_rows > 0
    files_of_first = {
        t.file.file_path for t in table.scan(row_filter=EqualTo("video_key", first)).plan_files()
    }

    # The sensor's run for the new video: its videos only.
    s3.upload_file(str(clips["b"]), videos, second)
    result = _materialize(
        instance,
        resources,
        store_day.key,
        run_config={"ops": {RAW_VIDEOS_OP: {"config": {"video_keys": [second]}}}},
    )
    assert result.success and all(checks(result).values()), checks(result)
    written = metadata(result, "silver_tracks")
    assert written["write"] == "1 videos" and written["rows_replaced"] == 0
    table = catalog.load_table(f"rva.{SILVER_TRACKS_TABLE}")
    assert {
        t.file.file_path for t in table.scan(row_filter=EqualTo("video_key", first)).plan_files()
    } == files_of_first
    assert (
        read_rows(catalog, SILVER_TRACKS_TABLE, store_day, videos=[first]).to_pylist() == before.to_pylist()
    )
    day_rows = read_rows(catalog, SILVER_TRACKS_TABLE, store_day)
    assert set(pc.unique(day_rows["video_key"]).to_pylist()) == {first, second}
    assert (
        written["dagster/row_count"] == day_rows.num_rows == pc.count_distinct(day_rows["track_uid"]).as_py()
    )


def test_a_store_with_invalid_geometry_fails_its_silver_step_and_other_stores_compute(
    stack, s3, fresh_buckets, unique_topic, instance
) -> None:
    videos, detections = fresh_buckets
    bad, good = _store(), _store()
    broken = GEOMETRY_FILE.read_text().replace("store_id: store-001", f"store_id: {bad}")
    broken = broken.replace("start: [150, 180]", "start: [150]")  # a line end with one coordinate
    s3.put_object(Bucket=detections, Key=f"_geometry/{bad}.yaml", Body=broken.encode())
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [bad, good])
    resources = stack_resources(stack, videos, detections, unique_topic)

    failed = _materialize(instance, resources, StoreDay(DAY, bad).key, assets=[silver, gold])
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert f"s3://{detections}/_geometry/{bad}.yaml" in message and bad in message and "cam-1" in message
    assert "west-door" in message or "lines" in message

    other = _materialize(instance, resources, StoreDay(DAY, good).key, assets=[silver, gold])
    assert other.success  # no geometry: tracks without crossings, whole-frame occupancy
    assert metadata(other, "silver_tracks")["geometry_version"] == "none"


def test_a_bronze_update_of_an_older_day_makes_automation_refresh_its_silver_and_gold(instance) -> None:
    store = _store()
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store])
    old_day = StoreDay(date.today() - timedelta(days=20), store)
    # The first evaluation only records the starting point.
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
    # A late video of an older day (or a backfill) rewrote that day's bronze in a run of its own.
    instance.report_runless_asset_event(dg.AssetMaterialization(BRONZE_RAW, partition=old_day.key))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    requested = {key: result.get_requested_partitions(key) for key in (SILVER_TRACKS, GOLD_STORE_DAILY)}
    assert requested[SILVER_TRACKS] == {old_day.key}
    # Gold follows in the same request: it is requested when silver will be.
    assert requested[GOLD_STORE_DAILY] == {old_day.key}


def test_a_changed_geometry_document_changes_the_geometry_data_version(
    stack, s3, fresh_buckets, unique_topic, instance
) -> None:
    videos, detections = fresh_buckets
    resources = stack_resources(stack, videos, detections, unique_topic)
    store = _store()

    # An observation of the source, as the automation sensor's cron tick requests it.
    observe = dg.Definitions(
        assets=[camera_geometry],
        jobs=[dg.define_asset_job("observe_geometry", selection=[camera_geometry.key])],
        resources=resources,
    ).resolve_job_def("observe_geometry")

    def observed_version() -> str:
        result = observe.execute_in_process(instance=instance)
        assert result.success
        [observation] = [
            e.event_specific_data.asset_observation
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
        ]
        return observation.tags["dagster/data_version"]

    _put_demo_geometry(s3, detections, store)
    first = observed_version()
    assert observed_version() == first  # nothing changed: same version, nothing stale
    # The store's camera was moved: its entrance line now sits elsewhere.
    moved = GEOMETRY_FILE.read_text().replace("store_id: store-001", f"store_id: {store}")
    moved = moved.replace("start: [150, 180]", "start: [170, 180]")
    s3.put_object(Bucket=detections, Key=f"_geometry/{store}.yaml", Body=moved.encode())
    assert observed_version() != first
