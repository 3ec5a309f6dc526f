"""The silver and gold tables: where the analytics' answers are kept, and how they are written.

Silver (`silver_tracks`, `silver_occupancy_minutely`) is kept per video, like bronze: a run
replaces the rows of the videos it processed (one commit per table; data files never mix videos,
`video_key` at full bounds), so the work of a new video does not grow with its day; a whole-day
rebuild replaces the store-day. Gold (`gold_footfall_hourly`, `gold_occupancy_minutely`,
`gold_dwell_hourly`, `gold_fall_alerts`, `gold_store_daily`) is recomputed per store-day from
silver and overwrites the store-day's partition, one commit per table.

All are partitioned by identity(store_id), identity(event_date); their Iceberg schemas are derived
from the Arrow schemas of `retail_assets.analytics` (the transformations' output), so the two
cannot drift apart. Writes go through `writes.replace_scope` (commit retries off, a lost commit
redone on the refreshed table, old snapshots expired), the same code bronze uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from retail_assets.analytics.gold import GOLD_SCHEMAS
from retail_assets.analytics.silver import SILVER_OCCUPANCY_SCHEMA, SILVER_TRACKS_SCHEMA, SilverTables
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.lakehouse.writes import (
    LakehouseWriteError,
    ScopeCommit,
    TableLayout,
    ensure_table,
    partition_filter,
    replace_scope,
    scope_filter,
    split_by_video,
    store_day_layout,
)
from retail_assets.settings import DEFAULT_NAMESPACE

SILVER_TRACKS = "silver_tracks"
SILVER_OCCUPANCY = "silver_occupancy_minutely"
SILVER_SCHEMAS: dict[str, pa.Schema] = {
    SILVER_TRACKS: SILVER_TRACKS_SCHEMA,
    SILVER_OCCUPANCY: SILVER_OCCUPANCY_SCHEMA,
}
GOLD_TABLES: tuple[str, ...] = tuple(GOLD_SCHEMAS)
LAYOUTS: dict[str, TableLayout] = {
    **{name: store_day_layout(name, schema, per_video=True) for name, schema in SILVER_SCHEMAS.items()},
    **{name: store_day_layout(name, schema, per_video=False) for name, schema in GOLD_SCHEMAS.items()},
}
ARROW_SCHEMAS: dict[str, pa.Schema] = {**SILVER_SCHEMAS, **GOLD_SCHEMAS}


class AnalyticsWriteError(LakehouseWriteError):
    """A silver or gold table could not be written; it still shows its previous rows."""


def table_identifier(name: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """`<namespace>.<name>` for one of the silver or gold tables (RVA_NAMESPACE)."""
    if name not in LAYOUTS:
        raise InputError(f"unknown analytics table {name!r}; known: {', '.join(LAYOUTS)}")
    return f"{namespace}.{name}"


def ensure_analytics_tables(catalog: Catalog, namespace: str = DEFAULT_NAMESPACE) -> None:
    """Create every silver and gold table that is missing (a query finds them all, even empty)."""
    for name, layout in LAYOUTS.items():
        ensure_table(catalog, table_identifier(name, namespace), layout)


def _conform(rows: pa.Table, name: str, store_day: StoreDay, scope: tuple[str, ...] | None) -> pa.Table:
    """`rows` in the table's Arrow schema, checked to belong to the store-day (and the scope)."""
    schema = ARROW_SCHEMAS[name]
    missing = [column for column in schema.names if column not in rows.column_names]
    if missing:
        raise InputError(f"rows for {name} lack column(s) {', '.join(missing)}")
    rows = rows.select(schema.names).cast(schema)
    if rows.num_rows == 0:
        return rows
    stores = set(pc.unique(rows["store_id"]).to_pylist())
    days = set(pc.unique(rows["event_date"]).to_pylist())
    if stores != {store_day.store_id} or days != {store_day.day}:
        raise InputError(
            f"rows for {name} of partition {store_day.key} hold store(s) {sorted(map(str, stores))} "
            f"and day(s) {sorted(map(str, days))}"
        )
    if scope is not None:
        outside = set(pc.unique(rows["video_key"]).to_pylist()) - set(scope)
        if outside:
            raise InputError(
                f"rows for {name} hold video(s) outside the run's videos: {', '.join(sorted(outside))}"
            )
    return rows


def write_silver(
    catalog: Catalog,
    silver: SilverTables,
    *,
    store_day: StoreDay,
    scope: Iterable[str] | None,
    run_id: str,
    namespace: str = DEFAULT_NAMESPACE,
    **options: Any,
) -> dict[str, ScopeCommit]:
    """Replace the silver rows of the scope's videos (`scope` None: of the whole store-day) with
    `silver`'s, one commit per table. A video of the scope without rows loses its rows (its bronze
    rows went, or it has no confirmed track). Options as `writes.replace_scope`."""
    scope_keys = None if scope is None else tuple(sorted(set(scope)))
    tables = {SILVER_TRACKS: silver.tracks, SILVER_OCCUPANCY: silver.occupancy}
    conformed = {name: _conform(rows, name, store_day, scope_keys) for name, rows in tables.items()}
    return {
        name: replace_scope(
            catalog,
            table_identifier(name, namespace),
            LAYOUTS[name],
            lambda rows=rows: split_by_video(rows),
            store_day=store_day,
            scope=scope_keys,
            run_id=run_id,
            error_type=AnalyticsWriteError,
            **options,
        )
        for name, rows in conformed.items()
    }


def write_gold(
    catalog: Catalog,
    gold: dict[str, pa.Table],
    *,
    store_day: StoreDay,
    run_id: str,
    namespace: str = DEFAULT_NAMESPACE,
    **options: Any,
) -> dict[str, ScopeCommit]:
    """Overwrite the store-day partition of each gold table with `gold[name]`, one commit per table."""
    unknown = set(gold) - set(GOLD_TABLES)
    if unknown:
        raise InputError(
            f"unknown gold table(s) {', '.join(sorted(unknown))}; known: {', '.join(GOLD_TABLES)}"
        )
    conformed = {name: _conform(gold[name], name, store_day, None) for name in GOLD_TABLES if name in gold}
    return {
        name: replace_scope(
            catalog,
            table_identifier(name, namespace),
            LAYOUTS[name],
            lambda rows=rows: [rows],
            store_day=store_day,
            scope=None,
            run_id=run_id,
            error_type=AnalyticsWriteError,
            **options,
        )
        for name, rows in conformed.items()
    }


def read_rows(
    catalog: Catalog,
    name: str,
    store_day: StoreDay,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    videos: Iterable[str] | None = None,
) -> pa.Table:
    """A silver or gold table's rows of the store-day (of some videos only, for silver), in its
    Arrow schema; empty when the table does not exist yet."""
    identifier = table_identifier(name, namespace)
    table = ensure_table(catalog, identifier, LAYOUTS[name])
    row_filter = partition_filter(store_day) if videos is None else scope_filter(store_day, videos)
    schema = ARROW_SCHEMAS[name]
    rows = table.scan(row_filter=row_filter, selected_fields=tuple(schema.names)).to_arrow()
    return rows.select(schema.names).cast(schema)


def read_silver(catalog: Catalog, store_day: StoreDay, *, namespace: str = DEFAULT_NAMESPACE) -> SilverTables:
    """The store-day's silver rows (both tables), what gold is computed from."""
    return SilverTables(
        tracks=read_rows(catalog, SILVER_TRACKS, store_day, namespace=namespace),
        occupancy=read_rows(catalog, SILVER_OCCUPANCY, store_day, namespace=namespace),
    )
