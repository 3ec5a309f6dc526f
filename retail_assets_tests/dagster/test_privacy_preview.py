"""`detections` with RVA_BLUR_PEOPLE on: the stored and shown preview hides the people, and an
unblurred preview stored earlier is never shown."""

import json

import dagster as dg
import pytest

from retail_assets.contracts.layout import preview_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.assets.detections import detections
from retail_assets.defs.assets.videos import raw_videos
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.detections.ndjson_store import META_PREVIEW_BLURRED, META_PREVIEW_FRAME
from retail_assets_tests.dagster.conftest import stack_resources
from retail_assets_tests.privacy_checks import assert_people_hidden, decode, frame_of

STORE = "store-priv01"
PARTITION = StoreDay.parse(f"2026-11-28|{STORE}")
VIDEO = f"{STORE}/cam-1/2026-11-28/090000.avi"
MAX_FRAMES = 6  # DeepSort confirms tracks from the third frame on


def _detections_metadata(instance, resources) -> dict:
    result = dg.materialize(
        [raw_videos, detections],
        partition_key=PARTITION.key,
        instance=instance,
        resources=resources,
        run_config={"ops": {DETECTIONS_OP: {"config": {"max_frames": MAX_FRAMES}}}},
    )
    assert result.success
    [mat] = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["rva", "detections"])
    ]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


@pytest.mark.timeout(300)
def test_the_preview_is_stored_and_shown_blurred_and_an_unblurred_one_is_never_shown(
    stack, s3, fresh_buckets, short_clip, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RVA_BLUR_PEOPLE", "true")
    videos_bucket, detections_bucket = fresh_buckets
    s3.upload_file(str(short_clip), videos_bucket, VIDEO)
    instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])
    # Only the object store is used by these two assets.
    resources = {
        "object_store": stack_resources(stack, videos_bucket, detections_bucket, "unused")["object_store"]
    }

    first = _detections_metadata(instance, resources)
    assert first["videos_inferred"] == 1 and first["people_blurred"] is True
    assert "data:image/jpeg;base64," in first["preview"]

    [ndjson_key] = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=detections_bucket)["Contents"]
        if o["Key"].endswith(".ndjson")
    ]
    stored = s3.get_object(Bucket=detections_bucket, Key=preview_key(ndjson_key))
    assert stored["Metadata"][META_PREVIEW_BLURRED] == "true"
    index = int(stored["Metadata"][META_PREVIEW_FRAME])
    events = [
        json.loads(line)
        for line in s3.get_object(Bucket=detections_bucket, Key=ndjson_key)["Body"].iter_lines()
    ]
    boxes = [
        tuple(e["bbox"][k] for k in ("x1", "y1", "x2", "y2")) for e in events if e["frame_index"] == index
    ]
    assert boxes, f"no events in the preview's frame {index}"
    assert_people_hidden(decode(stored["Body"].read()), frame_of(str(short_clip), index), boxes)

    # Nothing to infer: the stored (blurred) preview is shown.
    second = _detections_metadata(instance, resources)
    assert second["videos_inferred"] == 0 and "data:image/jpeg;base64," in second["preview"]

    # A preview stored before blurring existed (no `blurred` metadata) shows the faces: never shown.
    s3.put_object(
        Bucket=detections_bucket,
        Key=preview_key(ndjson_key),
        Body=s3.get_object(Bucket=detections_bucket, Key=preview_key(ndjson_key))["Body"].read(),
        ContentType="image/jpeg",
    )
    third = _detections_metadata(instance, resources)
    assert third["videos_inferred"] == 0 and "preview" not in third
