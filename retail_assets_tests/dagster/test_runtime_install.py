"""A store-day materialization on a runtime install: no torch, ultralytics or nncf in any process."""

from __future__ import annotations

import dagster as dg
import pytest

from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets_tests.conftest import ExportedCache
from retail_assets_tests.dagster.test_cli import STORE, _bronze, _env, _materialize, _ndjson_event_ids
from retail_assets_tests.without_export_extra import runtime_install

DAY = "2026-11-30"


@pytest.mark.timeout(1200)
def test_a_store_day_materializes_from_exported_models_without_the_export_extra(
    stack, s3, fresh_buckets, unique_topic, short_clip, exported_model_cache: ExportedCache, tmp_path
) -> None:
    videos, detections = fresh_buckets
    s3.upload_file(str(short_clip), videos, f"{STORE}/cam-1/{DAY}/090000.avi")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])
    runtime = runtime_install(
        tmp_path, exported_model_cache.directory, _env(stack, dagster_home, videos, detections, unique_topic)
    )

    # `dagster asset materialize` runs each step in a process of its own: the hook is in all of them.
    done = _materialize(runtime.env, f"{DAY}|{STORE}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr + done.stdout

    ndjson_ids = _ndjson_event_ids(s3, detections, DAY)
    assert ndjson_ids and [event_id for event_id, _ in _bronze(DAY)] == ndjson_ids
    assert runtime.attempts() == ""
