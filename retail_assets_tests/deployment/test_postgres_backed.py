"""The production configuration exercised for real: Dagster storage and the Iceberg SQL catalog on PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from dagster import DagsterInstance

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.assets.bronze import bronze_raw
from retail_assets.defs.assets.detections import detections
from retail_assets.defs.assets.events import pulsar_events
from retail_assets.defs.assets.videos import raw_videos
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.defs.resources import IcebergCatalogResource
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.stack import EmbeddedStack
from retail_assets_tests.conftest import REPO_ROOT, PostgresServer
from retail_assets_tests.dagster.conftest import fresh_buckets, short_clip, stack_resources

__all__ = ["fresh_buckets", "short_clip"]  # fixtures shared with the Dagster tests

PRODUCTION_DAGSTER_YAML = REPO_ROOT / "infrastructure" / "dagster" / "dagster.yaml"


@pytest.fixture
def production_instance(tmp_path: Path, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch):
    """A DagsterInstance from the production dagster.yaml, pointed at the test PostgreSQL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    for name, value in {
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USERNAME": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_MAX_CONCURRENT_RUNS": "4",
        "RVA_MAX_INFERENCE_RUNS": "2",
        "RVA_INFERENCE_POOL_LIMIT": "3",
        "DAGSTER_HOME": str(home),
    }.items():
        monkeypatch.setenv(name, value)
    # What infrastructure/dagster/entrypoint.sh does in the container.
    (home / "dagster.yaml").write_text(os.path.expandvars(PRODUCTION_DAGSTER_YAML.read_text()))
    instance = DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


def test_production_dagster_yaml_loads_with_postgres_storage(production_instance: DagsterInstance) -> None:
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(production_instance.run_storage, PostgresRunStorage)
    assert isinstance(production_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(production_instance.run_launcher, DockerRunLauncher)
    launcher_config = production_instance.run_launcher.inst_data.config_dict
    assert launcher_config["network"] == "retail-video-analytics_retail-net"
    # Run workers get the settings by name from the daemon's environment, never as literals.
    assert {"AWS_SECRET_ACCESS_KEY", "PULSAR_SERVICE_URL", "PYICEBERG_CATALOG__LAKEHOUSE__URI"} <= set(
        launcher_config["env_vars"]
    )
    assert type(production_instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    concurrency = production_instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 4
    limits = concurrency.run_queue_config.tag_concurrency_limits
    assert {"key": "retail/stage", "value": "inference", "limit": 2} in limits
    assert concurrency.pool_config.default_pool_limit == 3


def test_iceberg_sql_catalog_on_postgres(stack: EmbeddedStack, postgres: PostgresServer) -> None:
    env = stack.env()
    catalog = open_catalog(
        "lakehouse-pg",
        type="sql",
        uri=postgres.dsn("iceberg"),
        warehouse="s3://warehouse/pg/",
        **{
            "s3.endpoint": env["AWS_ENDPOINT_URL_S3"],
            "s3.access-key-id": env["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": env["AWS_SECRET_ACCESS_KEY"],
            "s3.region": "us-east-1",
        },
    )
    catalog.create_namespace_if_not_exists("rva")
    rows = pa.table({"store_id": ["store-001", "store-002", "store-003"]})
    table = catalog.create_table_if_not_exists("rva.pg_round_trip", schema=rows.schema)
    table.append(rows)
    scanned = sorted(catalog.load_table("rva.pg_round_trip").scan().to_arrow()["store_id"].to_pylist())
    assert scanned == ["store-001", "store-002", "store-003"]
    assert "postgresql" in catalog.properties["uri"]


@pytest.mark.timeout(900)
def test_asset_graph_runs_on_postgres_storage_and_postgres_catalog(
    stack: EmbeddedStack,
    s3,
    fresh_buckets,
    unique_topic: str,
    short_clip: Path,
    production_instance: DagsterInstance,
    postgres: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The production configuration: run/event storage and the Iceberg catalog both in PostgreSQL."""
    env = stack.env()
    prefix = "PYICEBERG_CATALOG__LAKEHOUSE_PG__"
    for key, value in {
        "TYPE": "sql",
        "URI": postgres.dsn("iceberg"),
        "WAREHOUSE": "s3://warehouse/pg/",
        "S3__ENDPOINT": env["AWS_ENDPOINT_URL_S3"],
        "S3__ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "S3__SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "S3__REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(prefix + key, value)
    open_catalog("lakehouse-pg").create_namespace_if_not_exists("rva")

    videos_bucket, detections_bucket = fresh_buckets
    store, day = "store-pg01", "2026-11-28"
    s3.upload_file(str(short_clip), videos_bucket, f"{store}/cam-1/{day}/090000.avi")
    production_instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store])
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)
    resources["lakehouse"] = IcebergCatalogResource(catalog_name="lakehouse-pg", namespace="rva")

    result = dg.materialize(
        [raw_videos, detections, pulsar_events, bronze_raw],
        partition_key=f"{day}|{store}",
        instance=production_instance,
        resources=resources,
        run_config={"ops": {DETECTIONS_OP: {"config": {"max_frames": 4}}}},
    )
    assert result.success

    # The run and its materializations are in PostgreSQL.
    stored = production_instance.get_run_by_id(result.run_id)
    assert stored is not None and stored.is_success
    bronze_key = dg.AssetKey(["rva", "bronze_raw"])
    latest = production_instance.get_latest_materialization_event(bronze_key)
    assert latest is not None and latest.run_id == result.run_id

    # Bronze lives in the PostgreSQL-backed catalog and holds exactly the NDJSON lines.
    ndjson_keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=detections_bucket).get("Contents", [])
        if o["Key"].endswith(".ndjson")
    ]  # fmt: skip
    assert len(ndjson_keys) == 1
    lines = s3.get_object(Bucket=detections_bucket, Key=ndjson_keys[0])["Body"].read().splitlines()
    table = open_catalog("lakehouse-pg").load_table(BRONZE_TABLE)
    rows = table.scan(row_filter=partition_filter(StoreDay(date.fromisoformat(day), store))).to_arrow()
    assert lines and rows.num_rows == len(lines)
    assert sorted(rows["event_id"].to_pylist()) == sorted(json.loads(line)["event_id"] for line in lines)
