"""Store-day partition keys: `<YYYY-MM-DD>|<store_id>`, the Dagster multi-partition key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retail_assets.contracts.layout import check_id
from retail_assets.errors import InputError


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


def parse_partition_key(partition_key: str) -> StoreDay:
    """`2026-11-28|store-001` -> StoreDay; InputError says what does not fit."""
    day_text, sep, store_id = partition_key.partition("|")
    if not sep:
        raise InputError(
            f"partition key {partition_key!r} must look like '2026-11-28|store-001' (date|store)"
        )
    try:
        day = date.fromisoformat(day_text)
    except ValueError as exc:
        raise InputError(f"partition key {partition_key!r}: {day_text!r} is not a YYYY-MM-DD date") from exc
    check_id(store_id, f"store id in partition key {partition_key!r}")
    return StoreDay(day, store_id)
