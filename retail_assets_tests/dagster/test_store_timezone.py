"""Stores outside UTC (`RVA_STORE_TIMEZONE`): store-days, start times, events and the nightly run.

`RVA_STORE_TIMEZONE` is read twice, at different moments (retail_assets/partitions.py):
- when the code location loads: the `date` dimension's timezone and the schedule's
  `execution_timezone`. Tests of that start a fresh interpreter with the variable set;
- at call time: parsing video keys (sensor, `raw_videos`) and the schedule's previous day. Tests
  of that set it with `monkeypatch.setenv` in this process, whose partitions stay UTC (dates
  far from today, so the day boundary of the partitions never matters there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from retail_assets.definitions import defs
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.dagster import store_day as sd
from retail_assets_tests.dagster.conftest import stack_resources


@pytest.mark.timeout(600)
def test_a_late_evening_video_is_the_next_utc_day_and_stays_in_its_store_day(
    stack, s3, fresh_buckets, unique_topic, clips, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RVA_STORE_TIMEZONE", "America/New_York")
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-tz01", date(2026, 6, 1)
    key = f"{store}/cam-1/{day}/230000.avi"  # 23:00 in New York (EDT, UTC-4) = 03:00 UTC the next day
    s3.upload_file(str(clips["a"]), videos_bucket, key)
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)

    [request] = sd.tick(instance, resources, None).run_requests
    assert request.partition_key == f"{day}|{store}"  # the store's day, not the UTC one

    run = sd.run(instance, resources, request.partition_key, request.run_config, request.tags)
    assert run.success
    [entry] = run.output_for_node("rva__raw_videos").entries
    assert entry.video.start_time.isoformat() == "2026-06-02T03:00:00+00:00"
    lines = [
        json.loads(line) for line in sd.ndjson(s3, sd.metadata(run, "detections")["ndjson_objects"][key])
    ]
    assert lines
    start = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    for event in lines:
        assert datetime.fromisoformat(event["ts"]) == start + timedelta(milliseconds=event["pts_ms"]), event
        # a few frames at 10 fps: all within the video's first second, 03:00 UTC on June 2
        assert event["ts"].startswith("2026-06-02T03:00:00."), event

    rows = sd.bronze(store, day)  # the store-day's partition holds them ...
    assert len(rows) == len(lines)
    assert {r["event_date"] for r in rows} == {day}  # ... under the store's date
    assert sorted(r["event_ts"] for r in rows) == sorted(datetime.fromisoformat(e["ts"]) for e in lines)
    assert sd.bronze(store, day + timedelta(days=1)) == []


@pytest.mark.parametrize(
    "scheduled",
    [
        datetime(2026, 11, 29, 2, 30, tzinfo=ZoneInfo("Asia/Tokyo")),
        datetime(2026, 11, 28, 17, 30, tzinfo=UTC),  # the same instant as Dagster may pass it
    ],
)
def test_nightly_rerun_in_a_store_timezone_requests_the_stores_previous_day(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, scheduled: datetime
) -> None:
    # 02:30 on Nov 29 in Tokyo is still Nov 28 in UTC: the previous store-day is Nov 28, not 27.
    monkeypatch.setenv("RVA_STORE_TIMEZONE", "Asia/Tokyo")
    instance.add_dynamic_partitions("stores", ["store-002", "store-001"])
    schedule = defs.get_schedule_def("nightly_store_rerun")
    requests = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=scheduled))
    assert [r.partition_key for r in requests] == ["2026-11-28|store-001", "2026-11-28|store-002"]
    assert [r.run_key for r in requests] == ["nightly:2026-11-28|store-001", "nightly:2026-11-28|store-002"]


_LOAD_CODE_LOCATION = """
import json
from datetime import UTC, datetime

import dagster as dg

from retail_assets.definitions import defs

dates = defs.get_job_def("store_day_job").partitions_def.get_partitions_def_for_dimension("date")
last = {}
for instant in ("2026-06-02T02:00:00", "2026-06-02T04:00:00"):
    with dg.partition_loading_context(effective_dt=datetime.fromisoformat(instant).replace(tzinfo=UTC)):
        last[instant] = dates.get_last_partition_key()
schedule = defs.get_schedule_def("nightly_store_rerun")
print(json.dumps({"date_tz": dates.timezone, "schedule_tz": schedule.execution_timezone,
                  "cron": schedule.cron_schedule, "last": last}))
"""


def test_the_code_location_loads_its_days_and_schedule_in_the_store_timezone() -> None:
    env = {
        **os.environ,
        "RVA_STORE_TIMEZONE": "America/New_York",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_CODE_LOCATION], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["date_tz"] == "America/New_York"
    assert loaded["schedule_tz"] == "America/New_York" and loaded["cron"] == "30 2 * * *"
    # 02:00 UTC on June 2 is 22:00 on June 1 in New York: June 2 is not a store-day yet.
    assert loaded["last"] == {"2026-06-02T02:00:00": "2026-06-01", "2026-06-02T04:00:00": "2026-06-02"}
