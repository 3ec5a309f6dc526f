"""Read Iceberg tables with Iceberg's Java implementation: a batch Flink SQL job on the local
Flink copies each table into JSON lines, which are parsed back by the tables' own types."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyiceberg.table import Table
from pyiceberg.types import (
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    ListType,
    StructType,
    TimestampType,
    TimestamptzType,
)

from retail_assets.secrets_cli import write_private
from retail_assets.stack import EmbeddedStack
from retail_assets.stack.flink_cluster import flink_home


def read_with_java(
    stack: EmbeddedStack, tables: dict[str, tuple[str, int]], out: Path
) -> dict[str, list[dict]]:
    """`{label: ("<catalog>.<namespace>.<table>", snapshot id)}` read by Flink's Iceberg connector
    at that snapshot; catalog `lakehouse` is the stack's SQL catalog (Iceberg's JdbcCatalog on its
    SQLite file), `rest` its Iceberg REST catalog. Rows as JSON objects, one list per label."""
    out.mkdir(parents=True, exist_ok=True)
    env = stack.env()
    s3 = env["AWS_ENDPOINT_URL_S3"]
    statements = [
        "SET 'execution.runtime-mode' = 'batch';",
        "SET 'table.dml-sync' = 'true';",
        "SET 'table.local-time-zone' = 'UTC';",
        f"""CREATE CATALOG lakehouse WITH ('type' = 'iceberg',
          'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog', 'uri' = 'jdbc:sqlite:{stack.catalog_db}',
          'warehouse' = 's3://warehouse/', 'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
          's3.endpoint' = '{s3}', 's3.path-style-access' = 'true');""",
        f"""CREATE CATALOG rest WITH ('type' = 'iceberg', 'catalog-type' = 'rest',
          'uri' = '{env["PYICEBERG_CATALOG__LAKEHOUSE_REST__URI"]}', 'warehouse' = 's3://rva-tables/',
          'credential' = '{env["PYICEBERG_CATALOG__LAKEHOUSE_REST__CREDENTIAL"]}',
          'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO', 's3.endpoint' = '{s3}',
          's3.path-style-access' = 'true');""",
    ]
    for label, (identifier, snapshot_id) in tables.items():
        statements.append(
            f"CREATE TABLE out_{label} WITH ('connector' = 'filesystem', 'path' = '{(out / label).as_uri()}', "
            f"'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601') AS SELECT * FROM {identifier} /*+ OPTIONS('snapshot-id'='{snapshot_id}') */;"
        )
    script = out / "read.sql"
    write_private(script, "\n".join(statements) + "\n")  # it holds the REST catalog's credential
    result = subprocess.run(
        [str(flink_home() / "bin" / "sql-client.sh"), "-f", str(script)],
        env={**os.environ, **env, "FLINK_CONF_DIR": str(stack.flink.conf_dir), "FLINK_LOG_DIR": str(out)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "[ERROR]" not in result.stdout, result.stdout[-3000:]
    return {
        label: [
            json.loads(line)
            for path in sorted((out / label).glob("part-*"))
            for line in path.read_text().splitlines()
        ]
        for label in tables
    }


def as_python(value: Any, kind: IcebergType) -> Any:
    """A value of Flink's JSON output as pyiceberg's Arrow scan gives it to Python."""
    if value is None:
        return None
    if isinstance(kind, (TimestamptzType, TimestampType)):
        parsed = datetime.fromisoformat(value)
        return parsed
    if isinstance(kind, DateType):
        return date.fromisoformat(value)
    if isinstance(kind, (DoubleType, FloatType)):
        return float(value)
    if isinstance(kind, DecimalType):
        return Decimal(str(value))
    if isinstance(kind, ListType):
        return [as_python(v, kind.element_type) for v in value]
    if isinstance(kind, StructType):
        return {f.name: as_python(value.get(f.name), f.field_type) for f in kind.fields}
    return value


def typed_rows(rows: list[dict], table: Table) -> list[dict]:
    fields = table.schema().fields
    return [{f.name: as_python(row.get(f.name), f.field_type) for f in fields} for row in rows]


def comparable(rows: list[dict]) -> list[str]:
    """Rows as sorted canonical strings (timestamps compared as instants)."""

    def canon(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp() if value.tzinfo else value.isoformat()
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return [canon(v) for v in value]
        return value

    return sorted(json.dumps(canon(row), sort_keys=True, default=str) for row in rows)
