"""How every store-day table of the lakehouse is created and written: one commit per write.

Shared by bronze (`bronze.py`) and the analytics tables (`analytics.py`):
- `ensure_table` creates a table (and its namespace) with its schema, store-day partition spec and
  properties, or checks an existing one has the columns and sets the properties it lacks;
- `replace_scope` replaces the rows of a scope of one store-day (some videos, or the whole
  partition) with new rows in ONE Iceberg commit: the delete of the old rows and every data file
  of the new ones are committed together, so a reader sees either the old scope or the complete
  new one, and a crash before the commit changes nothing (it leaves unreferenced files at most);
- each write expires all but the newest snapshots (table property `rva.snapshots-kept`).

Data files never mix videos: the caller yields one Arrow table per video (or batch of one video)
and each is written to files of its own; with `video_key` kept at full bounds in the file metadata,
replacing a video's rows drops whole files, a metadata operation that reads no other video's data.

pyiceberg (0.12) retries a rejected commit by re-basing the transaction's snapshots on the new
table state. A re-based partition delete does not see rows that a concurrent writer of the same
scope just committed, which would leave both writers' rows. Commit retries are therefore off in
the table properties and a rejected write is redone from scratch on the refreshed table.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import AlwaysFalse, And, BooleanExpression, EqualTo, In

# pyiceberg's own file writer (what `Transaction.append` calls): used directly so that one append
# snapshot can hold many per-video files; `append` once per video would add a snapshot per video.
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ExpireSnapshots
from pyiceberg.transforms import IdentityTransform

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import RetailAssetsError, SetupError

# Snapshot summary properties naming the write (readable with `table.snapshots()`).
SNAPSHOT_RUN_ID = "rva.dagster_run_id"
SNAPSHOT_PARTITION = "rva.partition"
SNAPSHOTS_KEPT_PROPERTY = "rva.snapshots-kept"
DEFAULT_SNAPSHOTS_KEPT = 32
# The partition columns of every store-day table (identity transforms: pyiceberg's dynamic
# partition overwrite rejects day transforms).
PARTITION_COLUMNS = ("store_id", "event_date")
STORE_DAY_TABLE_PROPERTIES = {
    "commit.retry.num-retries": "0",
    # Every write adds a manifest; merged once a few pile up, planning a write (which reads every
    # manifest of the partition) stays cheap however many writes the day already had.
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "8",
}
# Iceberg truncates string bounds to 16 characters by default, which would make every file of a
# camera a candidate for a video's delete; full bounds name the one video in each file.
PER_VIDEO_TABLE_PROPERTIES = {"write.metadata.metrics.column.video_key": "full"}
# Set when missing, and then the operator's to change (`ALTER TABLE ... SET TBLPROPERTIES`, or
# pyiceberg's `set_properties`). pyiceberg copies the whole table metadata several times per
# commit, so a commit's cost grows with the snapshots kept: each write expires all but the newest
# ones (metadata only: no file is deleted and a reader of an expired snapshot still reads; removing
# files no snapshot references is the maintenance job's work).
STORE_DAY_TABLE_DEFAULTS = {SNAPSHOTS_KEPT_PROPERTY: str(DEFAULT_SNAPSHOTS_KEPT)}


class LakehouseWriteError(RetailAssetsError):
    """A table's scope could not be written; the table still shows its previous rows."""


@dataclass(frozen=True)
class TableLayout:
    """What a store-day table is: its columns, partitioning and the properties its writes rely on."""

    kind: str  # names the table in messages: "bronze", "silver tracks", ...
    schema: Schema
    partition_spec: PartitionSpec
    properties: Mapping[str, str] = field(default_factory=lambda: dict(STORE_DAY_TABLE_PROPERTIES))
    defaults: Mapping[str, str] = field(default_factory=lambda: dict(STORE_DAY_TABLE_DEFAULTS))


def store_day_partition_spec(schema: Schema) -> PartitionSpec:
    """identity(store_id), identity(event_date), bound to `schema`'s field ids."""
    return PartitionSpec(
        *[
            PartitionField(
                source_id=schema.find_field(name).field_id,
                field_id=1000 + i,
                transform=IdentityTransform(),
                name=name,
            )
            for i, name in enumerate(PARTITION_COLUMNS)
        ]
    )


def iceberg_schema(arrow_schema: pa.Schema) -> Schema:
    """The Iceberg schema of an Arrow schema (field ids assigned in order, nested ones included)."""
    converted = Catalog._convert_schema_if_needed(arrow_schema)
    return assign_fresh_schema_ids(converted)


