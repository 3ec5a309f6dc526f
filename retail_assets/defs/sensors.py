"""`new_video_sensor`: one run per store-day batch of new videos, stores registered as they appear.

A camera group that uploads together (16 cameras ending a segment at the same minute) lands in
one tick; its videos of one store-day become one run, not sixteen: one process start, one model
load, one bronze commit. A batch holds at most `MAX_VIDEOS_PER_RUN` videos, so one run's work
stays bounded when a tick finds a backlog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.jobs import store_day_job
from retail_assets.defs.names import KEY_PREFIX, RAW_VIDEOS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME, day_in_range, stores
from retail_assets.defs.resources import ObjectStoreResource
from retail_assets.errors import SetupError
from retail_assets.inventory.bucket_scan import NewVideo, ScanCursor, scan_bucket
from retail_assets.objectstore import describe_endpoint
from retail_assets.settings import Settings

MAX_OBJECTS_PER_TICK = 2000
MAX_VIDEOS_PER_RUN = 32
MAX_MALFORMED_LOGGED = 20


def batch_run_requests(
    new_videos: Iterable[NewVideo], max_videos: int = MAX_VIDEOS_PER_RUN
) -> list[dg.RunRequest]:
    """One run per store-day and batch of at most `max_videos` of its new videos, in arrival order."""
    by_day: dict[StoreDay, list[NewVideo]] = {}
    for new in new_videos:
        by_day.setdefault(new.video.store_day, []).append(new)
    return [
        _batch_request(store_day, videos[start : start + max_videos])
        for store_day, videos in by_day.items()
        for start in range(0, len(videos), max_videos)
    ]


def _batch_request(store_day: StoreDay, batch: list[NewVideo]) -> dg.RunRequest:
    # The run key names exactly these objects (key and etag): a re-uploaded video (new etag) is new
    # work, and a batch already launched is never launched again.
    objects = sorted(f"{n.video.key}@{n.etag}" for n in batch)
    digest = hashlib.sha256("\n".join(objects).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"{store_day.key}:{len(batch)}:{digest}",
        partition_key=store_day.key,
        run_config=dg.RunConfig(
            ops={RAW_VIDEOS_OP: {"config": {"video_keys": [n.video.key for n in batch]}}}
        ),
        tags={
            "rva/store": store_day.store_id,
            "rva/trigger": "sensor",
            "rva/videos": str(len(batch)),
            "rva/first_video": batch[0].video.key,
        },
    )


@dg.sensor(
    job=store_day_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the videos bucket after a cursor kept per `<store>/<camera>/` prefix; registers new "
        "stores as `stores` partitions and requests one run per store-day for the new videos of a tick "
        f"(at most {MAX_VIDEOS_PER_RUN} videos a run; run key `<store-day>:<videos>:<hash of keys and etags>`). "
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
    requests = batch_run_requests(in_range)
    summary += f"; {len(requests)} runs requested"
    context.log.info(summary)
    return dg.SensorResult(
        run_requests=requests,
        skip_reason=None if requests else dg.SkipReason(f"nothing new: {summary}"),
        cursor=scan.cursor.to_json(),
        dynamic_partitions_requests=[stores.build_add_request(new_stores)] if new_stores else [],
    )


# Declarative automation: evaluates the automation conditions of the rva assets (silver and gold
# refresh after bronze, the geometry source is observed every 10 minutes). Declared here to be
# running from the start: Dagster's implicit default automation sensor starts stopped. The
# instances enable the automation daemon on sensors (`auto_materialize` in their dagster.yaml).
automation_sensor = dg.AutomationConditionSensorDefinition(
    "rva_automation_sensor",
    target=dg.AssetSelection.key_prefixes([KEY_PREFIX], include_sources=True),  # geometry too
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Requests silver and gold runs when bronze changed (any day, backfills and late videos "
    "included) and observes the camera geometry.",
)
