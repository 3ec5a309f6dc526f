"""Helpers of the store-day run tests: run the code location's assets, read what a user would check."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import dagster as dg

from retail_assets.contracts.store_day import StoreDay
from retail_assets.definitions import defs
from retail_assets.lakehouse.bronze import BRONZE_TABLE, SNAPSHOT_RUN_ID, partition_filter
from retail_assets.lakehouse.catalog import open_catalog

ASSET_NAMES = ("raw_videos", "detections", "pulsar_events", "bronze_raw")
DETECTIONS_OP = "rva__detections"  # the op names users put in run config (docs/dagster.md)
RAW_VIDEOS_OP = "rva__raw_videos"
MAX_FRAMES = 6


def assets() -> list[dg.AssetsDefinition]:
    return [defs.get_assets_def(dg.AssetKey(["rva", name])) for name in ASSET_NAMES]


def with_max_frames(run_config: dict[str, Any] | None) -> dict[str, Any]:
    """A requested run's config plus the small max_frames that keeps these tests fast."""
    merged = copy.deepcopy(run_config or {})
    op = merged.setdefault("ops", {}).setdefault(DETECTIONS_OP, {}).setdefault("config", {})
    op["max_frames"] = MAX_FRAMES
    return merged


def run(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    partition_key: str,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets(),
        partition_key=partition_key,
        instance=instance,
        resources=resources,
        run_config=with_max_frames(run_config),
        tags=tags,
        raise_on_error=False,
    )


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}


def steps(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == event_type}


def metadata(result: dg.ExecuteInProcessResult, name: str) -> dict[str, Any]:
    [mat] = [
        m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey(["rva", name])
    ]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def ndjson(s3: Any, uri: str) -> list[str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def ndjson_keys(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"].endswith(".ndjson"))


def bronze(store_id: str, day: date) -> list[dict[str, Any]]:
    catalog = open_catalog("lakehouse")
    if not catalog.table_exists(BRONZE_TABLE):  # no store-day has reached bronze in this session yet
        return []
    table = catalog.load_table(BRONZE_TABLE)
    return table.scan(row_filter=partition_filter(StoreDay(day, store_id))).to_arrow().to_pylist()


def bronze_touched(result: dg.ExecuteInProcessResult) -> tuple[int, int]:
    """(added, deleted) records of the bronze commits this run made, from the snapshot summaries."""
    table = open_catalog("lakehouse").load_table(BRONZE_TABLE)
    ours = [s.summary for s in table.snapshots() if s.summary.get(SNAPSHOT_RUN_ID) == result.run_id]
    assert ours, f"run {result.run_id} made no bronze commit"
    return (
        sum(int(s.get("added-records") or 0) for s in ours),
        sum(int(s.get("deleted-records") or 0) for s in ours),
    )


def tick(instance: dg.DagsterInstance, resources: dict[str, Any], cursor: str | None) -> dg.SensorResult:
    """One tick of the code location's sensor, and what the daemon does with it: stores registered."""
    sensor = defs.get_sensor_def("new_video_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def etag(s3: Any, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
