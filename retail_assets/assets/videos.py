"""`raw_videos`: the manifest of a store-day's videos in the bucket."""

from typing import Any

import dagster as dg

from retail_assets.assets import KEY_PREFIX, PER_PARTITION_BACKFILL
from retail_assets.assets.inventory import list_store_day, probe_video, strip_etag
from retail_assets.contracts.layout import parse_video_key
from retail_assets.errors import InputError
from retail_assets.partitions import parse_partition_key, store_day_partitions, store_timezone_from_env
from retail_assets.resources import ObjectStoreResource

PRESIGN_SECONDS = 900


def describe_video(client: Any, bucket: str, obj: dict, timezone: str) -> dict[str, Any]:
    """One manifest entry: key, etag, size, start time and what OpenCV reads from the header."""
    key = obj["Key"]
    uri = f"s3://{bucket}/{key}"
    head = client.head_object(Bucket=bucket, Key=key)
    override = head.get("Metadata", {}).get("start-time")
    entry: dict[str, Any] = {
        "key": key,
        "uri": uri,
        "etag": strip_etag(head["ETag"]),
        "size": int(head["ContentLength"]),
        "readable": False,
        "error": None,
    }
    try:
        video = parse_video_key(key, timezone, start_time_override=override)
    except InputError as exc:
        return {**entry, "error": str(exc)}
    entry.update(store_id=video.store_id, camera_id=video.camera_id, start_time=video.start_time.isoformat())
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
    )
    probe = probe_video(url, uri)
    entry.update(
        readable=probe.readable,
        error=probe.error,
        fps=probe.fps,
        frames=probe.frames,
        duration_s=probe.duration_s,
        width=probe.width,
        height=probe.height,
    )
    return entry


def manifest_table(entries: list[dict[str, Any]]) -> str:
    rows = ["| video | size | duration s | fps | start (UTC) | status |", "|---|---:|---:|---:|---|---|"]
    for e in entries:
        status = "ok" if e["readable"] else f"unreadable: {e['error']}"
        rows.append(
            f"| `{e['uri']}` | {e['size']:,} | {e.get('duration_s') or '?'} | {e.get('fps') or '?'} "
            f"| {e.get('start_time', '?')} | {status} |"
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
def raw_videos(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> dg.Output[list[dict]]:
    day = parse_partition_key(context.partition_key)
    client = object_store.client()
    bucket = object_store.videos_bucket
    timezone = store_timezone_from_env()
    listing = list_store_day(client, bucket, day.store_id, day.day, timezone)
    for bad in listing.malformed:
        context.log.warning(f"skipped s3://{bucket}/{bad.key}: {bad.reason}")
    entries = [describe_video(client, bucket, obj, timezone) for _, obj in listing.videos]
    for e in entries:
        if not e["readable"]:
            context.log.warning(f"{e['uri']} is listed but cannot be processed: {e['error']}")
    readable = [e for e in entries if e["readable"]]
    return dg.Output(
        entries,
        metadata={
            "dagster/row_count": len(entries),
            "videos": len(entries),
            "readable_videos": len(readable),
            "unreadable_videos": len(entries) - len(readable),
            "skipped_keys": len(listing.malformed),
            "total_bytes": sum(e["size"] for e in entries),
            "total_duration_s": round(sum(e.get("duration_s") or 0 for e in readable), 3),
            "prefix": dg.MetadataValue.url(f"s3://{bucket}/{day.store_id}/"),
            "manifest": dg.MetadataValue.md(manifest_table(entries) if entries else "no videos"),
        },
    )
