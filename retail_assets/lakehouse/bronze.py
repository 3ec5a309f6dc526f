"""The bronze table `rva.bronze_raw`: detection events exactly as Pulsar carried them.

Two writes, both from publish receipts and both ONE Iceberg commit:
- `write_bronze_videos` replaces the rows of exactly the receipts' videos and leaves the rest of
  the store-day untouched: the work of a new video does not grow with the videos already in its
  day (what a sensor run does);
- `write_bronze_partition` rebuilds the whole store-day (nightly re-runs, backfills).
Each reads the receipts' messages back from Pulsar, parses `event_id`, `store_id`, `camera_id`
and `ts` out of each payload and drops repeated event ids. Until the commit nothing of the
write is visible, so a crash leaves the previous rows intact (and at most unreferenced data
files behind).

Data files never mix videos: each video's rows go to files of their own, and `video_key` keeps
exact (untruncated) bounds in the file metadata. Replacing a video's rows therefore drops whole
files, a metadata operation that reads no other video's data.

Memory is bounded by `batch_size`: messages are turned into Arrow batches of that size and
each batch is appended to the same open transaction (its Parquet files are written at once).
A background thread reads the next batch from Pulsar while the current one is written, so at
most about three batches are held at a time. The delete of the old rows and all appends are
committed together: readers see either the old partition or the complete new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pulsar
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DateType, NestedField, StringType, TimestamptzType

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.lakehouse.writes import (
    DEFAULT_SNAPSHOTS_KEPT,
    PER_VIDEO_TABLE_PROPERTIES,
    SNAPSHOT_PARTITION,
    SNAPSHOT_RUN_ID,
    SNAPSHOTS_KEPT_PROPERTY,
    STORE_DAY_TABLE_DEFAULTS,
    STORE_DAY_TABLE_PROPERTIES,
    LakehouseWriteError,
    TableLayout,
    ensure_table,
    partition_filter,
    replace_scope,
    videos_filter,
)
from retail_assets.prefetch import prefetched
from retail_assets.settings import DEFAULT_NAMESPACE
from retail_assets.streaming.reader import MessageColumns, read_receipt_columns
from retail_assets.streaming.receipts import PublishReceipt
from retail_assets.streaming.validation import all_present, parse_utc_timestamps, read_json_fields

BRONZE_TABLE_NAME = "bronze_raw"


def bronze_table_identifier(namespace: str = DEFAULT_NAMESPACE) -> str:
    """`<namespace>.bronze_raw`: the namespace comes from RVA_NAMESPACE (`Settings.namespace`)."""
    return f"{namespace}.{BRONZE_TABLE_NAME}"


BRONZE_TABLE = bronze_table_identifier()
__all__ = [
    "DEFAULT_SNAPSHOTS_KEPT",
    "SNAPSHOTS_KEPT_PROPERTY",
    "SNAPSHOT_PARTITION",
    "SNAPSHOT_RUN_ID",
    "partition_filter",
    "videos_filter",
]

_COLUMNS: list[tuple[str, object, str]] = [
    ("event_id", StringType(), "event id from the payload (deterministic, unique per partition)"),
    ("store_id", StringType(), "store from the payload; partition column"),
    ("camera_id", StringType(), "camera from the payload"),
    ("event_ts", TimestamptzType(), "the event's true UTC time (`ts` of the payload)"),
    ("event_date", DateType(), "store-day of the Dagster partition; partition column"),
    ("payload", StringType(), "the NDJSON line exactly as received from Pulsar"),
    ("pulsar_message_id", StringType(), "hex of the Pulsar MessageId (MessageId.deserialize reads it)"),
    ("pulsar_publish_ts", TimestamptzType(), "broker publish time"),
    ("producer_name", StringType(), "producer of the publish attempt that the receipt names"),
    ("video_key", StringType(), "video the event was detected in"),
    ("ingested_at", TimestamptzType(), "when this bronze write started"),
    ("dagster_run_id", StringType(), "run that wrote the partition"),
    ("source_partition", StringType(), "Dagster partition key <YYYY-MM-DD>|<store_id>"),
]
BRONZE_SCHEMA = Schema(
    *[
        NestedField(field_id=i, name=name, field_type=kind, required=True, doc=doc)  # type: ignore[arg-type]
        for i, (name, kind, doc) in enumerate(_COLUMNS, start=1)
    ]
)
BRONZE_PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="store_id"),
    PartitionField(source_id=5, field_id=1001, transform=IdentityTransform(), name="event_date"),
)
# Commit retries off, full `video_key` bounds, manifest merging (see `writes.py` for why).
BRONZE_TABLE_PROPERTIES = {**STORE_DAY_TABLE_PROPERTIES, **PER_VIDEO_TABLE_PROPERTIES}
BRONZE_TABLE_DEFAULTS = dict(STORE_DAY_TABLE_DEFAULTS)
BRONZE_LAYOUT = TableLayout(
    "bronze", BRONZE_SCHEMA, BRONZE_PARTITION_SPEC, BRONZE_TABLE_PROPERTIES, BRONZE_TABLE_DEFAULTS
)
_TS = pa.timestamp("us", tz="UTC")
# The Arrow type each Iceberg type of the bronze schema is written as (plain `string`, where
# pyiceberg's own conversion would give `large_string`).
_ARROW_TYPES: dict[type, pa.DataType] = {StringType: pa.string(), TimestamptzType: _TS, DateType: pa.date32()}
ARROW_SCHEMA = pa.schema(
    [
        pa.field(column.name, _ARROW_TYPES[type(column.field_type)], nullable=not column.required)
        for column in BRONZE_SCHEMA.fields
    ]
)
_PAYLOAD_FIELDS = pa.schema(
    [("event_id", pa.string()), ("store_id", pa.string()), ("camera_id", pa.string()), ("ts", pa.string())]
)


class BronzeWriteError(LakehouseWriteError):
    """A bronze partition could not be written; the table still shows its previous rows."""


@dataclass(frozen=True)
class BronzeCommit:
    table: str
    store_day: StoreDay
    videos: tuple[str, ...] | None  # the videos whose rows were replaced; None = the whole store-day
    rows: int  # rows written
    rows_replaced: int  # rows the commit removed (the previous rows of the same scope)
    duplicates_dropped: int
    snapshot_id: int | None
    data_files: list[str]  # the files this write added: they hold the scope's rows
    receipts: int = 0
    messages_read: int = 0
    commit_attempts: int = 1


def ensure_bronze_table(catalog: Catalog, identifier: str = BRONZE_TABLE) -> Table:
    """Load the bronze table, creating its namespace and the table when missing."""
    return ensure_table(catalog, identifier, BRONZE_LAYOUT)


def read_bronze(
    catalog: Catalog,
    store_day: StoreDay,
    *,
    identifier: str = BRONZE_TABLE,
    videos: Iterable[str] | None = None,
    columns: tuple[str, ...] = ("event_id", "video_key", "payload"),
) -> pa.Table:
    """The store-day's bronze rows (of some videos only, when given), these columns only; a video's
    files are found from the `video_key` bounds, so reading a few videos reads no other's data."""
    table = ensure_bronze_table(catalog, identifier)
    row_filter = partition_filter(store_day) if videos is None else videos_filter(store_day, videos)
    rows = table.scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    return rows.select(list(columns)).cast(pa.schema([ARROW_SCHEMA.field(name) for name in columns]))


