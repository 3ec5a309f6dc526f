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
    today = datetime.now(UTC).date()
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, ["store-001"])
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        assert store_day_partitions.has_partition_key(f"{today.isoformat()}|store-001")
        assert not store_day_partitions.has_partition_key(
            f"{(today + timedelta(days=1)).isoformat()}|store-001"
        )
        assert store_day_partitions.has_partition_key("2026-01-01|store-001")
        assert not store_day_partitions.has_partition_key("2025-12-31|store-001")
    assert day_in_range(today) and not day_in_range(today + timedelta(days=1))


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
