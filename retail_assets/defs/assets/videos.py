"""`raw_videos`: the manifest of a store-day's videos in the bucket."""

import dagster as dg

from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import KEY_PREFIX
from retail_assets.defs.partitions import partition_store_day, store_day_partitions
from retail_assets.defs.resources import ObjectStoreResource
from retail_assets.inventory.listing import list_store_day
from retail_assets.inventory.manifest import VideoManifestEntry, describe_video
from retail_assets.objectstore import check_bucket
from retail_assets.settings import Settings


def manifest_table(entries: list[VideoManifestEntry]) -> str:
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
        "The store-day's videos in the videos bucket (`<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.<ext>`): "
        "key, etag, size, duration, fps and start time. Unreadable videos are listed with the reason."
    ),
)
def raw_videos(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource
) -> dg.Output[list[VideoManifestEntry]]:
    store_day = partition_store_day(context)
    client = object_store.client()
    bucket = object_store.videos_bucket
    check_bucket(client, bucket, "RVA_VIDEOS_BUCKET")
    timezone = Settings.from_env().store_timezone
    listing = list_store_day(client, bucket, store_day, timezone)
    for bad in listing.malformed:
        context.log.warning(f"skipped s3://{bucket}/{bad.key}: {bad.reason}")
    entries = [describe_video(client, bucket, video, timezone) for video in listing.videos]
    for e in entries:
        if not e.readable:
            context.log.warning(f"{e.uri} is listed but cannot be processed: {e.error}")
    readable = [e for e in entries if e.readable]
    return dg.Output(
        entries,
        metadata={
            "dagster/row_count": len(entries),
            "videos": len(entries),
            "readable_videos": len(readable),
            "unreadable_videos": len(entries) - len(readable),
            "skipped_keys": len(listing.malformed),
            "total_bytes": sum(e.size for e in entries),
            "total_duration_s": round(sum(e.probe.duration_s or 0 for e in readable), 3),
            "prefix": dg.MetadataValue.url(f"s3://{bucket}/{store_day.store_id}/"),
            "manifest": dg.MetadataValue.md(manifest_table(entries) if entries else "no videos"),
        },
    )