def write_bronze_videos(
    catalog: Catalog,
    client: pulsar.Client,
    receipts: list[PublishReceipt],
    *,
    store_day: StoreDay,
    run_id: str,
    video_keys: Iterable[str] = (),
    **options: Any,
) -> BronzeCommit:
    """Replace the rows of exactly the receipts' videos (and of `video_keys`, which may have no
    receipt any more: their rows go) with the receipts' messages, in one commit. Rows of other
    videos of the store-day stay as they are. Options as `write_bronze_partition`."""
    scope = tuple(sorted({r.video_key for r in receipts} | set(video_keys)))
    return _write(catalog, client, receipts, store_day, run_id, scope, **options)


def write_bronze_partition(
    catalog: Catalog,
    client: pulsar.Client,
    receipts: list[PublishReceipt],
    *,
    store_day: StoreDay,
    run_id: str,
    **options: Any,
) -> BronzeCommit:
    """Replace one store-day's bronze rows with exactly the receipts' messages, in one commit.

    Options (shared with `write_bronze_videos`): `identifier` (the table, default
    `rva.bronze_raw`), `batch_size` (rows per Arrow batch, default 50,000), `commit_attempts`
    (default 5) and `backoff_s` (default 0.5): a concurrent commit (another partition written at
    the same time) makes the catalog reject ours; the write is then redone on the refreshed table,
    up to `commit_attempts` times with growing, jittered pauses, before a BronzeWriteError.
    `on_batch(rows)` is called after each batch is written to storage (rows written so far), for
    progress reporting.
    """
    return _write(catalog, client, receipts, store_day, run_id, None, **options)


