"""infrastructure/flink/render-job.sh: what the compose containers and the local stack both run to
fill in the Flink job's placeholders."""

from __future__ import annotations

import re
import subprocess

from retail_assets_tests.conftest import REPO_ROOT

RENDER = REPO_ROOT / "infrastructure" / "flink" / "render-job.sh"
JOB = REPO_ROOT / "infrastructure" / "flink" / "bronze_ingest.sql"
VALUES = {
    "PULSAR_SERVICE_URL": "pulsar://pulsar:6650",
    # A token may hold characters that sed or bash's pattern replacement would treat specially.
    "PULSAR_AUTH_TOKEN": "eyJ.a&b|c\\d/e",
    "ICEBERG_REST_URI": "http://iceberg-rest:8181",
    "ICEBERG_WAREHOUSE": "s3://warehouse/",
    "S3_ENDPOINT": "http://minio:9000",
}


def _render(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RENDER), str(JOB)], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True
    )


def test_every_placeholder_is_filled_and_values_stay_verbatim() -> None:
    rendered = _render(**VALUES, ICEBERG_CREDENTIAL="id:secret")
    assert rendered.returncode == 0, rendered.stderr
    sql = rendered.stdout
    assert re.search(r"@[A-Z_]+@", sql) is None
    assert "'pulsar.client.authParams' = 'token:eyJ.a&b|c\\d/e'" in sql
    assert "'credential' = 'id:secret'," in sql
    assert "SET 'execution.checkpointing.interval' = '30s';" in sql  # the default


def test_without_a_catalog_credential_the_option_is_left_out() -> None:
    rendered = _render(**VALUES, CHECKPOINT_INTERVAL="5s")
    assert rendered.returncode == 0, rendered.stderr
    assert "'credential'" not in rendered.stdout
    assert "SET 'execution.checkpointing.interval' = '5s';" in rendered.stdout


def test_a_missing_value_is_named_and_nothing_is_printed() -> None:
    values = {k: v for k, v in VALUES.items() if k != "PULSAR_AUTH_TOKEN"}
    rendered = _render(**values)
    assert rendered.returncode != 0 and rendered.stdout == ""
    assert "PULSAR_AUTH_TOKEN is not set" in rendered.stderr
