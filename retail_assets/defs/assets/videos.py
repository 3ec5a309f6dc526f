"""`raw_videos`: the manifest of the videos a run works on (the sensor's videos, or a whole store-day)."""

import dagster as dg
from pydantic import Field

from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import KEY_PREFIX
from retail_assets.defs.partitions import partition_store_day, store_day_partitions
from retail_assets.defs.resources import ObjectStoreResource
from retail_assets.inventory.listing import list_store_day
from retail_assets.inventory.manifest import (
    VideoManifest,
    VideoManifestEntry,
    describe_requested,
    describe_video,
)
from retail_assets.objectstore import check_bucket
from retail_assets.settings import Settings


class RawVideosConfig(dg.Config):
    """Which videos of the store-day the run works on; the sensor sets them."""

    video_keys: list[str] = Field(
        default_factory=list,
        description=(
            "work on these video keys only (the sensor sets the videos of its batch): no listing, and "
            "bronze replaces only their rows; empty = every video of the store-day, bronze rebuilt whole"
        ),
    )


def manifest_table(entries: tuple[VideoManifestEntry, ...]) -> str:
    rows = ["| video | size | duration s | fps | start (UTC) | status |", "|---|---:|---:|---:|---|---|"]
    for e in entries:
        status = "ok" if e.readable else f"unreadable: {e.error}"
        rows.append(
            f"| `{e.uri}` | {e.size:,} | {e.probe.duration_s or '?'} | {e.probe.fps or '?'} "
            f"| {e.video.start_time.isoformat()} | {status} |"
        )
    return "\n".join(rows)


@dg.asset(
    key_prefix=KEY_PREFIX,
    group_name="videos",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    kinds={"s3", "opencv"},
    description=(
        "The videos a run works on, from the videos bucket (`<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.<ext>`): "
        "key, etag, size, duration, fps and start time. A sensor run describes only its videos (one "
        "HEAD each); any other run lists the whole store-day. Unreadable videos are listed with the reason."
    ),
)
def raw_videos(
    context: dg.AssetExecutionContext, config: RawVideosConfig, object_store: ObjectStoreResource
) -> dg.Output[VideoManifest]:
    store_day = partition_store_day(context)
    client = object_store.client()
    bucket = object_store.videos_bucket
    timezone = Settings.from_env().store_timezone
    if config.video_keys:
        manifest = describe_requested(client, bucket, store_day, config.video_keys, timezone)
        if manifest.missing and not manifest.entries:
            # A HEAD answers 404 for a missing bucket too: make sure it is the videos that are gone.
            check_bucket(client, bucket, "RVA_VIDEOS_BUCKET")
        for key in manifest.missing:
            context.log.warning(f"s3://{bucket}/{key} was asked for but is no longer in the bucket")
    else:
        check_bucket(client, bucket, "RVA_VIDEOS_BUCKET")
        listing = list_store_day(client, bucket, store_day, timezone)
        entries = tuple(describe_video(client, bucket, video, timezone) for video in listing.videos)
        manifest = VideoManifest(store_day, None, entries, malformed=tuple(listing.malformed))
    for bad in manifest.malformed:
        context.log.warning(f"skipped s3://{bucket}/{bad.key}: {bad.reason}")
    entries = manifest.entries
    for e in entries:
        if not e.readable:
            context.log.warning(f"{e.uri} is listed but cannot be processed: {e.error}")
    readable = manifest.readable
    return dg.Output(
        manifest,
        metadata={
            "dagster/row_count": len(entries),
            "scope": "whole store-day"
            if manifest.scope is None
            else f"{len(manifest.scope)} requested videos",
            "videos": len(entries),
            "readable_videos": len(readable),
            "unreadable_videos": len(entries) - len(readable),
            "missing_videos": len(manifest.missing),
            "skipped_keys": len(manifest.malformed),
            "total_bytes": sum(e.size for e in entries),
            "total_duration_s": round(sum(e.probe.duration_s or 0 for e in readable), 3),
            "prefix": dg.MetadataValue.url(f"s3://{bucket}/{store_day.store_id}/"),
            "manifest": dg.MetadataValue.md(manifest_table(entries) if entries else "no videos"),
        },
    )
