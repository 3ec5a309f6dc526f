"""`nightly_store_rerun`: every night, each store's previous day again, one run per store.

Late uploads (a camera that uploads hours late, or a clip whose name sorts before ones the
sensor already passed) are picked up: `raw_videos` lists the whole store-day, `detections`
infers only what is not current, `pulsar_events` publishes only what has no receipt, and bronze
is rebuilt from the receipts. A store-day with nothing new costs a listing and one commit.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.jobs import store_day_job
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.settings import Settings

NIGHTLY_CRON = "30 2 * * *"  # 02:30 in the stores' timezone: after the day's last uploads


def nightly_run_requests(stores: list[str], day: date) -> list[dg.RunRequest]:
    store_days = [StoreDay(day, store) for store in sorted(stores)]
    return [
        dg.RunRequest(
            run_key=f"nightly:{store_day.key}",
            partition_key=store_day.key,
            tags={"rva/store": store_day.store_id, "rva/trigger": "nightly"},
        )
        for store_day in store_days
    ]


@dg.schedule(
    job=store_day_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=Settings.from_env().store_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-runs each store's previous day (one run per store) so late uploads are picked up.",
)
def nightly_store_rerun(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    settings = Settings.from_env()
    tz = ZoneInfo(settings.store_timezone)
    previous_day = context.scheduled_execution_time.astimezone(tz).date() - timedelta(days=1)
    if previous_day < settings.start_date:
        return dg.SkipReason(f"{previous_day} is before the partitions' start date (RVA_START_DATE)")
    stores = context.instance.get_dynamic_partitions(STORES_PARTITIONS_NAME)
    if not stores:
        return dg.SkipReason("no stores registered yet (the sensor adds them when their first video arrives)")
    return nightly_run_requests(list(stores), previous_day)
