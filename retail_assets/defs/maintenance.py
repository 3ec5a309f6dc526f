"""`lakehouse_maintenance`: weekly table maintenance and raw-data retention (also by hand, or with
`retail-assets maintain`). The work lives in `retail_assets.lakehouse.maintenance` and
`retail_assets.lakehouse.retention`; these ops only wire resources and report what was done.
"""

import os

import dagster as dg
from pydantic import Field

from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource
from retail_assets.lakehouse.bronze import bronze_table_identifier
from retail_assets.lakehouse.maintenance import maintain_namespace, options_from_settings, report_metadata
from retail_assets.lakehouse.maintenance_cli import RETENTION_KEY_ID, RETENTION_SECRET
from retail_assets.lakehouse.retention import RetentionPolicy, apply_retention
from retail_assets.settings import MaintenanceSettings, Settings

WEEKLY_CRON = "0 4 * * 0"  # Sundays 04:00 in the stores' timezone, after the nightly re-runs


class MaintenanceConfig(dg.Config):
    dry_run: bool = Field(default=False, description="report what would be done; change nothing")


@dg.op(
    description=(
        "Every table of the namespace: compact small files (one commit per partition, rows unchanged), "
        "expire old snapshots (RVA_SNAPSHOT_RETENTION_DAYS, newest RVA_SNAPSHOTS_KEEP_LAST kept), remove "
        "unreferenced files older than RVA_ORPHAN_WINDOW_HOURS."
    ),
    tags={"retail/stage": "maintenance"},
)
def table_maintenance(
    context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: IcebergCatalogResource
) -> dg.Output[int]:
    options = options_from_settings(MaintenanceSettings.from_env(), dry_run=config.dry_run)
    reports = maintain_namespace(lakehouse.catalog(), lakehouse.namespace, options)
    per_table = {report.table: report_metadata(report) for report in reports}
    totals = {
        name: sum(table[name] for table in per_table.values()) for name in next(iter(per_table.values()), {})
    }
    for table, figures in per_table.items():
        context.log.info(f"{table}: {figures}")
    return dg.Output(
        len(reports),
        metadata={
            "tables": len(reports),
            "dry_run": config.dry_run,
            **totals,
            "per_table": dg.MetadataValue.json(per_table),
        },
    )


@dg.op(
    ins={"after_tables": dg.In(dg.Nothing)},
    description=(
        "Deletes videos, NDJSON (with previews and fall frames), receipts and dead letters older than their "
        "RVA_RETAIN_*_DAYS (off unless set), except those of videos not yet in bronze."
    ),
    tags={"retail/stage": "maintenance"},
)
def raw_data_retention(
    context: dg.OpExecutionContext,
    config: MaintenanceConfig,
    lakehouse: IcebergCatalogResource,
    object_store: ObjectStoreResource,
    retention_store: ObjectStoreResource,
) -> dg.Output[int]:
    policy = RetentionPolicy.from_settings(MaintenanceSettings.from_env())
    if not policy.enabled:
        return dg.Output(0, metadata={"retention": "off (no RVA_RETAIN_*_DAYS set)", "deleted": 0})
    report = apply_retention(
        videos_s3=retention_store.client(),
        detections_s3=object_store.client(),
        videos_bucket=object_store.videos_bucket,
        detections_bucket=object_store.detections_bucket,
        catalog=lakehouse.catalog(),
        bronze_table=bronze_table_identifier(lakehouse.namespace),
        policy=policy,
        dry_run=config.dry_run,
    )
    if report.pending_videos:
        context.log.warning(
            f"{len(report.pending_videos)} video(s) past retention are kept because bronze does not hold them "
            f"yet, e.g. {', '.join(report.pending_videos[:3])}"
        )
    deleted = len(report.deleted_keys)
    return dg.Output(deleted, metadata={"deleted": deleted, "dry_run": config.dry_run, **report.metadata()})


@dg.job(
    description="Table maintenance of every table of the namespace, then raw-data retention.",
    tags={"retail/stage": "maintenance"},
)
def lakehouse_maintenance() -> None:
    raw_data_retention(after_tables=table_maintenance())


weekly_lakehouse_maintenance = dg.ScheduleDefinition(
    name="weekly_lakehouse_maintenance",
    job=lakehouse_maintenance,
    cron_schedule=WEEKLY_CRON,
    execution_timezone=Settings.from_env().store_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Compacts, expires and cleans the lakehouse tables and applies raw-data retention, weekly.",
)


def maintenance_resources() -> dict[str, dg.ConfigurableResource]:
    """`retention_store`: the identity that may delete videos (RVA_RETENTION_ACCESS_KEY_ID /
    RVA_RETENTION_SECRET_ACCESS_KEY); the pipeline's own keys when those are not set."""
    key_id, secret = (
        (RETENTION_KEY_ID, RETENTION_SECRET)
        if os.environ.get(RETENTION_KEY_ID)
        else ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    )
    return {
        "retention_store": ObjectStoreResource(
            endpoint_url=dg.EnvVar("AWS_ENDPOINT_URL_S3"),
            region=dg.EnvVar("AWS_REGION"),
            access_key_id=dg.EnvVar(key_id),
            secret_access_key=dg.EnvVar(secret),
            videos_bucket=dg.EnvVar("RVA_VIDEOS_BUCKET"),
            detections_bucket=dg.EnvVar("RVA_DETECTIONS_BUCKET"),
        )
    }
