"""The `lakehouse_maintenance` job and `retail-assets maintain` on the real stack."""

from __future__ import annotations

import uuid
from datetime import date

import dagster as dg
import pyarrow as pa
import pytest

from retail_assets.cli import main
from retail_assets.contracts.store_day import StoreDay
from retail_assets.definitions import defs
from retail_assets.defs.maintenance import WEEKLY_CRON
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource
from retail_assets.lakehouse.bronze import bronze_table_identifier, partition_filter
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.objectstore import iter_objects
from retail_assets_tests.dagster import store_day as sd
from retail_assets_tests.dagster.conftest import stack_resources

SCHEMA = pa.schema([("store_id", pa.string()), ("n", pa.int64())])


def _namespace_with_small_files(files: int = 3) -> str:
    """A namespace of its own with one table of `files` one-row files (so no other table is touched)."""
    namespace = f"maint_{uuid.uuid4().hex[:8]}"
    catalog = open_catalog("lakehouse")
    catalog.create_namespace(namespace)
    table = catalog.create_table(f"{namespace}.events", schema=SCHEMA)
    for i in range(files):
        table.append(pa.table({"store_id": ["s"], "n": [i]}, schema=SCHEMA))
    return namespace


def _resources(stack, namespace: str) -> dict[str, object]:
    env = stack.env()
    store = ObjectStoreResource(
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return {
        "lakehouse": IcebergCatalogResource(catalog_name="lakehouse", namespace=namespace),
        "object_store": store,
        "retention_store": store,
    }


def _metadata(result: dg.ExecuteInProcessResult, op: str) -> dict[str, object]:
    [output] = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == op
    ]
    return {k: v.value for k, v in output.event_specific_data.metadata.items()}


def test_the_weekly_job_compacts_every_table_and_reports_what_it_did(stack, monkeypatch) -> None:
    namespace = _namespace_with_small_files()
    monkeypatch.setenv("RVA_ORPHAN_WINDOW_HOURS", "0")
    monkeypatch.setenv("RVA_SNAPSHOT_RETENTION_DAYS", "0")
    monkeypatch.setenv("RVA_SNAPSHOTS_KEEP_LAST", "1")
    job = defs.get_job_def("lakehouse_maintenance")

    dry = job.execute_in_process(
        resources=_resources(stack, namespace),
        run_config={"ops": {"table_maintenance": {"config": {"dry_run": True}}}},
    )
    assert dry.success
    assert _metadata(dry, "table_maintenance")["data_files_after"] == 3  # nothing changed

    result = job.execute_in_process(resources=_resources(stack, namespace))
    assert result.success
    tables = _metadata(result, "table_maintenance")
    assert tables["tables"] == 1
    assert (tables["data_files_before"], tables["data_files_after"]) == (3, 1)
    assert tables["snapshots_expired"] == 3 and tables["snapshots_after"] == 1
    assert tables["orphan_files_removed"] >= 3  # the replaced files, once their snapshots expired
    assert _metadata(result, "raw_data_retention")["deleted"] == 0  # retention is off unless set
    rows = open_catalog("lakehouse").load_table(f"{namespace}.events").scan().to_arrow()
    assert sorted(rows["n"].to_pylist()) == [0, 1, 2]

    schedule = defs.get_schedule_def("weekly_lakehouse_maintenance")
    assert schedule.cron_schedule == WEEKLY_CRON and schedule.job_name == "lakehouse_maintenance"


