"""The nightly schedule: one run per registered store for the previous day."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from retail_assets.definitions import defs
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME, store_day_partitions
from retail_assets.defs.schedules import nightly_store_rerun


def test_nightly_requests_one_run_per_store_for_the_previous_day(instance: dg.DagsterInstance) -> None:
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, ["store-003", "store-001", "store-002"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
    )
    requests = nightly_store_rerun(context)

    assert [r.partition_key for r in requests] == [
        "2026-11-28|store-001",
        "2026-11-28|store-002",
        "2026-11-28|store-003",
    ]
    assert len({r.run_key for r in requests}) == 3
    assert all(r.tags["rva/trigger"] == "nightly" for r in requests)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        for request in requests:  # every requested partition exists for the job the schedule targets
            assert store_day_partitions.has_partition_key(request.partition_key)
        assert not store_day_partitions.has_partition_key("2026-11-28|store-999")
    assert defs.get_schedule_def("nightly_store_rerun").job_name == "store_day_job"


def test_nightly_skips_with_a_reason_when_no_store_is_known(instance: dg.DagsterInstance) -> None:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
    )
    result = nightly_store_rerun(context)
    assert isinstance(result, dg.SkipReason)
    assert "no stores registered" in result.skip_message


def test_nightly_skips_days_before_the_start_date(instance: dg.DagsterInstance) -> None:
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, ["store-001"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
    )
    result = nightly_store_rerun(context)
    assert isinstance(result, dg.SkipReason)
    assert "start date" in result.skip_message
