"""`retail-assets maintain`: table maintenance on every table of the namespace, then raw-data
retention, with what each step did printed per table (what the weekly Dagster job runs too).

Settings come from the environment (`MaintenanceSettings`: RVA_SNAPSHOT_RETENTION_DAYS,
RVA_SNAPSHOTS_KEEP_LAST, RVA_ORPHAN_WINDOW_HOURS, RVA_TARGET_FILE_MB, RVA_RETAIN_*_DAYS);
`--dry-run` reports what would be done and changes nothing. Videos are deleted with the identity
in RVA_RETENTION_ACCESS_KEY_ID / RVA_RETENTION_SECRET_ACCESS_KEY when set (the pipeline's own
identity only reads the videos bucket).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyiceberg.catalog import Catalog

from retail_assets.lakehouse.bronze import bronze_table_identifier
from retail_assets.lakehouse.maintenance import TableMaintenance, maintain_namespace, options_from_settings
from retail_assets.lakehouse.retention import RetentionPolicy, RetentionReport, apply_retention
from retail_assets.settings import MaintenanceSettings, Settings

RETENTION_KEY_ID = "RVA_RETENTION_ACCESS_KEY_ID"
RETENTION_SECRET = "RVA_RETENTION_SECRET_ACCESS_KEY"


@dataclass(frozen=True)
class MaintenanceRun:
    tables: tuple[TableMaintenance, ...]
    retention: RetentionReport | None  # None: no retention is set


def run_maintenance(
    catalog: Catalog,
    *,
    settings: Settings,
    maintenance: MaintenanceSettings,
    detections_s3: Any,
    videos_s3: Any,
    dry_run: bool = False,
    now: datetime | None = None,
) -> MaintenanceRun:
    """Maintain every table of the namespace, then apply the raw-data retention (when any is set)."""
    tables = maintain_namespace(catalog, settings.namespace, options_from_settings(maintenance, dry_run), now)
    policy = RetentionPolicy.from_settings(maintenance)
    retention = None
    if policy.enabled:
        retention = apply_retention(
            videos_s3=videos_s3,
            detections_s3=detections_s3,
            videos_bucket=settings.videos_bucket,
            detections_bucket=settings.detections_bucket,
            catalog=catalog,
            bronze_table=bronze_table_identifier(settings.namespace),
            policy=policy,
            now=now,
            dry_run=dry_run,
        )
    return MaintenanceRun(tuple(tables), retention)


def retention_s3_client(settings: Settings) -> Any:
    """The client that deletes videos: the retention identity when set, else the default chain."""
    from retail_assets.objectstore import make_s3_client

    return make_s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        os.environ.get(RETENTION_KEY_ID) or None,
        os.environ.get(RETENTION_SECRET) or None,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="report what would be done; change nothing")
    parser.add_argument(
        "--dir",
        default=None,
        help="use the embedded stack in this state directory (default: the environment)",
    )


def run(args: argparse.Namespace) -> int:
    from retail_assets.lakehouse.catalog import open_catalog
    from retail_assets.objectstore import make_s3_client

    if args.dir:
        from retail_assets.stack import EmbeddedStack

        os.environ.update(EmbeddedStack(args.dir).env())
    settings = Settings.from_env()
    maintenance = MaintenanceSettings.from_env()
    result = run_maintenance(
        open_catalog(settings.catalog_name),
        settings=settings,
        maintenance=maintenance,
        detections_s3=make_s3_client(settings.s3_endpoint_url, settings.s3_region),
        videos_s3=retention_s3_client(settings),
        dry_run=args.dry_run,
    )
    print(format_run(result, maintenance))
    return 0


def format_run(result: MaintenanceRun, maintenance: MaintenanceSettings) -> str:
    dry = " (dry run: nothing changed)" if result.tables and result.tables[0].compaction.dry_run else ""
    lines = [
        f"maintenance{dry}: snapshots older than {maintenance.snapshot_retention_days:g} days expire "
        f"(newest {maintenance.snapshots_keep_last} kept), orphans older than "
        f"{maintenance.orphan_window_hours:g} h removed, target file {maintenance.target_file_mb:g} MB"
    ]
    if not result.tables:
        lines.append("no table in the namespace yet")
    for t in result.tables:
        c, e, o = t.compaction, t.expiry, t.orphans
        lines.append(
            f"{t.table:<28} compaction: {c.partitions_compacted} partitions, data files {c.files_before} -> "
            f"{c.files_after}, {c.rows_rewritten} rows rewritten"
            + (f", {c.partitions_skipped} skipped (writers busy)" if c.partitions_skipped else "")
        )
        lines.append(
            f"{'':<28} snapshots: {e.snapshots_expired} expired, {e.snapshots_after} kept; orphan files: "
            f"{o.files_removed} removed ({o.bytes_removed} bytes), {o.kept_younger_than_window} younger than the window kept"
        )
    if result.retention is None:
        lines.append("retention: off (no RVA_RETAIN_*_DAYS set)")
    else:
        for k in result.retention.kinds:
            lines.append(
                f"retention {k.kind:<13} {k.retention_days:g} days: {k.deleted} deleted ({k.bytes_deleted} bytes), "
                f"{k.kept_pending} old ones kept for store-days not yet in bronze"
            )
        if result.retention.pending_videos:
            shown = ", ".join(result.retention.pending_videos[:5])
            more = len(result.retention.pending_videos) - 5
            lines.append(
                f"pending videos (not in bronze yet): {shown}" + (f" and {more} more" if more > 0 else "")
            )
    return "\n".join(lines)
