"""The store-day partitioning shared by every asset: `<YYYY-MM-DD>|<store_id>` (`StoreDay`).

The date dimension starts at `RVA_START_DATE` (default 2026-01-01) and its days follow the
stores' timezone `RVA_STORE_TIMEZONE` (default UTC); both are read (through `Settings`) when the
code location loads. Stores are a dynamic dimension: the sensor registers a store the first time
one of its videos arrives, and `stores.build_add_request([...])` or the UI add others.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from retail_assets.contracts.store_day import StoreDay
from retail_assets.settings import Settings

STORES_PARTITIONS_NAME = "stores"

stores = dg.DynamicPartitionsDefinition(name=STORES_PARTITIONS_NAME)


def build_store_day_partitions(start_date: date, timezone: str) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            # end_offset=1: today's partition exists from midnight on, so videos of the current
            # day are processed as they arrive (not only once the day is over).
            "date": dg.DailyPartitionsDefinition(
                start_date=start_date.isoformat(), timezone=timezone, end_offset=1
            ),
            "store": stores,
        }
    )


_settings = Settings.from_env()
store_day_partitions = build_store_day_partitions(_settings.start_date, _settings.store_timezone)


def date_partitions() -> dg.TimeWindowPartitionsDefinition:
    return store_day_partitions.get_partitions_def_for_dimension("date")  # type: ignore[return-value]


def day_in_range(day: date) -> bool:
    """Whether `day` is a partition now: on or after the start date and not after today."""
    return date_partitions().has_partition_key(day.isoformat())


def partition_store_day(context: dg.AssetExecutionContext) -> StoreDay:
    """The run's partition as a StoreDay: the one place a Dagster partition key is parsed."""
    return StoreDay.parse(context.partition_key)
