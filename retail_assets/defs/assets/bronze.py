"""`bronze_raw`: the store-day's Iceberg rows, written from exactly what Pulsar carried.

A run for some videos (the sensor's) replaces the rows of those videos only, so the work of a new
video does not grow with the videos already in its day; a whole-day run (nightly re-run,
backfill, or `full_rebuild`) rebuilds the store-day from all its receipts.
"""

from typing import Any

import dagster as dg
import pyarrow.compute as pc
from pydantic import Field

from retail_assets.defs.checks import (
    BRONZE_KEY_COLUMNS,
    BRONZE_ROWS_CHECK,
    EVENT_ID_UNIQUE_CHECK,
    KEYS_NOT_NULL_CHECK,
    check_bronze_rows,
    check_event_id_unique,
    check_keys_not_null,
)
from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import BRONZE_RAW, BRONZE_VIDEOS_METADATA, KEY_PREFIX
from retail_assets.defs.partitions import store_day_partitions
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource, PulsarResource
from retail_assets.lakehouse.bronze import (
    partition_filter,
    videos_filter,
    write_bronze_partition,
    write_bronze_videos,
)
from retail_assets.streaming.publish_video import PublishedStoreDay
from retail_assets.streaming.receipts import ReceiptStore


class BronzeConfig(dg.Config):
    full_rebuild: bool = Field(
        default=False,
        description="rebuild the whole store-day from all its receipts, even in a run for some videos",
    )


def _spec(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=BRONZE_RAW, blocking=True, description=description)


@dg.asset(
    key_prefix=KEY_PREFIX,
    ins={"pulsar_events": dg.AssetIn(key_prefix=KEY_PREFIX)},
    group_name="lakehouse",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    pool="bronze",
    kinds={"iceberg", "pulsar"},
    check_specs=[
        _spec(BRONZE_ROWS_CHECK, "rows written by the run == messages in their publish receipts"),
        _spec(EVENT_ID_UNIQUE_CHECK, "no event_id appears twice among the rows the run wrote"),
        _spec(KEYS_NOT_NULL_CHECK, "event_id, store, camera, times and Pulsar message id are never null"),
    ],
    description=(
        "Iceberg table lakehouse.rva.bronze_raw (namespace from RVA_NAMESPACE), partitioned by "
        "store_id and event_date. Rows are read back from Pulsar, exactly the messages the publish "
        "receipts name, and committed in one Iceberg commit. A run for some videos (the sensor's) "
        "replaces only their rows; a whole-day run rebuilds the store-day. Re-runs never duplicate "
        "rows. Commits run in the `bronze` pool; a commit that loses a race is redone on the new table."
    ),
)
def bronze_raw(
    context: dg.AssetExecutionContext,
    config: BronzeConfig,
    object_store: ObjectStoreResource,
    pulsar: PulsarResource,
    lakehouse: IcebergCatalogResource,
    pulsar_events: PublishedStoreDay,
):
    store_day = pulsar_events.store_day
    scope = None if config.full_rebuild else pulsar_events.scope
    store = ReceiptStore(object_store.client(), object_store.detections_bucket)
    # Read the receipts now (not from the upstream step's output): with overlapping runs of one
    # store-day, the latest stored receipts are the most complete.
    if scope is None:
        receipts = store.list_partition(store_day)
    else:
        receipts = [r for r in (store.get(store_day, key) for key in scope) if r is not None]
    catalog = lakehouse.catalog()
    client = pulsar.client()
    try:
        common: dict[str, Any] = {
            "store_day": store_day,
            "run_id": context.run_id,
            "identifier": lakehouse.bronze_table,
        }
        if scope is None:
            commit = write_bronze_partition(catalog, client, receipts, **common)
        else:
            commit = write_bronze_videos(catalog, client, receipts, video_keys=scope, **common)
    finally:
        client.close()

    table = catalog.load_table(lakehouse.bronze_table)
    written = partition_filter(store_day) if scope is None else videos_filter(store_day, scope)
    # What this run wrote, read back for the checks: the run's videos, not the whole day.
    keys = table.scan(row_filter=written, selected_fields=BRONZE_KEY_COLUMNS).to_arrow()
    # The store-day's row count from the table's metadata (file record counts), no rows read.
    day_rows = sum(
        task.file.record_count for task in table.scan(row_filter=partition_filter(store_day)).plan_files()
    )
    expected = sum(r.messages_sent for r in receipts)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": day_rows,
            "write": "whole store-day" if scope is None else f"{len(scope)} videos",
            # The steps after bronze in the same run (silver) redo exactly these videos.
            BRONZE_VIDEOS_METADATA: dg.MetadataValue.json(None if scope is None else list(scope)),
            "rows_written": commit.rows,
            "rows_replaced": commit.rows_replaced,
            "duplicates_dropped": commit.duplicates_dropped,
            "receipts": len(receipts),
            "table": f"{lakehouse.catalog_name}.{commit.table}",
            "snapshot_id": str(commit.snapshot_id),
            "data_files": len(commit.data_files),
            "commit_attempts": commit.commit_attempts,
            "cameras": dg.MetadataValue.json(sorted(set(pc.unique(keys.column("camera_id")).to_pylist()))),
        }
    )
    yield check_bronze_rows(keys.num_rows, expected)
    yield check_event_id_unique(keys.column("event_id").to_pylist())
    yield check_keys_not_null({name: keys.column(name).null_count for name in BRONZE_KEY_COLUMNS})