def _write(
    catalog: Catalog,
    client: pulsar.Client,
    receipts: list[PublishReceipt],
    store_day: StoreDay,
    run_id: str,
    scope: tuple[str, ...] | None,
    *,
    batch_size: int = 50_000,
    identifier: str = BRONZE_TABLE,
    commit_attempts: int = 5,
    backoff_s: float = 0.5,
    on_batch: Callable[[int], None] | None = None,
) -> BronzeCommit:
    for receipt in receipts:
        if receipt.store_day != store_day:
            raise InputError(
                f"receipt of {receipt.video_key} belongs to partition {receipt.store_day.key!r}, "
                f"not {store_day.key!r}"
            )
    source = _ReceiptRows(client, receipts, store_day, run_id, batch_size)
    commit = replace_scope(
        catalog,
        identifier,
        BRONZE_LAYOUT,
        source,
        store_day=store_day,
        scope=scope,
        run_id=run_id,
        commit_attempts=commit_attempts,
        backoff_s=backoff_s,
        on_batch=on_batch,
        error_type=BronzeWriteError,
    )
    batches = source.last
    assert batches is not None  # replace_scope read the source before committing
    return BronzeCommit(
        table=identifier,
        store_day=store_day,
        videos=scope,
        rows=commit.rows,
        rows_replaced=commit.rows_replaced,
        duplicates_dropped=batches.duplicates,
        snapshot_id=commit.snapshot_id,
        data_files=commit.data_files,
        receipts=len(receipts),
        messages_read=batches.messages,
        commit_attempts=commit.commit_attempts,
    )


@dataclass
class _ReceiptRows:
    """The bronze rows of the receipts' messages, one video per Arrow table; a fresh read from
    Pulsar each time it is called (once per commit attempt), its counts kept in `last`."""

    client: pulsar.Client
    receipts: list[PublishReceipt]
    store_day: StoreDay
    run_id: str
    batch_size: int
    last: _Batches | None = None

    def __call__(self) -> Iterator[pa.Table]:
        self.last = batches = _Batches(self.store_day, self.run_id, datetime.now(UTC), self.batch_size)
        # A background thread reads the next batch from Pulsar while the current one is written.
        received = prefetched(
            lambda: _columns_of(self.client, self.receipts, self.batch_size), name="bronze-pulsar-reader"
        )
        try:
            yield from batches.build(received)
        finally:
            received.close()  # stops the reader thread when a write fails part-way


def _columns_of(
    client: pulsar.Client, receipts: Iterable[PublishReceipt], batch_size: int
) -> Iterable[tuple[PublishReceipt, MessageColumns]]:
    for receipt in receipts:
        for columns in read_receipt_columns(client, receipt, batch_size):
            yield receipt, columns


