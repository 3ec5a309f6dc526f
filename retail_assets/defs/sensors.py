"""`new_video_sensor`: one run per new video in the bucket, stores registered as they appear."""

from __future__ import annotations

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.contracts.layout import VideoKey
from retail_assets.defs.jobs import store_day_job
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME, day_in_range, stores
from retail_assets.defs.resources import ObjectStoreResource
from retail_assets.errors import SetupError
from retail_assets.inventory.bucket_scan import ScanCursor, scan_bucket
from retail_assets.objectstore import describe_endpoint
from retail_assets.settings import Settings

MAX_OBJECTS_PER_TICK = 2000
MAX_MALFORMED_LOGGED = 20


def video_run_request(video: VideoKey, etag: str) -> dg.RunRequest:
    """The run for one video: its partition, inference restricted to that video, a stable run key."""
    return dg.RunRequest(
        run_key=f"{video.key}@{etag}",
        partition_key=video.store_day.key,
        run_config=dg.RunConfig(ops={DETECTIONS_OP: {"config": {"video_keys": [video.key]}}}),
        tags={
            "rva/video_key": video.key,
            "rva/video_etag": etag,
            "rva/store": video.store_id,
            "rva/trigger": "sensor",
        },
    )


@dg.sensor(
    job=store_day_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the videos bucket after a cursor kept per `<store>/<camera>/` prefix; registers new "
        "stores as `stores` partitions and requests one run per new video (run key `<key>@<etag>`). "
        "Keys outside the layout are reported in the tick and skipped."
    ),
)
def new_video_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
) -> dg.SensorResult:
    cursor = ScanCursor.from_json(context.cursor)
    settings = Settings.from_env()
    known = set(context.instance.get_dynamic_partitions(STORES_PARTITIONS_NAME))
    client = object_store.client()
    try:
        scan = scan_bucket(
            client,
            object_store.videos_bucket,
            cursor,
            timezone=settings.store_timezone,
            max_objects=MAX_OBJECTS_PER_TICK,
        )
    except (BotoCoreError, ClientError) as exc:
        # The tick fails and keeps its cursor: the next tick lists from the same place.
        raise SetupError(
            f"cannot list s3://{object_store.videos_bucket} at {describe_endpoint(client)} "
            f"({type(exc).__name__}: {exc}); check AWS_ENDPOINT_URL_S3 and that the object store is up. "
            "Nothing was skipped: the next tick starts from the same cursor."
        ) from exc
    # A date before RVA_START_DATE or after today has no partition yet: reported and skipped
    # (a run request for an unknown partition would fail the whole tick).
    in_range = [v for v in scan.new_videos if day_in_range(v.video.day)]
    skipped = [(bad.key, bad.reason) for bad in scan.malformed] + [
        (
            v.video.key,
            f"its date {v.video.day} is outside the partitions (RVA_START_DATE={settings.start_date} to today)",
        )
        for v in scan.new_videos
        if not day_in_range(v.video.day)
    ]
    for key, reason in skipped[:MAX_MALFORMED_LOGGED]:
        context.log.warning(f"skipped s3://{object_store.videos_bucket}/{key}: {reason}")
    if len(skipped) > MAX_MALFORMED_LOGGED:
        context.log.warning(f"... and {len(skipped) - MAX_MALFORMED_LOGGED} more skipped keys")
    new_stores = list(dict.fromkeys(v.video.store_id for v in in_range if v.video.store_id not in known))
    summary = (
        f"{len(in_range)} new videos, {len(new_stores)} new stores, "
        f"{len(skipped)} keys skipped (outside the layout or the partitions' dates); "
        f"{scan.objects_examined} objects examined in {scan.list_calls} list requests"
        + ("; more remain for the next tick" if scan.truncated else "")
    )
    context.log.info(summary)
    requests = [video_run_request(v.video, v.etag) for v in in_range]
    return dg.SensorResult(
        run_requests=requests,
        skip_reason=None if requests else dg.SkipReason(f"nothing new: {summary}"),
        cursor=scan.cursor.to_json(),
        dynamic_partitions_requests=[stores.build_add_request(new_stores)] if new_stores else [],
    )
