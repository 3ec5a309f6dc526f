"""Silver and gold: tracks, then footfall, occupancy, dwell and fall alerts, per store-day.

- `camera_geometry` (observable source): the stores' geometry documents; its data version is a
  hash of them all, so a new geometry marks silver and gold stale (re-run the days from its
  `valid_from` with a backfill; automation does not redo all history by itself).
- `silver` (one step, two tables): in a run that also wrote bronze for some videos (the sensor's),
  only those videos' silver rows are rebuilt from their bronze rows; otherwise (nightly re-run,
  backfill, a run of silver alone, `full_rebuild`) the whole store-day. The geometry is the store's
  version valid that day; an invalid document fails the store's step with the error naming the
  file, store, camera and field (other stores' runs are not affected).
- `gold` (one step, five tables): the store-day recomputed from its silver rows, plus pictures.

Both refresh on their own after bronze (declarative automation: `eager()` without its
latest-time-window restriction, so a backfill or a late video of an older day refreshes them too)
and belong to `store_day_job` (sensor runs, nightly re-runs, backfills).
"""

import hashlib
import json
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from retail_assets.analytics.detections import detections_from_bronze
from retail_assets.analytics.geometry import (
    GeometryError,
    StoreGeometry,
    list_geometry_versions,
    load_geometry,
)
from retail_assets.analytics.gold import build_gold
from retail_assets.analytics.silver import build_silver
from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.checks import (
    FALL_FRAMES_CHECK,
    FOOTFALL_CHECK,
    OCCUPANCY_CHECK,
    SILVER_TRACKS_CHECK,
    outcome_result,
)
from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import (
    BRONZE_RAW,
    BRONZE_VIDEOS_METADATA,
    CAMERA_GEOMETRY,
    GOLD_DWELL,
    GOLD_FALL_ALERTS,
    GOLD_FOOTFALL,
    GOLD_OCCUPANCY,
    GOLD_STORE_DAILY,
    SILVER_OCCUPANCY,
    SILVER_TRACKS,
)
from retail_assets.defs.partitions import partition_store_day, store_day_partitions
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource
from retail_assets.lakehouse import checks
from retail_assets.lakehouse.analytics import (
    SILVER_OCCUPANCY as SILVER_OCCUPANCY_TABLE,
)
from retail_assets.lakehouse.analytics import (
    SILVER_TRACKS as SILVER_TRACKS_TABLE,
)
from retail_assets.lakehouse.analytics import (
    read_rows,
    read_silver,
    write_gold,
    write_silver,
)
from retail_assets.lakehouse.bronze import read_bronze
from retail_assets.lakehouse.writes import partition_filter
from retail_assets.reports.store_day import camera_preview, store_day_pictures, store_pictures
from retail_assets.settings import Settings

GROUP = "analytics"
GEOMETRY_OBSERVE_CRON = "*/10 * * * *"
# eager() follows only the latest time partition; without that restriction a backfill or a late
# video of an older day refreshes that day's silver and gold too. The geometry source is left out
# of the trigger: one change would otherwise re-run every store-day since the start date.
ANALYTICS_AUTOMATION = (
    dg.AutomationCondition.eager()
    .without(dg.AutomationCondition.in_latest_time_window())
    .ignore(dg.AssetSelection.assets(CAMERA_GEOMETRY))
)
GOLD_KEYS = {
    "gold_footfall_hourly": GOLD_FOOTFALL,
    "gold_occupancy_minutely": GOLD_OCCUPANCY,
    "gold_dwell_hourly": GOLD_DWELL,
    "gold_fall_alerts": GOLD_FALL_ALERTS,
    "gold_store_daily": GOLD_STORE_DAILY,
}


class AnalyticsConfig(dg.Config):
    full_rebuild: bool = Field(
        default=False, description="rebuild the whole store-day's silver rows, even in a run for some videos"
    )


