"""`bronze_raw`: the store-day's Iceberg partition, rebuilt from exactly what Pulsar carried."""

from datetime import date
from typing import Any

import dagster as dg
import pyarrow.compute as pc

from retail_assets.assets import KEY_PREFIX, PER_PARTITION_BACKFILL
from retail_assets.checks import (
    BRONZE_KEY_COLUMNS,
    BRONZE_ROWS_CHECK,
    EVENT_ID_UNIQUE_CHECK,
    KEYS_NOT_NULL_CHECK,
    check_bronze_rows,
    check_event_id_unique,
    check_keys_not_null,
)
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter, write_bronze_partition
from retail_assets.partitions import parse_partition_key, store_day_partitions
from retail_assets.resources import IcebergCatalogResource, ObjectStoreResource, PulsarResource
from retail_assets.streaming.receipts import ReceiptStore


def read_partition_keys(catalog: Any, store_id: str, event_date: date) -> Any:
    """The key columns of one store-day of the bronze table (an Arrow table)."""
    table = catalog.load_table(BRONZE_TABLE)
    return table.scan(
        row_filter=partition_filter(store_id, event_date),
        selected_fields=BRONZE_KEY_COLUMNS,
    ).to_arrow()


def _spec(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=[KEY_PREFIX, "bronze_raw"], blocking=True, description=description)


@dg.asset(
    key_prefix=KEY_PREFIX,
    group_name="lakehouse",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    pool="bronze",
    deps=[dg.AssetKey([KEY_PREFIX, "pulsar_events"])],
    kinds={"iceberg", "pulsar"},
    check_specs=[
        _spec(BRONZE_ROWS_CHECK, "rows of the store-day == messages in its publish receipts"),
        _spec(EVENT_ID_UNIQUE_CHECK, "no event_id appears twice in the store-day"),
        _spec(KEYS_NOT_NULL_CHECK, "event_id, store, camera, times and Pulsar message id are never null"),
    ],
    description=(
        "Iceberg table lakehouse.rva.bronze_raw, partitioned by store_id and event_date. Each run "
        "reads the partition's publish receipts, reads exactly those messages back from Pulsar and "
        "replaces the store-day's partition in one commit (dynamic partition overwrite), so "
        "re-runs never duplicate rows. Commits run in the `bronze` pool; a commit that loses a race "
        "with another run is retried on the new table state."
    ),
)
def bronze_raw(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    pulsar: PulsarResource,
    lakehouse: IcebergCatalogResource,
):
    day = parse_partition_key(context.partition_key)
    # Read the receipts now (not from the upstream step's output): with overlapping runs of one
    # store-day, the latest stored receipts are the most complete.
    receipts = ReceiptStore(object_store.client(), object_store.detections_bucket).list_partition(day.key)
    catalog = lakehouse.catalog()
    client = pulsar.client()
    try:
        commit = write_bronze_partition(
            catalog,
            client,
            receipts,
            store_id=day.store_id,
            event_date=day.day,
            partition_key=day.key,
            run_id=context.run_id,
        )
    finally:
        client.close()
    keys = read_partition_keys(catalog, day.store_id, day.day)
    expected = sum(r.messages_sent for r in receipts)
    null_counts = {name: keys.column(name).null_count for name in BRONZE_KEY_COLUMNS}
    event_ids = keys.column("event_id").to_pylist()
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": keys.num_rows,
            "rows_written": commit.rows,
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
    yield check_event_id_unique(event_ids)
    yield check_keys_not_null(null_counts)
