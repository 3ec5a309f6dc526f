"""`retail-assets query "SQL"`: DuckDB SQL over the lakehouse tables of the environment.

Every table of the namespace (RVA_NAMESPACE: `bronze_raw`, `silver_tracks`, `gold_footfall_hourly`,
...) is a view under its own name. Only the tables the SQL names are read: each through a pyiceberg
scan (the table's current snapshot) into Arrow, which DuckDB queries in process. A scan reads the
whole table, so on a large bronze table prefer the silver and gold tables, which are small.

Output: an aligned text table (default), `--csv`, or `--json` (one array of row objects).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
from pyiceberg.catalog import Catalog

from retail_assets.errors import InputError
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.settings import Settings


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    tables_read: dict[str, int]  # table -> rows loaded


def lakehouse_tables(catalog: Catalog, namespace: str) -> list[str]:
    """The table names of the namespace (none when it does not exist yet)."""
    if not catalog.namespace_exists(namespace):
        return []
    return sorted(identifier[-1] for identifier in catalog.list_tables(namespace))


def referenced_tables(sql: str, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` (lower-case table names) `sql` reads; InputError if it does not parse."""
    candidates = set(candidates)
    try:
        names = duckdb.get_table_names(sql)
    except duckdb.ParserException as exc:
        raise InputError(f"the SQL does not parse: {exc}") from exc
    except duckdb.Error:
        # DuckDB binds some statements to list their tables (a join with USING); then every
        # candidate named as a word of the SQL is loaded (one too many is harmless).
        words = {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
        return candidates & words
    return candidates & {name.rsplit(".", 1)[-1].strip('"').lower() for name in names}


def run_query(sql: str, catalog: Catalog, namespace: str) -> QueryResult:
    """Run `sql` with the namespace's tables it names registered as views."""
    available = {name.lower(): name for name in lakehouse_tables(catalog, namespace)}
    wanted = referenced_tables(sql, available)
    connection = duckdb.connect()
    loaded: dict[str, int] = {}
    try:
        for name in sorted(wanted):
            arrow = catalog.load_table(f"{namespace}.{available[name]}").scan().to_arrow()
            connection.register(available[name], arrow)
            loaded[available[name]] = arrow.num_rows
        try:
            cursor = connection.execute(sql)
        except duckdb.CatalogException as exc:
            known = ", ".join(sorted(available.values())) or "none yet"
            raise InputError(f"{exc}. Tables of the lakehouse namespace {namespace!r}: {known}") from exc
        except duckdb.Error as exc:
            raise InputError(f"the query failed: {exc}") from exc
        if cursor.description is None:  # a statement without a result (e.g. SET)
            return QueryResult([], [], loaded)
        columns = [column[0] for column in cursor.description]
        return QueryResult(columns, cursor.fetchall(), loaded)
    finally:
        connection.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def format_table(result: QueryResult) -> str:
    """Columns aligned (numbers to the right), a rule under the header, and the row count."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(result.columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(result.columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def format_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([[_cell(v) for v in row] for row in result.rows])
    return buffer.getvalue().rstrip("\n")


def format_json(result: QueryResult) -> str:
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return json.dumps(rows, default=_json_default, indent=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sql", help="DuckDB SQL; the lakehouse tables (bronze_raw, silver_*, gold_*) are views by name"
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV (header row first)")
    form.add_argument("--json", action="store_true", help="print a JSON array of row objects")
    parser.add_argument(
        "--dir",
        default=None,
        help="read the embedded stack in this state directory (default: the environment's settings)",
    )


def run(args: argparse.Namespace) -> int:
    if args.dir is not None:
        from retail_assets.stack import EmbeddedStack

        os.environ.update(EmbeddedStack(args.dir).env())
    settings = Settings.from_env()
    result = run_query(args.sql, open_catalog(settings.catalog_name), settings.namespace)
    if args.csv:
        text = format_csv(result)
    elif args.json:
        text = format_json(result)
    else:
        text = format_table(result)
    sys.stdout.write(text + "\n")
    return 0
