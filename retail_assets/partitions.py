"""The store-day partitioning shared by every asset: `<YYYY-MM-DD>|<store_id>`.

The date dimension starts at `RVA_START_DATE` (default 2026-01-01) and its days follow the
stores' timezone `RVA_STORE_TIMEZONE` (default UTC); both are read when the code location
loads. Stores are a dynamic dimension: the sensor registers a store the first time one of
its videos arrives, and `stores.build_add_request([...])` or the UI add others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import dagster as dg

from retail_assets.contracts.layout import check_id
from retail_assets.errors import InputError

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


@dataclass(frozen=True)
class StoreDay:
    """One partition, parsed: the day (in the stores' timezone) and the store id."""

    day: date
    store_id: str

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}|{self.store_id}"

    @property
    def s3_prefix_parts(self) -> tuple[str, str]:
        """(store prefix, date segment) to list this store-day's videos camera by camera."""
        return f"{self.store_id}/", self.day.isoformat()


def parse_partition_key(partition_key: str | dg.MultiPartitionKey) -> StoreDay:
    """`2026-11-28|store-001` (or a MultiPartitionKey) -> StoreDay; InputError when it does not fit."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        dims = partition_key.keys_by_dimension
        day_text, store = dims["date"], dims["store"]
    else:
        day_text, sep, store = str(partition_key).partition("|")
        if not sep:
            raise InputError(f"partition key {partition_key!r} must be '<YYYY-MM-DD>|<store_id>'")
    try:
        day = date.fromisoformat(day_text)
    except ValueError as exc:
        raise InputError(f"partition key {partition_key!r}: date {day_text!r} is not YYYY-MM-DD") from exc
    return StoreDay(day, check_id(store, f"partition key {partition_key!r}: store id"))
