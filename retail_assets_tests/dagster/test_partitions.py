"""Store-day partitions: key format, today's partition, bad keys."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.partitions import (
    STORES_PARTITIONS_NAME,
    day_in_range,
    store_day_partitions,
)
from retail_assets.errors import InputError


def test_todays_partition_exists_so_videos_are_processed_the_day_they_arrive(instance) -> None:
    # One instant, read once: "today" and the partitions' "now" can never straddle midnight.
    now = datetime.now(UTC)
    today = now.date()
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, ["store-001"])
    with dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
        assert store_day_partitions.has_partition_key(f"{today.isoformat()}|store-001")
        assert not store_day_partitions.has_partition_key(
            f"{(today + timedelta(days=1)).isoformat()}|store-001"
        )
        assert store_day_partitions.has_partition_key("2026-01-01|store-001")
        assert not store_day_partitions.has_partition_key("2025-12-31|store-001")
        assert day_in_range(today) and not day_in_range(today + timedelta(days=1))


@pytest.mark.parametrize(
    ("now", "last_day"),
    [
        (datetime(2026, 11, 28, 0, 0, 0, tzinfo=UTC), date(2026, 11, 28)),  # the day's first second
        (datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC), date(2026, 11, 28)),  # its last second
        (datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC), date(2026, 11, 29)),  # midnight: the next day opens
    ],
)
def test_the_last_partition_is_the_current_store_day_at_any_time_of_day(
    now: datetime, last_day: date
) -> None:
    with dg.partition_loading_context(effective_dt=now):
        assert day_in_range(last_day)
        assert not day_in_range(last_day + timedelta(days=1))
        assert day_in_range(date(2026, 1, 1)) and not day_in_range(date(2025, 12, 31))
        date_dimension = store_day_partitions.get_partitions_def_for_dimension("date")
        assert date_dimension.get_last_partition_key() == last_day.isoformat()


def test_partition_keys_read_date_then_store() -> None:
    day = StoreDay.parse("2026-11-28|store-001")
    assert (day.day, day.store_id, day.key) == (date(2026, 11, 28), "store-001", "2026-11-28|store-001")
    as_multi = dg.MultiPartitionKey({"date": "2026-11-28", "store": "store-001"})
    assert str(as_multi) == "2026-11-28|store-001" and StoreDay.parse(as_multi) == day


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("store-001", "must look like '2026-11-28|store-001'"),
        ("2026-13-01|store-001", "is not a YYYY-MM-DD date"),
        ("2026-11-28|store 001", "store id"),
    ],
)
def test_a_bad_partition_key_says_what_is_wrong(key: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        StoreDay.parse(key)
    assert key in str(err.value)
