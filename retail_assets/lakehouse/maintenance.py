"""Table maintenance for every table of the namespace: compaction, snapshot expiry, orphan removal.

Each re-run of a store-day adds a snapshot and new data files; a busy day written video by video
leaves many small files; a writer killed before its commit leaves files that no snapshot names.
Three steps keep a table small and fast, each returning a typed report:

1. `compact_table`: in every partition, data files smaller than `small_file_ratio * target` are
   rewritten into files near `target_file_bytes`, ONE commit per partition, rows unchanged. Where
   the table has a `video_key` column, only files of one and the same video are merged (a file's
   `video_key` lower bound equals its upper bound): files never mix videos, which is what lets the
   bronze writer replace a video's rows by dropping whole files. A file holding several videos
   (or whose bounds are unknown) is left as it is.
2. `expire_snapshots`: snapshots older than the retention go, but never the newest `keep_last` ones
   nor a branch or tag head (metadata only: no file is deleted here).
3. `remove_orphan_files`: files under the table's `data/` and `metadata/` folders that no snapshot
   of any branch or tag and no current or previous metadata file references are deleted, but only
   when the object store says they were last written longer ago than the safety window. A writer
   that is still writing its files (before its commit) wrote them moments ago: they are younger
   than the window, so they are never taken.

Concurrency (the lost-update guard): a compaction commit is built on the table as it was planned.
If any writer committed meanwhile, the catalog rejects the commit (bronze tables keep pyiceberg's
own retries off) or pyiceberg's retry finds the files we replace gone; either way nothing of ours
lands, our new files are deleted, and the partition is planned again from the new table, up to
`commit_attempts` times, after which it is reported as skipped. A replaced file's rows are never
brought back, and the writer's rows are never lost. The orphan step lists the files first and
reads the table's references afterwards, so a commit that lands in between is seen.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchNamespaceError, ValidationException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import FileScanTask, Table

from retail_assets.errors import InputError, SetupError
from retail_assets.settings import MaintenanceSettings

VIDEO_COLUMN = "video_key"
# Summary property of the snapshots maintenance writes (readable with `table.snapshots()`).
SNAPSHOT_MAINTENANCE = "rva.maintenance"
MIB = 1024 * 1024

DEFAULT_SNAPSHOT_RETENTION = timedelta(days=7)
DEFAULT_KEEP_LAST = 10
DEFAULT_ORPHAN_WINDOW = timedelta(days=3)
DEFAULT_TARGET_FILE_BYTES = 128 * MIB
# A file below this share of the target counts as small (Iceberg's own rewrite uses 75 %).
DEFAULT_SMALL_FILE_RATIO = 0.75
# Files the catalog itself may keep beside the metadata (a Hadoop-style catalog's pointer).
_NEVER_ORPHANS = ("version-hint.text",)


@dataclass(frozen=True)
class MaintenanceOptions:
    snapshot_retention: timedelta = DEFAULT_SNAPSHOT_RETENTION
    keep_last: int = DEFAULT_KEEP_LAST
    orphan_window: timedelta = DEFAULT_ORPHAN_WINDOW
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES
    small_file_ratio: float = DEFAULT_SMALL_FILE_RATIO
    commit_attempts: int = 5
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise InputError(f"keep_last must be at least 1 (the current snapshot), got {self.keep_last}")
        if self.snapshot_retention < timedelta(0) or self.orphan_window < timedelta(0):
            raise InputError("snapshot retention and orphan window must not be negative")
        if self.target_file_bytes < 1:
            raise InputError(f"target_file_bytes must be positive, got {self.target_file_bytes}")
        if not 0 < self.small_file_ratio <= 1:
            raise InputError(f"small_file_ratio must be in (0, 1], got {self.small_file_ratio}")
        if self.commit_attempts < 1:
            raise InputError(f"commit_attempts must be at least 1, got {self.commit_attempts}")


def options_from_settings(settings: MaintenanceSettings, dry_run: bool = False) -> MaintenanceOptions:
    """The options the environment sets (RVA_SNAPSHOT_RETENTION_DAYS and friends)."""
    return MaintenanceOptions(
        snapshot_retention=timedelta(days=settings.snapshot_retention_days),
        keep_last=settings.snapshots_keep_last,
        orphan_window=timedelta(hours=settings.orphan_window_hours),
        target_file_bytes=int(settings.target_file_mb * MIB),
        dry_run=dry_run,
    )


@dataclass(frozen=True)
class PartitionCompaction:
    partition: str  # e.g. `store_id=store-001/event_date=2026-11-28`
    files_before: int  # data files of the partition before
    files_after: int
    files_rewritten: int  # small files replaced
    files_written: int
    rows_rewritten: int
    bytes_before: int  # of the rewritten files
    bytes_after: int  # of the files that replaced them
    commit_attempts: int
    skipped: str | None = None  # why nothing was committed (rows then unchanged too)


@dataclass(frozen=True)
class CompactionReport:
    table: str
    partitions: tuple[PartitionCompaction, ...]
    files_before: int  # data files of the whole table
    files_after: int
    dry_run: bool = False

    @property
    def partitions_compacted(self) -> int:
        return sum(1 for p in self.partitions if p.skipped is None and p.files_rewritten)

    @property
    def rows_rewritten(self) -> int:
        return sum(p.rows_rewritten for p in self.partitions if p.skipped is None)

    @property
    def partitions_skipped(self) -> int:
        return sum(1 for p in self.partitions if p.skipped is not None)


@dataclass(frozen=True)
class ExpiryReport:
    table: str
    snapshots_before: int
    snapshots_expired: int
    snapshots_after: int
    oldest_kept: datetime | None
    dry_run: bool = False


@dataclass(frozen=True)
class OrphanReport:
    table: str
    files_listed: int
    files_referenced: int
    orphans_found: int  # unreferenced files, young or old
    files_removed: int
    bytes_removed: int
    kept_younger_than_window: int  # unreferenced but written less than the window ago
    removed: tuple[str, ...] = field(default=(), repr=False)
    dry_run: bool = False


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    compaction: CompactionReport
    expiry: ExpiryReport
    orphans: OrphanReport


def namespace_tables(catalog: Catalog, namespace: str) -> list[str]:
    """`<namespace>.<table>` of every table the catalog lists in the namespace (none if it is missing)."""
    try:
        identifiers = catalog.list_tables(namespace)
    except NoSuchNamespaceError:
        return []
    return sorted(".".join(identifier) for identifier in identifiers)


def maintain_namespace(
    catalog: Catalog,
    namespace: str,
    options: MaintenanceOptions | None = None,
    now: datetime | None = None,
) -> list[TableMaintenance]:
    """Compact, expire and remove orphans in every table of the namespace, one table after another."""
    return [maintain_table(catalog, table, options, now) for table in namespace_tables(catalog, namespace)]


def maintain_table(
    catalog: Catalog, identifier: str, options: MaintenanceOptions | None = None, now: datetime | None = None
) -> TableMaintenance:
    """The three steps in the order that frees most: files replaced by the compaction become
    unreferenced once their snapshots expire, and the orphan step then deletes them (when older than
    the window)."""
    options = options or MaintenanceOptions()
    return TableMaintenance(
        table=identifier,
        compaction=compact_table(catalog, identifier, options),
        expiry=expire_snapshots(catalog, identifier, options, now),
        orphans=remove_orphan_files(catalog, identifier, options, now),
    )


# -- snapshot expiry ----------------------------------------------------------------------------


def expire_snapshots(
    catalog: Catalog, identifier: str, options: MaintenanceOptions | None = None, now: datetime | None = None
) -> ExpiryReport:
    """Expire snapshots taken before `now - snapshot_retention`, keeping the newest `keep_last` and
    every branch or tag head. A commit rejected because a writer committed first is planned again."""
    options = options or MaintenanceOptions()
    cutoff_ms = int((_aware(now) - options.snapshot_retention).timestamp() * 1000)
    for attempt in range(1, options.commit_attempts + 1):
        table = catalog.load_table(identifier)
        history = sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
        protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
        newest = {s.snapshot_id for s in history[-options.keep_last :]}
        expired = [
            s.snapshot_id
            for s in history
            if s.timestamp_ms < cutoff_ms and s.snapshot_id not in newest and s.snapshot_id not in protected
        ]
        kept = [s for s in history if s.snapshot_id not in set(expired)]
        report = ExpiryReport(
            table=identifier,
            snapshots_before=len(history),
            snapshots_expired=len(expired),
            snapshots_after=len(kept),
            oldest_kept=datetime.fromtimestamp(kept[0].timestamp_ms / 1000, UTC) if kept else None,
            dry_run=options.dry_run,
        )
        if not expired or options.dry_run:
            return report
        try:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
            return report
        except CommitFailedException:
            if attempt == options.commit_attempts:
                raise
            _pause(attempt)
    raise AssertionError("unreachable")


# -- orphan files -------------------------------------------------------------------------------


def remove_orphan_files(
    catalog: Catalog, identifier: str, options: MaintenanceOptions | None = None, now: datetime | None = None
) -> OrphanReport:
    """Delete files under the table's data/ and metadata/ folders that nothing references and that
    were last written before `now - orphan_window` (the object store's modification time)."""
    options = options or MaintenanceOptions()
    cutoff = _aware(now) - options.orphan_window
    table = catalog.load_table(identifier)
    fs, scheme, root = _filesystem(table)
    for attempt in (1, 2):
        # List first, read the references after: a commit that lands in between is then seen as
        # a reference, and a file written after the listing is not considered at all.
        listed = [
            info
            for folder in ("data", "metadata")
            for info in fs.get_file_info(
                pafs.FileSelector(f"{root}/{folder}", recursive=True, allow_not_found=True)
            )
            if info.type == pafs.FileType.File and info.base_name not in _NEVER_ORPHANS
        ]
        referenced = referenced_files(catalog.load_table(identifier))
        # Every referenced file under the table's folders must be in the listing. If one is not,
        # the store writes paths differently from the table's metadata (an escaped character), and
        # comparing them could take live files for orphans: nothing is deleted then. (A commit
        # between the listing and the read is the other cause: a second look settles it.)
        paths = {info.path for info in listed}
        missing = sorted(
            p for p in referenced if p.startswith((f"{root}/data/", f"{root}/metadata/")) and p not in paths
        )
        if not missing:
            break
        if attempt == 2:
            raise SetupError(
                f"orphan removal of {identifier} stopped: {len(missing)} file(s) the table references are "
                f"not in the object store's listing (e.g. {scheme}://{missing[0]}); nothing was deleted"
            )
    orphans = [info for info in listed if info.path not in referenced]
    old = [info for info in orphans if _mtime(info) < cutoff]
    removed: list[str] = []
    removed_bytes = 0
    for info in old:
        uri = f"{scheme}://{info.path}"
        if not options.dry_run:
            try:
                table.io.delete(uri)
            except FileNotFoundError:  # another maintenance run took it meanwhile
                continue
        removed.append(uri)
        removed_bytes += info.size or 0
    return OrphanReport(
        table=identifier,
        files_listed=len(listed),
        files_referenced=len(listed) - len(orphans),
        orphans_found=len(orphans),
        files_removed=len(removed),
        bytes_removed=removed_bytes,
        kept_younger_than_window=len(orphans) - len(old),
        removed=tuple(removed),
        dry_run=options.dry_run,
    )


def referenced_files(table: Table) -> set[str]:
    """Paths (`bucket/key`, no scheme) of every file the table's metadata reaches: current and
    previous metadata files, statistics, and for every snapshot its manifest list, its manifests
    and their live data and delete files."""
    paths = [table.metadata_location]
    paths += [entry.metadata_file for entry in table.metadata.metadata_log]
    paths += [s.statistics_path for s in table.metadata.statistics]
    paths += [s.statistics_path for s in table.metadata.partition_statistics]
    seen_manifests: set[str] = set()
    for snapshot in table.snapshots():
        paths.append(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            paths.append(manifest.manifest_path)
            paths += [
                e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
            ]
    return {_path_of(p) for p in paths if p}


def _filesystem(table: Table) -> tuple[pafs.FileSystem, str, str]:
    """(file system of the table's FileIO, scheme, `bucket/prefix` of the table location)."""
    if not isinstance(table.io, PyArrowFileIO):
        raise SetupError(
            f"orphan removal lists files with pyiceberg's PyArrowFileIO; table {table.name()} uses "
            f"{type(table.io).__name__} (set py-io-impl to pyiceberg.io.pyarrow.PyArrowFileIO)"
        )
    scheme, netloc, path = PyArrowFileIO.parse_location(table.location().rstrip("/"))
    return table.io.fs_by_scheme(scheme, netloc), scheme, path


def _path_of(uri: str) -> str:
    return PyArrowFileIO.parse_location(uri)[2]


def _mtime(info: pafs.FileInfo) -> datetime:
    mtime = info.mtime
    if mtime is None:  # no modification time: treat as new, i.e. never delete
        return datetime.max.replace(tzinfo=UTC)
    return mtime if mtime.tzinfo else mtime.replace(tzinfo=UTC)


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError(f"now={now.isoformat()} must carry a timezone")
    return now


# -- compaction ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """Small files of one partition (and one video, where the table has videos) to merge."""

    bins: tuple[tuple[DataFile, ...], ...]


def compact_table(
    catalog: Catalog,
    identifier: str,
    options: MaintenanceOptions | None = None,
    before_commit: Callable[[str], None] | None = None,
) -> CompactionReport:
    """Rewrite the small files of each partition into files near the target size, one commit per
    partition. `before_commit(partition)` is called after a partition's new files are written and
    before its commit (a hook for tests that make a writer commit at that moment)."""
    options = options or MaintenanceOptions()
    table = catalog.load_table(identifier)
    files_before = _data_file_count(table)
    results = []
    for partition in sorted(_plan(table, options)):
        results.append(_compact_partition(catalog, identifier, partition, options, before_commit))
    return CompactionReport(
        table=identifier,
        partitions=tuple(results),
        files_before=files_before,
        files_after=_data_file_count(catalog.load_table(identifier)),
        dry_run=options.dry_run,
    )


def _compact_partition(
    catalog: Catalog,
    identifier: str,
    partition: str,
    options: MaintenanceOptions,
    before_commit: Callable[[str], None] | None,
) -> PartitionCompaction:
    last_error: Exception | None = None
    for attempt in range(1, options.commit_attempts + 1):
        table = catalog.load_table(identifier)
        plan = _plan(table, options)
        partition_files = _partition_file_count(table, partition)
        bins = [b for group in plan.get(partition, ()) for b in group.bins]
        if not bins:  # a writer rewrote the partition meanwhile: nothing small is left
            return PartitionCompaction(partition, partition_files, partition_files, 0, 0, 0, 0, 0, attempt)
        old = [f for b in bins for f in b]
        rows = sum(f.record_count for f in old)
        if options.dry_run:
            return PartitionCompaction(
                partition, partition_files, partition_files - len(old) + len(bins), len(old), len(bins), rows,
                sum(f.file_size_in_bytes for f in old), 0, 0,
            )  # fmt: skip
        new = _rewrite(table, bins)
        written_rows = sum(f.record_count for f in new)
        if written_rows != rows:
            _delete_uncommitted(table, new)
            raise RuntimeError(
                f"compaction of {identifier} {partition} read {rows} rows but wrote {written_rows}"
            )
        if before_commit is not None:
            before_commit(partition)
        try:
            txn = table.transaction()
            properties = {SNAPSHOT_MAINTENANCE: "compaction"}
            with txn.update_snapshot(snapshot_properties=properties).overwrite() as rewrite:
                for data_file in old:
                    rewrite.delete_data_file(data_file)
                for data_file in new:
                    rewrite.append_data_file(data_file)
            txn.commit_transaction()
        except (CommitFailedException, ValidationException) as exc:
            # Nothing of ours landed: our files are unreferenced, so they go now.
            _delete_uncommitted(table, new)
            last_error = exc
            if attempt < options.commit_attempts:
                _pause(attempt)
            continue
        return PartitionCompaction(
            partition=partition,
            files_before=partition_files,
            files_after=_partition_file_count(catalog.load_table(identifier), partition),
            files_rewritten=len(old),
            files_written=len(new),
            rows_rewritten=rows,
            bytes_before=sum(f.file_size_in_bytes for f in old),
            bytes_after=sum(f.file_size_in_bytes for f in new),
            commit_attempts=attempt,
        )
    files = _partition_file_count(catalog.load_table(identifier), partition)
    return PartitionCompaction(
        partition, files, files, 0, 0, 0, 0, 0, options.commit_attempts,
        skipped=f"{options.commit_attempts} commits rejected by concurrent writers (last: {last_error})",
    )  # fmt: skip


def _plan(table: Table, options: MaintenanceOptions) -> dict[str, list[_Group]]:
    """Per partition label, the groups of small files worth merging (at least two per bin)."""
    small = options.target_file_bytes * options.small_file_ratio
    video_field = _video_field_id(table)
    by_group: dict[tuple[str, str | None], list[DataFile]] = defaultdict(list)
    for task in table.scan().plan_files():
        data_file = task.file
        if task.delete_files or data_file.content != DataFileContent.DATA:
            continue  # rows with deletes attached are left to a writer that understands them
        if data_file.file_size_in_bytes >= small:
            continue
        video: str | None = None
        if video_field is not None:
            video = _single_value(data_file, video_field)
            if video is None:  # several videos or unknown bounds: never merged with anything
                continue
        by_group[(_partition_label(table, data_file), video)].append(data_file)
    plan: dict[str, list[_Group]] = defaultdict(list)
    for (partition, _video), files in by_group.items():
        bins = tuple(b for b in _bin_pack(files, options.target_file_bytes) if len(b) > 1)
        if bins:
            plan[partition].append(_Group(bins))
    return dict(plan)


def _bin_pack(files: list[DataFile], target: int) -> list[tuple[DataFile, ...]]:
    """First-fit decreasing: bins of files whose sizes add up to at most `target`."""
    bins: list[list[DataFile]] = []
    sizes: list[int] = []
    for data_file in sorted(files, key=lambda f: (-f.file_size_in_bytes, f.file_path)):
        for i, size in enumerate(sizes):
            if size + data_file.file_size_in_bytes <= target:
                bins[i].append(data_file)
                sizes[i] += data_file.file_size_in_bytes
                break
        else:
            bins.append([data_file])
            sizes.append(data_file.file_size_in_bytes)
    return [tuple(b) for b in bins]


def _rewrite(table: Table, bins: Iterable[tuple[DataFile, ...]]) -> list[DataFile]:
    """Read each bin's rows (as the table's schema sees them) and write them as new files."""
    counter = itertools.count(0)
    write_uuid = uuid.uuid4()
    written: list[DataFile] = []
    try:
        for files in bins:
            scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
            rows = scan.to_table([FileScanTask(f) for f in files])
            written += _dataframe_to_data_files(
                table_metadata=table.metadata, df=rows, io=table.io, write_uuid=write_uuid, counter=counter
            )
    except BaseException:
        _delete_uncommitted(table, written)
        raise
    return written


def _delete_uncommitted(table: Table, files: Iterable[DataFile]) -> None:
    for data_file in files:
        with contextlib.suppress(OSError):  # else left for the orphan step: it is unreferenced
            table.io.delete(data_file.file_path)


def _video_field_id(table: Table) -> int | None:
    try:
        return table.schema().find_field(VIDEO_COLUMN).field_id
    except ValueError:
        return None


def _single_value(data_file: DataFile, field_id: int) -> str | None:
    lower = (data_file.lower_bounds or {}).get(field_id)
    upper = (data_file.upper_bounds or {}).get(field_id)
    if lower is None or lower != upper:
        return None
    return bytes(lower).decode("utf-8", errors="replace")


def _partition_label(table: Table, data_file: DataFile) -> str:
    spec = table.specs()[data_file.spec_id]
    if spec.is_unpartitioned():
        return "(unpartitioned)"
    return f"spec {data_file.spec_id}: " * (
        data_file.spec_id != table.spec().spec_id
    ) + spec.partition_to_path(data_file.partition, table.schema())


def _partition_file_count(table: Table, partition: str) -> int:
    return sum(1 for task in table.scan().plan_files() if _partition_label(table, task.file) == partition)


def _data_file_count(table: Table) -> int:
    return sum(1 for _ in table.scan().plan_files())


def _pause(attempt: int) -> None:
    time.sleep(min(0.2 * 2 ** (attempt - 1), 5.0))


def report_metadata(report: TableMaintenance) -> dict[str, Any]:
    """A flat dictionary of what the three steps did (for logs and Dagster metadata)."""
    c, e, o = report.compaction, report.expiry, report.orphans
    return {
        "partitions_compacted": c.partitions_compacted,
        "partitions_skipped": c.partitions_skipped,
        "data_files_before": c.files_before,
        "data_files_after": c.files_after,
        "rows_rewritten": c.rows_rewritten,
        "snapshots_before": e.snapshots_before,
        "snapshots_expired": e.snapshots_expired,
        "snapshots_after": e.snapshots_after,
        "orphan_files_found": o.orphans_found,
        "orphan_files_removed": o.files_removed,
        "orphan_bytes_removed": o.bytes_removed,
        "orphans_kept_younger_than_window": o.kept_younger_than_window,
    }
