"""The store-day partitioning shared by every asset: `<YYYY-MM-DD>|<store_id>`.

The date dimension starts at `RVA_START_DATE` (default 2026-01-01) and its days follow the
stores' timezone `RVA_STORE_TIMEZONE` (default UTC); both are read when the code location
loads. Stores are a dynamic dimension: the sensor registers a store the first time one of
its videos arrives, and `stores.build_add_request([...])` or the UI add others.
"""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from retail_assets.contracts.partition_keys import StoreDay
from retail_assets.contracts.partition_keys import parse_partition_key as parse_store_day
from retail_assets.errors import InputError

__all__ = ["StoreDay", "parse_partition_key", "store_day_partitions", "stores"]

DEFAULT_START_DATE = "2026-01-01"
DEFAULT_TIMEZONE = "UTC"
STORES_PARTITIONS_NAME = "stores"


def start_date_from_env() -> str:
    value = os.environ.get("RVA_START_DATE") or DEFAULT_START_DATE
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"RVA_START_DATE={value!r} is not a date in YYYY-MM-DD form") from exc
    return value


def store_timezone_from_env() -> str:
    return os.environ.get("RVA_STORE_TIMEZONE") or DEFAULT_TIMEZONE


stores = dg.DynamicPartitionsDefinition(name=STORES_PARTITIONS_NAME)


def build_store_day_partitions(start_date: str, timezone: str) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            # end_offset=1: today's partition exists from midnight on, so videos of the current
            # day are processed as they arrive (not only once the day is over).
            "date": dg.DailyPartitionsDefinition(start_date=start_date, timezone=timezone, end_offset=1),
            "store": stores,
        }
    )


store_day_partitions = build_store_day_partitions(start_date_from_env(), store_timezone_from_env())


def date_partitions() -> dg.TimeWindowPartitionsDefinition:
    return store_day_partitions.get_partitions_def_for_dimension("date")  # type: ignore[return-value]


def day_in_range(day: date) -> bool:
    """Whether `day` is a partition now: on or after the start date and not after today."""
    return date_partitions().has_partition_key(day.isoformat())


def parse_partition_key(partition_key: str | dg.MultiPartitionKey) -> StoreDay:
    """`2026-11-28|store-001` -> StoreDay. A MultiPartitionKey is that same string (date first:
    Dagster orders the dimensions by name)."""
    return parse_store_day(str(partition_key))
