"""The whole asset graph materialized for one store-day on the real stack, with a real clip."""

import json

import dagster as dg
import pytest

from retail_assets.contracts.events import validate_line
from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.assets.bronze import bronze_raw
from retail_assets.defs.assets.detections import detections
from retail_assets.defs.assets.events import pulsar_events
from retail_assets.defs.assets.videos import raw_videos
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets_tests.dagster.conftest import stack_resources

ASSETS = [raw_videos, detections, pulsar_events, bronze_raw]
STORE = "store-mat01"
PARTITION = StoreDay.parse(f"2026-11-28|{STORE}")
GOOD = f"{STORE}/cam-1/2026-11-28/090000.avi"
BROKEN = f"{STORE}/cam-1/2026-11-28/100000.mp4"
MAX_FRAMES = 6


def _run(instance, resources, **detections_config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=PARTITION.key,
        instance=instance,
        resources=resources,
        run_config={"ops": {DETECTIONS_OP: {"config": {"max_frames": MAX_FRAMES, **detections_config}}}},
    )


def _metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    [mat] = [
        m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey(["rva", name])
    ]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _ndjson_lines(s3, bucket: str) -> list[bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{STORE}/").get("Contents", [])]
    ndjson = [k for k in keys if k.endswith(".ndjson")]
    assert len(ndjson) == 1, keys
    return s3.get_object(Bucket=bucket, Key=ndjson[0])["Body"].read().splitlines()


def _bronze(store_day: StoreDay) -> list[dict]:
    table = open_catalog("lakehouse").load_table(BRONZE_TABLE)
    return table.scan(row_filter=partition_filter(store_day)).to_arrow().to_pylist()


@pytest.mark.timeout(900)
def test_materialize_the_store_day_end_to_end_and_again(
    stack, s3, fresh_buckets, unique_topic, short_clip, instance
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    s3.upload_file(str(short_clip), videos_bucket, GOOD)
    s3.put_object(Bucket=videos_bucket, Key=BROKEN, Body=b"these bytes are not a video")
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])
    resources = stack_resources(stack, videos_bucket, detections_bucket, unique_topic)

    first = _run(instance, resources)
    assert first.success

    # raw_videos: both listed, the broken one with its reason.
    videos = _metadata(first, "raw_videos")
    assert videos["videos"] == 2 and videos["unreadable_videos"] == 1
    manifest = first.output_for_node("rva__raw_videos").entries
    good = next(v for v in manifest if v.video.key == GOOD)
    assert good.readable and good.probe.fps == pytest.approx(10.0) and good.probe.frames == 30
    assert good.video.start_time.isoformat() == "2026-11-28T09:00:00+00:00"
    assert "cannot open" in next(v for v in manifest if v.video.key == BROKEN).error

    # detections: the good video inferred (the broken one reported, not fatal), real people found.
    det = _metadata(first, "detections")
    assert det["videos_inferred"] == 1 and det["videos_failed"] == 1
    # The asset processes 5 frames a second by default: every second frame of this 10 fps clip.
    assert det["frames_processed"] == MAX_FRAMES // 2
    assert det["detections"] > 0 and det["distinct_tracks"] > 0
    assert det["model"].count("@") == 1
    assert "data:image/jpeg;base64," in det["preview"]
    lines = _ndjson_lines(s3, detections_bucket)
    assert len(lines) == det["detections"] == det["dagster/row_count"]
    assert all(validate_line(line) == [] for line in lines)

    # pulsar_events: every line published once, with message ranges.
    events = _metadata(first, "pulsar_events")
    assert events["messages"] == len(lines) and events["messages_published_this_run"] == len(lines)
    assert GOOD in events["message_ranges"]

    # bronze_raw: exactly the NDJSON lines, each with its Pulsar message id.
    bronze_meta = _metadata(first, "bronze_raw")
    rows = _bronze(PARTITION)
    assert bronze_meta["dagster/row_count"] == len(rows) == len(lines)
    assert sorted(r["event_id"] for r in rows) == sorted(json.loads(line)["event_id"] for line in lines)
    assert all(r["pulsar_message_id"] for r in rows)
    assert bronze_meta["snapshot_id"] and bronze_meta["table"] == "lakehouse.rva.bronze_raw"

    checks = _checks(first)
    assert checks == {
        "ndjson_lines_match_schema": True,
        "every_requested_video_has_ndjson": False,  # the broken video, reported by name
        "published_messages_equal_ndjson_lines": True,
        "bronze_rows_equal_published_messages": True,
        "event_id_unique": True,
        "key_columns_not_null": True,
    }

    # Again: nothing re-inferred (invariant 3), nothing re-published, same bronze rows.
    second = _run(instance, resources)
    assert second.success
    det2 = _metadata(second, "detections")
    assert det2["videos_inferred"] == 0 and det2["videos_skipped_current"] == 1
    assert _metadata(second, "pulsar_events")["messages_published_this_run"] == 0
    rows2 = _bronze(PARTITION)
    assert sorted(r["event_id"] for r in rows2) == sorted(r["event_id"] for r in rows)
    assert sorted(r["pulsar_message_id"] for r in rows2) == sorted(r["pulsar_message_id"] for r in rows)

    # Forced: re-inferred; the deterministic output changes nothing downstream.
    forced = _run(instance, resources, force=True)
    assert forced.success
    assert _metadata(forced, "detections")["videos_inferred"] == 1
    assert _ndjson_lines(s3, detections_bucket) == lines
    assert len(_bronze(PARTITION)) == len(lines)

    # The video deleted from the bucket: its receipt goes, and bronze follows the bucket.
    s3.delete_object(Bucket=videos_bucket, Key=GOOD)
    after_delete = _run(instance, resources)
    assert after_delete.success
    assert _metadata(after_delete, "pulsar_events")["receipts_dropped"] == 1
    assert _bronze(PARTITION) == []