def store_day_layout(kind: str, arrow_schema: pa.Schema, *, per_video: bool) -> TableLayout:
    """The layout of a store-day table with `arrow_schema`'s columns; `per_video` tables keep
    `video_key` at full bounds, so one video's rows can be replaced by dropping its files."""
    schema = iceberg_schema(arrow_schema)
    missing = [name for name in PARTITION_COLUMNS if name not in arrow_schema.names]
    if per_video and "video_key" not in arrow_schema.names:
        missing.append("video_key")
    if missing:
        raise ValueError(f"the {kind} schema lacks column(s) {', '.join(missing)}")
    properties = dict(STORE_DAY_TABLE_PROPERTIES)
    if per_video:
        properties.update(PER_VIDEO_TABLE_PROPERTIES)
    return TableLayout(kind, schema, store_day_partition_spec(schema), properties)


def ensure_table(catalog: Catalog, identifier: str, layout: TableLayout) -> Table:
    """Load the table, creating its namespace and the table when missing; the layout's properties
    are set where they differ, its defaults where missing."""
    namespace = identifier.rsplit(".", 1)[0]
    with contextlib.suppress(NamespaceAlreadyExistsError):
        if not catalog.namespace_exists(namespace):
            catalog.create_namespace(namespace)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = catalog.create_table(
                identifier, schema=layout.schema, partition_spec=layout.partition_spec
            )
        except TableAlreadyExistsError:  # another writer created it a moment ago
            table = catalog.load_table(identifier)
    missing = [name for name in layout.schema.column_names if name not in table.schema().column_names]
    if missing:
        raise SetupError(
            f"Iceberg table {identifier} exists but lacks {layout.kind} column(s) {', '.join(missing)}"
        )
    wanted = {
        **{k: v for k, v in layout.defaults.items() if k not in table.properties},
        **{k: v for k, v in layout.properties.items() if table.properties.get(k) != v},
    }
    if wanted:
        with contextlib.suppress(CommitFailedException):  # another writer set them at the same moment
            table.transaction().set_properties(wanted).commit_transaction()
        table = catalog.load_table(identifier)
    return table


def partition_filter(store_day: StoreDay) -> BooleanExpression:
    return And(EqualTo("store_id", store_day.store_id), EqualTo("event_date", store_day.day))


def videos_filter(store_day: StoreDay, video_keys: Iterable[str]) -> BooleanExpression:
    """The rows of these videos in the store-day's partition."""
    keys = sorted(set(video_keys))
    if not keys:
        return AlwaysFalse()
    return And(partition_filter(store_day), In("video_key", keys))


def scope_filter(store_day: StoreDay, scope: Iterable[str] | None) -> BooleanExpression:
    """The whole store-day (`scope` None) or the rows of the scope's videos."""
    return partition_filter(store_day) if scope is None else videos_filter(store_day, scope)


def split_by_video(rows: pa.Table, column: str = "video_key") -> list[pa.Table]:
    """`rows` as one table per video (sorted by key), so no data file mixes videos."""
    if rows.num_rows == 0:
        return []
    keys = sorted(pc.unique(rows[column]).to_pylist())
    return [rows.filter(pc.equal(rows[column], key)) for key in keys]


@dataclass(frozen=True)
class ScopeCommit:
    """What one `replace_scope` committed."""

    table: str
    store_day: StoreDay
    scope: tuple[str, ...] | None  # the videos whose rows were replaced; None = the whole store-day
    rows: int  # rows written
    rows_replaced: int  # rows the commit removed (the previous rows of the same scope)
    snapshot_id: int | None
    data_files: list[str]  # the files this write added: they hold the scope's rows
    commit_attempts: int = 1


RowSource = Callable[[], Iterable[pa.Table]]


