"""`dagster asset materialize` as a user runs it: a subprocess against the embedded stack."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter
from retail_assets.lakehouse.catalog import open_catalog

STORE = "store-cli01"
DAYS = ("2026-11-27", "2026-11-28")
DAGSTER = str(Path(sys.executable).parent / "dagster")
CONFIG = json.dumps({"ops": {"rva__detections": {"config": {"max_frames": 5}}}})


def _env(stack, dagster_home: Path, videos: str, detections: str, topic: str) -> dict[str, str]:
    return {
        **os.environ,
        **stack.env(),
        "DAGSTER_HOME": str(dagster_home),
        "RVA_VIDEOS_BUCKET": videos,
        "RVA_DETECTIONS_BUCKET": detections,
        "PULSAR_TOPIC": topic,
    }


def _materialize(env: dict[str, str], partition: str) -> subprocess.CompletedProcess:
    argv = f"{DAGSTER} asset materialize -m retail_assets.definitions --select * --partition".split()
    return subprocess.run(
        [*argv, partition, "--config-json", CONFIG],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ndjson_event_ids(s3, bucket: str, day: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{STORE}/").get("Contents", [])
    keys = [o["Key"] for o in listed if o["Key"].endswith(".ndjson") and f"/{day}/" in o["Key"]]
    assert len(keys) == 1, keys
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    return sorted(json.loads(line)["event_id"] for line in body.splitlines())


def _bronze(day: str) -> list[tuple[str, str]]:
    table = open_catalog("lakehouse").load_table(BRONZE_TABLE)
    rows = table.scan(
        row_filter=partition_filter(StoreDay(date.fromisoformat(day), STORE)),
        selected_fields=("event_id", "pulsar_message_id"),
    ).to_arrow()
    return sorted(
        zip(rows.column("event_id").to_pylist(), rows.column("pulsar_message_id").to_pylist(), strict=True)
    )


@pytest.mark.timeout(1200)
def test_cli_backfill_of_a_date_range_for_one_store_then_a_rerun_changes_nothing(
    stack, s3, fresh_buckets, unique_topic, short_clip, tmp_path
) -> None:
    videos, detections = fresh_buckets
    for day in DAYS:
        s3.upload_file(str(short_clip), videos, f"{STORE}/cam-1/{day}/090000.avi")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = _env(stack, dagster_home, videos, detections, unique_topic)
    # The store must exist as a `stores` partition (the sensor adds it; here the instance does).
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])

    # The documented date-range backfill for one store: one command per day of the range.
    for day in DAYS:
        done = _materialize(env, f"{day}|{STORE}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "RUN_SUCCESS" in done.stderr + done.stdout

    first = {}
    for day in DAYS:
        ndjson_ids = _ndjson_event_ids(s3, detections, day)
        rows = _bronze(day)
        assert ndjson_ids and [event_id for event_id, _ in rows] == ndjson_ids
        first[day] = rows

    again = _materialize(env, f"{DAYS[1]}|{STORE}")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "NDJSON is current, skipped" in again.stderr + again.stdout  # no inference
    assert _bronze(DAYS[1]) == first[DAYS[1]]  # same rows, same event ids, same Pulsar messages
    assert _bronze(DAYS[0]) == first[DAYS[0]]
