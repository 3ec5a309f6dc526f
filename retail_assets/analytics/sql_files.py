"""The SQL files of `retail_assets/analytics/sql/` and running them on an in-process DuckDB."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa


@cache
def sql_text(name: str) -> str:
    return resources.files("retail_assets.analytics").joinpath("sql", name).read_text(encoding="utf-8")


def statements(name: str) -> list[str]:
    """The file's statements (separated by a `;` that ends a line)."""
    code = "\n".join(line for line in sql_text(name).splitlines() if not line.lstrip().startswith("--"))
    parts = [part.strip().rstrip(";") for part in code.split(";\n")]
    return [part for part in parts if part]


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB whose TIMESTAMPTZ values come out as UTC."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _used(statement: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", statement)}
    return used or None


def run_file(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None) -> None:
    """Run every statement of the file; each gets the parameters it names (`$name`)."""
    for statement in statements(name):
        con.execute(statement, _used(statement, params))


def fetch(
    con: duckdb.DuckDBPyConnection, query: str, schema: pa.Schema, params: dict[str, Any] | None = None
) -> pa.Table:
    """The query's rows as an Arrow table cast to `schema` (names and order must match)."""
    code = "\n".join(line for line in query.splitlines() if not line.lstrip().startswith("--"))
    table = con.sql(code, params=_used(code, params)).to_arrow_table()
    if table.column_names != schema.names:
        raise AssertionError(f"query columns {table.column_names} != schema {schema.names}")
    return table.cast(schema)