def replace_scope(
    catalog: Catalog,
    identifier: str,
    layout: TableLayout,
    rows: RowSource,
    *,
    store_day: StoreDay,
    scope: Iterable[str] | None,
    run_id: str,
    commit_attempts: int = 5,
    backoff_s: float = 0.5,
    on_batch: Callable[[int], None] | None = None,
    error_type: type[LakehouseWriteError] = LakehouseWriteError,
) -> ScopeCommit:
    """Replace the scope's rows of one store-day (`scope` None: the whole partition; else the rows
    of those videos) with the tables `rows()` yields, in one commit.

    `rows` is called once per attempt and each table it yields is written to data files of its own
    (yield one video per table). A concurrent commit (another partition written at the same time)
    makes the catalog reject ours; the write is then redone on the refreshed table, up to
    `commit_attempts` times with growing, jittered pauses, before an `error_type`. `on_batch(rows)`
    is called after each table is written to storage (rows written so far), for progress reporting.
    """
    scope_keys = None if scope is None else tuple(sorted(set(scope)))
    what = f"{layout.kind} partition {store_day.key} of {identifier}"
    last_error: Exception | None = None
    for attempt in range(1, commit_attempts + 1):
        table = ensure_table(catalog, identifier, layout)
        try:
            return _replace_once(table, identifier, rows, store_day, scope_keys, run_id, attempt, on_batch)
        except CommitFailedException as exc:
            last_error = exc
            if attempt < commit_attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1) * (1 + random.random()))
        except OSError as exc:  # pyarrow's S3 file system after its own retries
            raise error_type(
                f"{what}: writing to the object store failed ({exc}); nothing was committed, so the "
                "table still shows the previous rows (data files already written are left "
                "unreferenced). Check that the object store is up and run again."
            ) from exc
    raise error_type(
        f"{what}: {commit_attempts} commits were rejected because other writers committed first "
        f"(last: {last_error}); nothing was changed, run again"
    ) from last_error


def _replace_once(
    table: Table,
    identifier: str,
    rows: RowSource,
    store_day: StoreDay,
    scope: tuple[str, ...] | None,
    run_id: str,
    attempt: int,
    on_batch: Callable[[int], None] | None,
) -> ScopeCommit:
    properties = {SNAPSHOT_RUN_ID: run_id, SNAPSHOT_PARTITION: store_day.key}
    before = {snapshot.snapshot_id for snapshot in table.snapshots()}
    txn = table.transaction()
    expire_old_snapshots(txn, table)
    # The delete plans the files to drop once (a first write of the scope finds none, and adds no
    # snapshot; pyiceberg's warning about it is noise here). If another writer adds rows
    # meanwhile, our commit is rejected (the table moved) and redone.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        txn.delete(scope_filter(store_day, scope), snapshot_properties=properties)
    files_written = itertools.count(0)
    files: list[str] = []
    written = 0
    # The source is closed when the write fails part-way (it may hold a reader thread).
    # merge_append keeps the manifest count small (table properties), so planning the next write
    # reads a few manifests, not one per earlier commit.
    with (
        contextlib.closing(_as_generator(rows())) as tables,
        txn.update_snapshot(snapshot_properties=properties).merge_append() as append,
    ):
        for batch in tables:
            if batch.num_rows == 0:
                continue
            # One call per table: its files hold that table's rows (one video's) only. The table's
            # metadata as loaded serves: the delete changes no schema, spec or property.
            for data_file in _dataframe_to_data_files(
                table_metadata=table.metadata,
                df=batch,
                io=table.io,
                write_uuid=append.commit_uuid,
                counter=files_written,
            ):
                append.append_data_file(data_file)
                files.append(data_file.file_path)
            written += batch.num_rows
            if on_batch is not None:
                on_batch(written)
    committed = txn.commit_transaction()
    snapshot = committed.current_snapshot()
    ours = [s for s in committed.snapshots() if s.snapshot_id not in before]
    return ScopeCommit(
        table=identifier,
        store_day=store_day,
        scope=scope,
        rows=written,
        rows_replaced=sum(_summary_int(s, "deleted-records") for s in ours),
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        data_files=sorted(files),
        commit_attempts=attempt,
    )


def _as_generator(items: Iterable[Any]):
    yield from items


def expire_old_snapshots(txn: Transaction, table: Table) -> None:
    """Stage the expiry of all but the newest snapshots (the table's `rva.snapshots-kept`)."""
    kept = int(table.properties.get(SNAPSHOTS_KEPT_PROPERTY, DEFAULT_SNAPSHOTS_KEPT))
    history = sorted(table.snapshots(), key=lambda snapshot: snapshot.timestamp_ms)
    current = table.current_snapshot()
    old = [
        snapshot.snapshot_id
        for snapshot in history[: max(len(history) - kept, 0)]
        if current is None or snapshot.snapshot_id != current.snapshot_id
    ]
    if old:
        ExpireSnapshots(txn).by_ids(old).commit()


def _summary_int(snapshot: Snapshot, name: str) -> int:
    return int((snapshot.summary and snapshot.summary.get(name)) or 0)
