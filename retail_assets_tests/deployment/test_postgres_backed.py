"""The production configuration exercised for real: Dagster storage and the Iceberg SQL catalog on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import DagsterInstance

from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.stack import EmbeddedStack
from retail_assets_tests.conftest import REPO_ROOT, PostgresServer

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
