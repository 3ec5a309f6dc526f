"""`bronze_raw`: the store-day's Iceberg partition, rebuilt from exactly what Pulsar carried."""

from typing import Any

import dagster as dg
import pyarrow.compute as pc

from retail_assets.contracts.store_day import StoreDay
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
from retail_assets.defs.names import BRONZE_RAW, KEY_PREFIX, PULSAR_EVENTS
from retail_assets.defs.partitions import partition_store_day, store_day_partitions
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource, PulsarResource
from retail_assets.lakehouse.bronze import partition_filter, write_bronze_partition
from retail_assets.streaming.receipts import ReceiptStore


def read_partition_keys(catalog: Any, identifier: str, store_day: StoreDay) -> Any:
    """The key columns of one store-day of the bronze table (an Arrow table)."""
    table = catalog.load_table(identifier)
    return table.scan(row_filter=partition_filter(store_day), selected_fields=BRONZE_KEY_COLUMNS).to_arrow()


def _spec(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=BRONZE_RAW, blocking=True, description=description)


@dg.asset(
    key_prefix=KEY_PREFIX,
    group_name="lakehouse",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    pool="bronze",
    deps=[PULSAR_EVENTS],
    kinds={"iceberg", "pulsar"},
    check_specs=[
        _spec(BRONZE_ROWS_CHECK, "rows of the store-day == messages in its publish receipts"),
        _spec(EVENT_ID_UNIQUE_CHECK, "no event_id appears twice in the store-day"),
        _spec(KEYS_NOT_NULL_CHECK, "event_id, store, camera, times and Pulsar message id are never null"),
    ],
    description=(
        "Iceberg table lakehouse.rva.bronze_raw (namespace from RVA_NAMESPACE), partitioned by "
        "store_id and event_date. Each run reads the partition's publish receipts, reads exactly "
        "those messages back from Pulsar and replaces the store-day's partition in one commit "
        "(dynamic partition overwrite), so re-runs never duplicate rows. Commits run in the `bronze` "
        "pool; a commit that loses a race with another run is retried on the new table state."
    ),
)
def bronze_raw(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    pulsar: PulsarResource,
    lakehouse: IcebergCatalogResource,
):
    store_day = partition_store_day(context)
    # Read the receipts now (not from the upstream step's output): with overlapping runs of one
    # store-day, the latest stored receipts are the most complete.
    receipts = ReceiptStore(object_store.client(), object_store.detections_bucket).list_partition(store_day)
    catalog = lakehouse.catalog()
    client = pulsar.client()
    try:
        commit = write_bronze_partition(
            catalog,
            client,
            receipts,
            store_day=store_day,
            run_id=context.run_id,
            identifier=lakehouse.bronze_table,
        )
    finally:
        client.close()
    keys = read_partition_keys(catalog, lakehouse.bronze_table, store_day)
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