def test_maintain_command_reports_per_table_and_dry_run_changes_nothing(stack, monkeypatch, capsys) -> None:
    namespace = _namespace_with_small_files()
    monkeypatch.setenv("RVA_NAMESPACE", namespace)
    assert main(["maintain", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and f"{namespace}.events" in out and "data files 3 -> 3" in out
    assert "retention: off" in out
    assert main(["maintain"]) == 0
    assert "data files 3 -> 1" in capsys.readouterr().out
    monkeypatch.setenv("RVA_SNAPSHOTS_KEEP_LAST", "none")
    assert main(["maintain"]) == 2
    assert "RVA_SNAPSHOTS_KEEP_LAST='none' is not a number" in capsys.readouterr().err


@pytest.mark.timeout(900)
def test_twenty_rematerializations_of_a_store_day_then_the_job(
    stack, s3, fresh_buckets, unique_topic, clips, instance, monkeypatch
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-mt01", date(2026, 7, 1)
    for camera, clip in (("cam-1", "a"), ("cam-2", "b")):
        s3.upload_file(str(clips[clip]), videos_bucket, f"{store}/{camera}/{day}/090000.avi")
    namespace = f"maint_{uuid.uuid4().hex[:8]}"  # the job maintains this namespace's tables only
    resources = {
        **stack_resources(stack, videos_bucket, detections_bucket, unique_topic),
        "lakehouse": IcebergCatalogResource(catalog_name="lakehouse", namespace=namespace),
    }
    instance.add_dynamic_partitions("stores", [store])
    partition = StoreDay(day, store)
    catalog = open_catalog("lakehouse")
    table_id = bronze_table_identifier(namespace)

    def rows() -> pa.Table:
        table = catalog.load_table(table_id)
        return table.scan(row_filter=partition_filter(partition)).to_arrow()

    def files() -> int:
        table = catalog.load_table(table_id)
        return sum(1 for _ in table.scan(row_filter=partition_filter(partition)).plan_files())

    assert sd.run(instance, resources, partition.key).success
    clean_files = files()
    clean = sorted(rows()["payload"].to_pylist())
    assert clean
    for _ in range(19):  # 20 materializations of the store-day in all
        assert sd.run(instance, resources, partition.key).success
    before = rows().sort_by("event_id")
    assert sorted(before["payload"].to_pylist()) == clean
    assert len(catalog.load_table(table_id).snapshots()) >= 20

    monkeypatch.setenv("RVA_SNAPSHOT_RETENTION_DAYS", "0")
    monkeypatch.setenv("RVA_SNAPSHOTS_KEEP_LAST", "2")
    monkeypatch.setenv("RVA_ORPHAN_WINDOW_HOURS", "0")
    job = defs.get_job_def("lakehouse_maintenance")
    result = job.execute_in_process(resources={**_resources(stack, namespace), **resources})
    assert result.success
    report = _metadata(result, "table_maintenance")
    assert report["orphan_files_removed"] > 0 and report["snapshots_expired"] > 0

    table = catalog.load_table(table_id)
    assert rows().sort_by("event_id").equals(before)  # the partition's rows identical
    assert files() <= clean_files  # no more files than one clean write
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    assert len(snapshots) == 2 and snapshots[1].parent_snapshot_id == snapshots[0].snapshot_id
    assert snapshots[1].snapshot_id == table.current_snapshot().snapshot_id
    # No orphan: every object under the table's location is one the table references.
    bucket, _, prefix = table.location().removeprefix("s3://").partition("/")
    on_s3 = {
        f"s3://{bucket}/{o['Key']}"
        for o in iter_objects(s3, bucket, prefix.rstrip("/") + "/")
        if not o["Key"].endswith("/")
    }
    referenced = {table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)}
    referenced |= {s.manifest_list for s in table.snapshots()}
    referenced |= set(table.inspect.all_manifests()["path"].to_pylist())
    referenced |= set(table.inspect.all_files()["file_path"].to_pylist())
    assert on_s3 - referenced == set()

    # Footage retention: the videos go, and a re-run of the store-day keeps the rows built from them
    # (their receipts stay, explained by retention's markers).
    monkeypatch.setenv("RVA_RETAIN_VIDEOS_DAYS", "0")
    env = stack.env()
    deleter = ObjectStoreResource(  # the pipeline's identity only reads videos: the admin deletes them
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        access_key_id=env["RVA_STACK_ADMIN_ACCESS_KEY"],
        secret_access_key=env["RVA_STACK_ADMIN_SECRET_KEY"],
    )
    result = job.execute_in_process(
        resources={**_resources(stack, namespace), **resources, "retention_store": deleter}
    )
    assert result.success
    assert _metadata(result, "raw_data_retention")["deleted"] == 2
    assert not list(iter_objects(s3, videos_bucket, f"{store}/"))
    rerun = sd.run(instance, resources, partition.key)
    assert rerun.success
    assert rows().sort_by("event_id")["payload"].equals(before["payload"])