@dataclass
class _Batches:
    """Turns received messages into bronze Arrow tables of one video each, at most `batch_size` rows."""

    store_day: StoreDay
    run_id: str
    ingested_at: datetime
    batch_size: int
    rows: int = 0
    duplicates: int = 0
    messages: int = 0
    _seen: set[str] = field(default_factory=set)  # event ids of this partition (32 hex chars each)

    def build(self, received: Iterable[tuple[PublishReceipt, MessageColumns]]) -> Iterable[pa.Table]:
        pending: list[pa.Table] = []
        pending_rows = 0
        pending_video = None
        for receipt, columns in received:
            self.messages += len(columns)
            if pending and receipt.video_key != pending_video:
                yield self._emit(pending)
                pending, pending_rows = [], 0
            pending_video = receipt.video_key
            table = self._to_arrow(receipt, columns)
            if table.num_rows == 0:
                continue
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= self.batch_size:
                yield self._emit(pending)
                pending, pending_rows = [], 0
        if pending:
            yield self._emit(pending)

    def _emit(self, tables: list[pa.Table]) -> pa.Table:
        combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        self.rows += combined.num_rows
        return combined

    def _to_arrow(self, receipt: PublishReceipt, columns: MessageColumns) -> pa.Table:
        parsed = _parse_payloads(columns)
        if not pc.all(pc.equal(parsed["store_id"], self.store_day.store_id)).as_py():
            raise BronzeWriteError(
                f"receipt of {receipt.video_key} carries events of another store than "
                f"{self.store_day.store_id} (partition {self.store_day.key}); re-publish the video under "
                "its own partition"
            )
        keep = self._first_occurrences(parsed["event_id"].to_pylist())
        n = len(columns)
        table = pa.Table.from_arrays(
            [
                parsed["event_id"],
                parsed["store_id"],
                parsed["camera_id"],
                parse_utc_timestamps(parsed["ts"]),
                pa.repeat(pa.scalar(self.store_day.day, pa.date32()), n),
                # binary -> string validates UTF-8 in C++, far cheaper than converting str objects
                pa.array(columns.payloads, pa.binary()).cast(pa.string()),
                pa.array(columns.message_ids, pa.string()),
                pc.cast(pa.array(columns.publish_ts_ms, pa.timestamp("ms", tz="UTC")), _TS),
                pa.repeat(pa.scalar(receipt.producer_name, pa.string()), n),
                pa.repeat(pa.scalar(receipt.video_key, pa.string()), n),
                pa.repeat(pa.scalar(self.ingested_at, _TS), n),
                pa.repeat(pa.scalar(self.run_id, pa.string()), n),
                pa.repeat(pa.scalar(self.store_day.key, pa.string()), n),
            ],
            schema=ARROW_SCHEMA,
        )
        return table if keep is None else table.filter(pa.array(keep, pa.bool_()))

    def _first_occurrences(self, event_ids: list[str]) -> list[bool] | None:
        """None when every id is new (the common case, checked with set operations); else a mask
        keeping the first row of each id."""
        batch_ids = set(event_ids)
        if len(batch_ids) == len(event_ids) and self._seen.isdisjoint(batch_ids):
            self._seen |= batch_ids
            return None
        return self._mask(event_ids)

    def _mask(self, event_ids: list[str]) -> list[bool]:
        keep = []
        for event_id in event_ids:
            new = event_id not in self._seen
            if new:
                self._seen.add(event_id)
            else:
                self.duplicates += 1
            keep.append(new)
        return keep


def _parse_payloads(columns: MessageColumns) -> pa.Table:
    """event_id, store_id, camera_id, ts of every payload (one Arrow JSON parse per batch)."""
    try:
        parsed = read_json_fields(columns.payloads, _PAYLOAD_FIELDS)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise BronzeWriteError(
            f"a message payload is not a detection event: {_first_bad(columns) or exc}"
        ) from exc
    if not all_present(parsed, len(columns)):
        raise BronzeWriteError(f"a message payload is not a detection event: {_first_bad(columns)}")
    return parsed


def _first_bad(columns: MessageColumns) -> str | None:
    for payload, message_id in zip(columns.payloads, columns.message_ids, strict=True):
        try:
            event = json.loads(payload)
            if not isinstance(event, dict) or any(event.get(n) is None for n in _PAYLOAD_FIELDS.names):
                return f"message {message_id} lacks one of {', '.join(_PAYLOAD_FIELDS.names)}"
        except ValueError as exc:
            return f"message {message_id} is not JSON ({exc})"
    return None
