"""The store-day: one store's videos of one day, the unit every asset partitions by.

Its text form `<YYYY-MM-DD>|<store_id>` is the Dagster multi-partition key (Dagster orders the
dimensions by name, so the date comes first). `StoreDay.key` is the only place that text is
formatted and `StoreDay.parse` the only place it is parsed; everything else passes `StoreDay`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retail_assets.contracts.ids import check_id
from retail_assets.errors import InputError

_SEPARATOR = "|"


@dataclass(frozen=True, order=True)
class StoreDay:
    """One partition: the day (in the stores' timezone) and the store id."""

    day: date
    store_id: str

    def __post_init__(self) -> None:
        check_id(self.store_id, "store id")

    @property
    def key(self) -> str:
        """`2026-11-28|store-001`."""
        return f"{self.day.isoformat()}{_SEPARATOR}{self.store_id}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, partition_key: object) -> StoreDay:
        """`2026-11-28|store-001` (or a Dagster MultiPartitionKey, which is that string) -> StoreDay;
        InputError says what does not fit."""
        text = str(partition_key)
        day_text, sep, store_id = text.partition(_SEPARATOR)
        if not sep:
            raise InputError(f"partition key {text!r} must look like '2026-11-28|store-001' (date|store)")
        try:
            day = date.fromisoformat(day_text)
        except ValueError as exc:
            raise InputError(f"partition key {text!r}: {day_text!r} is not a YYYY-MM-DD date") from exc
        check_id(store_id, f"store id in partition key {text!r}")
        return cls(day, store_id)
