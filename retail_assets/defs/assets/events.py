"""`pulsar_events`: publish each current NDJSON object once; keep the receipts that bronze reads."""

import dagster as dg

from retail_assets.contracts.layout import footage_expired_key
from retail_assets.defs.checks import PUBLISHED_CHECK, check_published
from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import KEY_PREFIX, PULSAR_EVENTS
from retail_assets.defs.partitions import store_day_partitions
from retail_assets.defs.resources import ObjectStoreResource, PulsarResource
from retail_assets.detections.ndjson_store import StoreDayDetections
from retail_assets.objectstore import head_object_or_none
from retail_assets.streaming.publish_video import PublishedStoreDay, publish_video
from retail_assets.streaming.receipts import PublishReceipt, ReceiptStore


def receipts_table(receipts: tuple[PublishReceipt, ...]) -> str:
    rows = [
        "| video | messages | dead letters | first message id | last message id | producer |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in receipts:
        rows.append(
            f"| `{r.video_key}` | {r.messages_sent} | {r.dead_letters} | `{r.first_message_id}` "
            f"| `{r.last_message_id}` | `{r.producer_name}` |"
        )
    return "\n".join(rows)


@dg.asset(
    key_prefix=KEY_PREFIX,
    ins={"detections": dg.AssetIn(key_prefix=KEY_PREFIX)},
    group_name="events",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    kinds={"pulsar"},
    check_specs=[
        dg.AssetCheckSpec(
            PUBLISHED_CHECK,
            asset=PULSAR_EVENTS,
            blocking=True,
            description="for every current NDJSON object: messages published == its lines, no dead letters",
        )
    ],
    description=(
        "Every current NDJSON line of the store-day as one message on the events topic (JSON "
        "schema, key `<store>/<camera>`). An object is published once: its receipt (producer and "
        "message id range, stored in S3 under _receipts/) records the NDJSON etag, and a re-run "
        "publishes only objects without a receipt for their current etag. Receipts of videos no "
        "longer in the bucket are dropped, so bronze follows the bucket."
    ),
)
def pulsar_events(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    pulsar: PulsarResource,
    detections: StoreDayDetections,
):
    store_day = detections.store_day
    s3 = object_store.client()
    store = ReceiptStore(s3, object_store.detections_bucket)
    receipts: dict[str, PublishReceipt] = {}
    published_now: list[PublishReceipt] = []
    client = pulsar.client()
    try:
        for entry in detections.current:
            existing = store.get(store_day, entry.video.key)
            if existing is not None and existing.ndjson_etag == entry.ndjson_etag:
                receipts[entry.video.key] = existing
                continue
            receipt = publish_video(
                client,
                s3,
                pulsar.topic,
                entry.ndjson_uri,
                store_day=store_day,
                run_id=context.run_id,
                video_key=entry.video.key,
                receipts=store,
                ndjson_etag=entry.ndjson_etag,
            )
            receipts[entry.video.key] = receipt
            published_now.append(receipt)
            context.log.info(
                f"published {receipt.messages_sent} messages from {entry.ndjson_uri} "
                f"({receipt.first_message_id}..{receipt.last_message_id}), {receipt.dead_letters} dead letters"
            )
    finally:
        client.close()

    # Receipts of videos deleted from the bucket go, so the partition's bronze follows the bucket:
    # in a whole-day run every receipt is looked at, in a run for some videos only theirs. A video
    # that raw-data retention deleted keeps its receipt: its footage expired, its rows stay.
    if detections.scope is None:
        others = [r.video_key for r in store.list_partition(store_day) if r.video_key not in receipts]
    else:
        others = [k for k in detections.scope if k not in receipts and store.get(store_day, k) is not None]
    dropped = []
    kept_expired = 0
    for video_key in others:
        if head_object_or_none(s3, object_store.videos_bucket, video_key) is not None:
            continue
        expired = footage_expired_key(store_day, video_key)
        if head_object_or_none(s3, object_store.detections_bucket, expired) is not None:
            kept_expired += 1
        else:
            store.delete(store_day, video_key)
            dropped.append(video_key)
            context.log.info(f"dropped the receipt of {video_key}: the video is no longer in the bucket")

    value = PublishedStoreDay(
        store_day, detections.scope, tuple(sorted(receipts.values(), key=lambda r: r.video_key))
    )
    yield dg.Output(
        value,
        metadata={
            "dagster/row_count": value.messages,
            "messages": value.messages,
            "messages_published_this_run": sum(r.messages_sent for r in published_now),
            "objects_published_this_run": len(published_now),
            "objects_already_published": len(value.receipts) - len(published_now),
            "dead_letters": sum(r.dead_letters for r in value.receipts),
            "receipts_dropped": len(dropped),
            "receipts_kept_footage_expired": kept_expired,
            "topic": pulsar.topic,
            "message_ranges": dg.MetadataValue.md(
                receipts_table(value.receipts) if value.receipts else "nothing"
            ),
        },
    )
    yield check_published(detections.current, receipts)
