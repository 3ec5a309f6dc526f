"""The `lakehouse_maintenance` job and `retail-assets maintain` on the real stack."""

from __future__ import annotations

import uuid

import dagster as dg
import pyarrow as pa

from retail_assets.cli import main
from retail_assets.definitions import defs
from retail_assets.defs.maintenance import WEEKLY_CRON
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource
from retail_assets.lakehouse.catalog import open_catalog

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
