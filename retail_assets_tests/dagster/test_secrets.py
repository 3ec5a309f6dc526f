"""No secret reaches the event log, the run's configuration, metadata or the errors a run raises.

A succeeding and a failing materialization of the code location's own assets and resources
(`resources_from_env`: every secret bound with dg.EnvVar) on the real stack. The secrets are
recognisable values: the session stack's S3 secret keys (admin and pipeline, new for every test
run), the stack's Pulsar pipeline token (the broker checks it) and the password of a PostgreSQL catalog DSN. The failure is real: the
catalog URI points at a port where no PostgreSQL listens, so bronze_raw fails opening it.
"""

from __future__ import annotations

import traceback

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from retail_assets.defs.assets import STORE_DAY_ASSETS
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.defs.resources import PulsarResource, resources_from_env
from retail_assets_tests.conftest import STACK_CREDENTIALS

STORE = "store-sec01"
PARTITION = f"2026-11-28|{STORE}"
KEY = f"{STORE}/cam-1/2026-11-28/090000.avi"
PG_PASSWORD = "pg-password-Wm42kLp8"


def _secrets(pulsar_token: str) -> list[str]:
    return [
        STACK_CREDENTIALS["RVA_STACK_SECRET_KEY"],
        STACK_CREDENTIALS["RVA_STACK_PIPELINE_SECRET_KEY"],
        pulsar_token,
        PG_PASSWORD,
    ]


def _materialize(instance: dg.DagsterInstance, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        STORE_DAY_ASSETS,
        partition_key=PARTITION,
        instance=instance,
        resources=resources_from_env(),
        run_config={"ops": {DETECTIONS_OP: {"config": {"max_frames": 3}}}},
        raise_on_error=raise_on_error,
    )


def _recorded(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything the instance keeps about a run: event log, run (config, tags), job snapshots."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    parts = [serialize_value(record) for record in instance.all_logs(run_id)]
    parts.append(serialize_value(run))
    parts.append(serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
    parts.append(serialize_value(instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)))
    return "\n".join(parts)


@pytest.mark.timeout(600)
def test_no_secret_in_logs_config_metadata_or_errors_of_a_good_and_a_failing_run(
    stack, s3, fresh_buckets, unique_topic, short_clip, instance, monkeypatch
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    s3.upload_file(str(short_clip), videos_bucket, KEY)
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])
    monkeypatch.setenv("RVA_VIDEOS_BUCKET", videos_bucket)
    monkeypatch.setenv("RVA_DETECTIONS_BUCKET", detections_bucket)
    monkeypatch.setenv("PULSAR_TOPIC", unique_topic)
    token = stack.env()["PULSAR_AUTH_TOKEN"]
    monkeypatch.setenv("PULSAR_AUTH_TOKEN", token)
    monkeypatch.setenv("RVA_REQUIRE_PULSAR_AUTH", "true")
    # The token is bound by name, not by value: what Dagster stores is the variable's name.
    pulsar = resources_from_env()["pulsar"]
    assert isinstance(pulsar, PulsarResource) and isinstance(pulsar.auth_token, dg.EnvVar)

    good = _materialize(instance)
    assert good.success
    metadata = [m.materialization.metadata for m in good.get_asset_materialization_events()]
    assert len(metadata) == sum(len(asset.keys) for asset in STORE_DAY_ASSETS)  # bronze, silver, gold ...
    recorded = _recorded(instance, good.run_id) + repr(metadata)
    for secret in _secrets(token):
        assert secret not in recorded

    # The failing run: the SQL catalog's DSN carries a password and reaches no server.
    monkeypatch.setenv(
        "PYICEBERG_CATALOG__LAKEHOUSE__URI", f"postgresql+psycopg2://rva:{PG_PASSWORD}@127.0.0.1:9/iceberg"
    )
    with pytest.raises(Exception) as failed:
        _materialize(instance)
    raised = "".join(traceback.format_exception(failed.value))
    assert "is unreachable" in raised and "rva:***@127.0.0.1:9" in raised
    [failed_run] = [r for r in instance.get_runs() if r.run_id != good.run_id]
    recorded = _recorded(instance, failed_run.run_id)
    assert "STEP_FAILURE" in recorded and "rva:***@127.0.0.1:9" in recorded
    for secret in _secrets(token):
        assert secret not in raised
        assert secret not in recorded