@dg.observable_source_asset(
    key=CAMERA_GEOMETRY,
    group_name=GROUP,
    automation_condition=dg.AutomationCondition.cron_tick_passed(GEOMETRY_OBSERVE_CRON),
    required_resource_keys={"object_store"},
    description=(
        "The stores' camera geometry documents (`<store_id>.yaml` under RVA_GEOMETRY_URI, default "
        "s3://<detections bucket>/_geometry/): counting lines and zones per camera, dated by "
        "`valid_from`. Observed every 10 minutes; its data version is a hash of every document, so "
        "a change marks silver and gold stale."
    ),
)
def camera_geometry(context: dg.AssetExecutionContext) -> dg.ObserveResult:
    object_store: ObjectStoreResource = context.resources.object_store
    location = object_store.geometry_location()
    versions = list_geometry_versions(location, object_store.client())
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:16]
    return dg.ObserveResult(
        data_version=dg.DataVersion(digest),
        metadata={
            "location": location,
            "stores": len(versions),
            "documents": dg.MetadataValue.json({k: v[:12] for k, v in sorted(versions.items())}),
        },
    )


def _run_scope(context: dg.AssetExecutionContext) -> tuple[str, ...] | None:
    """The videos whose bronze rows this run rewrote; None when the run did not write bronze for
    the partition (a run of silver alone) or rewrote the whole store-day."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=BRONZE_RAW, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].run_id != context.run_id:
        return None
    materialization = records[0].asset_materialization
    value = materialization.metadata.get(BRONZE_VIDEOS_METADATA) if materialization else None
    videos = value.value if value is not None else None
    return None if videos is None else tuple(videos)  # type: ignore[arg-type]


def _geometry(object_store: ObjectStoreResource, store_day: StoreDay) -> StoreGeometry | None:
    """The store's geometry valid on the day; a dg.Failure carrying the document's error when invalid."""
    try:
        document = load_geometry(object_store.geometry_location(), store_day.store_id, object_store.client())
    except GeometryError as exc:
        raise dg.Failure(
            description=f"store {store_day.store_id}: its geometry is invalid, so {store_day.key} is not "
            f"computed (other stores are). {exc}",
            allow_retries=False,
        ) from exc
    return document.for_day(store_day.day) if document else None


def _spec(key: dg.AssetKey, deps: list[dg.AssetKey], description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=deps,
        group_name=GROUP,
        kinds={"iceberg", "duckdb"},
        automation_condition=ANALYTICS_AUTOMATION,
        description=description,
    )


def _day_rows(lakehouse: IcebergCatalogResource, catalog: Any, name: str, store_day: StoreDay) -> int:
    """The store-day's row count from the table's metadata (file record counts), no rows read."""
    table = catalog.load_table(lakehouse.table(name))
    return sum(
        task.file.record_count for task in table.scan(row_filter=partition_filter(store_day)).plan_files()
    )


@dg.multi_asset(
    name="rva__silver",
    specs=[
        _spec(
            SILVER_TRACKS,
            [BRONZE_RAW, CAMERA_GEOMETRY],
            "Iceberg table silver_tracks: one row per confirmed track per video (track_uid = "
            "<video_key>#<track_id>) with first/last time, seconds seen, entry/exit points, path, line "
            "crossings, zone visits, fallen seconds and falls. Computed in DuckDB from bronze payloads "
            "with the store's geometry valid that day. A run for some videos replaces their rows only.",
        ),
        _spec(
            SILVER_OCCUPANCY,
            [BRONZE_RAW, CAMERA_GEOMETRY],
            "Iceberg table silver_occupancy_minutely: per video, camera, zone ('*' = whole frame) and "
            "minute, the frames processed and the people counted in them (sum and max).",
        ),
    ],
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    check_specs=[
        dg.AssetCheckSpec(
            SILVER_TRACKS_CHECK,
            asset=SILVER_TRACKS,
            blocking=True,
            description="silver_tracks has one row per distinct (video, confirmed track) of the bronze rows it was built from",
        )
    ],
)
def silver(
    context: dg.AssetExecutionContext,
    config: AnalyticsConfig,
    object_store: ObjectStoreResource,
    lakehouse: IcebergCatalogResource,
):
    store_day = partition_store_day(context)
    scope = None if config.full_rebuild else _run_scope(context)
    geometry = _geometry(object_store, store_day)
    catalog = lakehouse.catalog()
    bronze = read_bronze(catalog, store_day, identifier=lakehouse.bronze_table, videos=scope)
    detections = detections_from_bronze(bronze)
    tables = build_silver(detections, geometry, store_day)
    commits = write_silver(
        catalog,
        tables,
        store_day=store_day,
        scope=scope,
        run_id=context.run_id,
        namespace=lakehouse.namespace,
    )
    written = read_rows(catalog, SILVER_TRACKS_TABLE, store_day, namespace=lakehouse.namespace, videos=scope)
    tracks = tables.tracks
    common = {
        "write": "whole store-day" if scope is None else f"{len(scope)} videos",
        "bronze_rows_read": bronze.num_rows,
        "geometry_version": geometry.version if geometry else "none",
    }
    totals = {
        "tracks_written": tracks.num_rows,
        "line_crossings": int(pc.sum(pc.list_value_length(tracks["crossings"])).as_py() or 0),
        "zone_visits": int(pc.sum(pc.list_value_length(tracks["zone_visits"])).as_py() or 0),
        "falls": int(pc.sum(pc.list_value_length(tracks["falls"])).as_py() or 0),
    }
    for key, name in ((SILVER_TRACKS, SILVER_TRACKS_TABLE), (SILVER_OCCUPANCY, SILVER_OCCUPANCY_TABLE)):
        commit = commits[name]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": _day_rows(lakehouse, catalog, name, store_day),
                **common,
                "rows_written": commit.rows,
                "rows_replaced": commit.rows_replaced,
                "table": f"{lakehouse.catalog_name}.{commit.table}",
                "snapshot_id": str(commit.snapshot_id),
                "commit_attempts": commit.commit_attempts,
                **(totals if key == SILVER_TRACKS else {}),
            },
        )
    yield outcome_result(
        SILVER_TRACKS, SILVER_TRACKS_CHECK, checks.silver_rows_match_tracks(detections, written)
    )


def _markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _totals(store_daily: pa.Table) -> dict[str, Any]:
    if store_daily.num_rows == 0:
        return {}
    day = store_daily.to_pylist()[0]
    return {
        "tracks": day["tracks"],
        "visitors_in": day["visitors_in"],
        "visitors_out": day["visitors_out"],
        "peak_occupancy": day["peak_occupancy"],
        "peak_minute": day["peak_minute"].isoformat() if day["peak_minute"] else "none",
        "falls": day["falls"],
        "median_dwell": dg.MetadataValue.md(
            _markdown_table(day["median_dwell"] or [], ["camera_id", "zone", "visits", "median_seconds"])
        ),
    }


@dg.multi_asset(
    name="rva__gold",
    specs=[
        _spec(
            GOLD_FOOTFALL,
            [SILVER_TRACKS, SILVER_OCCUPANCY],
            "Iceberg table gold_footfall_hourly: people in and out per store, camera, line and hour.",
        ),
        _spec(
            GOLD_OCCUPANCY,
            [SILVER_TRACKS, SILVER_OCCUPANCY],
            "Iceberg table gold_occupancy_minutely: mean and max people per camera, zone ('*' = whole frame) and minute.",
        ),
        _spec(
            GOLD_DWELL,
            [SILVER_TRACKS, SILVER_OCCUPANCY],
            "Iceberg table gold_dwell_hourly: zone visits per hour with median and p90 seconds.",
        ),
        _spec(
            GOLD_FALL_ALERTS,
            [SILVER_TRACKS, SILVER_OCCUPANCY],
            "Iceberg table gold_fall_alerts: one row per fall with the URI of its annotated, blurred frame.",
        ),
        _spec(
            GOLD_STORE_DAILY,
            [SILVER_TRACKS, SILVER_OCCUPANCY],
            "Iceberg table gold_store_daily: visitors in/out through entrance lines, peak occupancy and "
            "when, median dwell per zone, falls. Its materialization shows the day's heatmaps and "
            "hourly footfall chart.",
        ),
    ],
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    check_specs=[
        dg.AssetCheckSpec(
            FOOTFALL_CHECK,
            asset=GOLD_FOOTFALL,
            description="per camera, line and direction, footfall never exceeds the tracks that crossed",
        ),
        dg.AssetCheckSpec(
            OCCUPANCY_CHECK,
            asset=GOLD_OCCUPANCY,
            description="occupancy is never negative nor above the most people seen in one frame (bronze)",
        ),
        dg.AssetCheckSpec(
            FALL_FRAMES_CHECK,
            asset=GOLD_FALL_ALERTS,
            description="every fall alert's frame exists in the object store",
        ),
    ],
)
def gold(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    lakehouse: IcebergCatalogResource,
):
    store_day = partition_store_day(context)
    geometry = _geometry(object_store, store_day)
    catalog = lakehouse.catalog()
    silver_rows = read_silver(catalog, store_day, namespace=lakehouse.namespace)
    tables = build_gold(
        silver_rows.tracks, silver_rows.occupancy, store_day, geometry, object_store.detections_bucket
    ).by_table_name()
    commits = write_gold(
        catalog, tables, store_day=store_day, run_id=context.run_id, namespace=lakehouse.namespace
    )

    s3 = object_store.client()
    bucket = object_store.detections_bucket
    cameras = set(pc.unique(silver_rows.tracks["camera_id"]).to_pylist())
    cameras |= set(geometry.cameras) if geometry else set()
    blurred_only = Settings.from_env().blur_people
    previews = {c: camera_preview(s3, bucket, store_day, c, blurred_only=blurred_only) for c in cameras}
    pictures = store_day_pictures(
        store_day, silver_rows.tracks, tables["gold_footfall_hourly"], geometry, previews
    )
    uris = store_pictures(s3, bucket, pictures)
    chart = pictures[-1]
    heatmaps = pictures[:-1]

    for name, key in GOLD_KEYS.items():
        commit = commits[name]
        metadata: dict[str, Any] = {
            "dagster/row_count": commit.rows,
            "rows_replaced": commit.rows_replaced,
            "table": f"{lakehouse.catalog_name}.{commit.table}",
            "snapshot_id": str(commit.snapshot_id),
            "geometry_version": geometry.version if geometry else "none",
        }
        if key == GOLD_STORE_DAILY:
            metadata.update(_totals(tables[name]))
            metadata["pictures"] = dg.MetadataValue.json(uris)
            for picture in heatmaps:
                metadata[picture.name] = dg.MetadataValue.md(picture.markdown(bucket))
            metadata[chart.name] = dg.MetadataValue.md(chart.markdown(bucket))
        elif key == GOLD_FOOTFALL:
            footfall = tables[name]
            metadata["people_in"] = int(pc.sum(footfall["people_in"]).as_py() or 0)
            metadata["people_out"] = int(pc.sum(footfall["people_out"]).as_py() or 0)
            metadata[chart.name] = dg.MetadataValue.md(chart.markdown(bucket))
        elif key == GOLD_FALL_ALERTS:
            metadata["falls"] = tables[name].num_rows
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)

    yield outcome_result(
        GOLD_FOOTFALL,
        FOOTFALL_CHECK,
        checks.footfall_within_crossing_tracks(tables["gold_footfall_hourly"], silver_rows.tracks),
    )
    yield outcome_result(
        GOLD_OCCUPANCY,
        OCCUPANCY_CHECK,
        checks.occupancy_within_frame_counts(tables["gold_occupancy_minutely"], silver_rows.occupancy),
    )
    yield outcome_result(
        GOLD_FALL_ALERTS, FALL_FRAMES_CHECK, checks.fall_frames_exist(tables["gold_fall_alerts"], s3)
    )


ANALYTICS_ASSETS = (silver, gold)
