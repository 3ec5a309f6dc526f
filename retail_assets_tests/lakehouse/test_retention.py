"""Raw-data retention on the real stack: exactly the old objects of videos that bronze holds go."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from retail_assets.contracts.falls import fall_frame_key
from retail_assets.contracts.layout import dead_letter_key, footage_expired_key, preview_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.lakehouse.retention import NDJSON, RECEIPTS, VIDEOS, RetentionPolicy, apply_retention
from retail_assets.objectstore import iter_objects
from retail_assets.settings import MaintenanceSettings
from retail_assets.streaming.receipts import ReceiptStore
from retail_assets_tests.factories import ndjson_bytes, ndjson_lines, video_key
from retail_assets_tests.lakehouse.helpers import publish, write_partition, write_videos

DAY = date(2026, 11, 28)
PARTITION = StoreDay(DAY, "store-001")
FINGERPRINT = "best@0123456789ab"


def _keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in iter_objects(s3, bucket)}


def _video(
    s3, videos: str, detections: str, camera: str, hhmmss: str = "090000"
) -> tuple[str, str, set[str]]:
    """A video with its NDJSON, preview and a fall frame; (video, NDJSON uri, derived keys)."""
    video = video_key("store-001", camera, DAY, hhmmss)
    s3.put_object(Bucket=videos, Key=video, Body=b"footage of " + video.encode())
    ndjson = f"{video}.{FINGERPRINT}.ndjson"
    s3.put_object(
        Bucket=detections,
        Key=ndjson,
        Body=ndjson_bytes(ndjson_lines("store-001", camera, DAY, 40, video=video)),
    )
    derived = {
        ndjson,
        preview_key(ndjson),
        fall_frame_key(video, "0" * 32),
    }
    for key in derived - {ndjson}:
        s3.put_object(Bucket=detections, Key=key, Body=b"derived")
    return video, f"s3://{detections}/{ndjson}", derived


def _dead_letter(s3, detections: str, video: str, derived: set[str]) -> None:
    """A dead letter of the video (after its publish, which replaces the video's dead letters)."""
    key = dead_letter_key(PARTITION, video)
    s3.put_object(Bucket=detections, Key=key, Body=b'{"reason": "test"}')
    derived.add(key)


def test_retention_deletes_exactly_the_old_objects_that_no_pending_store_day_needs(
    stack, s3, pipeline_s3, pulsar_client, unique_topic
) -> None:
    suffix = uuid.uuid4().hex[:10]
    videos, detections = f"videos-{suffix}", f"detections-{suffix}"  # this test's objects only
    for bucket in (videos, detections):
        s3.create_bucket(Bucket=bucket)
    receipts = ReceiptStore(s3, detections)
    table_id = f"rva.bronze_{uuid.uuid4().hex[:10]}"
    catalog = open_catalog("lakehouse")
    # Old objects: a (in bronze), b (published, not in bronze yet), c (never published).
    a, a_uri, a_derived = _video(s3, videos, detections, "cam-01")
    b, b_uri, b_derived = _video(s3, videos, detections, "cam-02")
    c, _, c_derived = _video(s3, videos, detections, "cam-03")
    publish(pulsar_client, s3, unique_topic, a_uri, a, receipts)
    publish(pulsar_client, s3, unique_topic, b_uri, b, receipts)
    for video, derived in ((a, a_derived), (b, b_derived), (c, c_derived)):
        _dead_letter(s3, detections, video, derived)
    s3.put_object(Bucket=videos, Key="notes/readme.txt", Body=b"not a video")  # fits no layout
    time.sleep(1.5)  # S3 modification times have one-second resolution
    cut = datetime.now(UTC)
    time.sleep(1.5)
    # A young object: d, in bronze, written after the cut.
    d, d_uri, d_derived = _video(s3, videos, detections, "cam-04")
    publish(pulsar_client, s3, unique_topic, d_uri, d, receipts)
    _dead_letter(s3, detections, d, d_derived)
    in_bronze = [r for r in receipts.list_partition(PARTITION) if r.video_key in (a, d)]
    write_partition(catalog, pulsar_client, in_bronze, table_id, PARTITION, "bronze")

    before = {videos: _keys(s3, videos), detections: _keys(s3, detections)}
    policy = RetentionPolicy.from_days(videos=1, ndjson=1, receipts=1, dead_letters=1)
    later = cut + timedelta(days=1)  # a day after the cut: what was written before it is a day old
    run = dict(
        videos_s3=s3, detections_s3=pipeline_s3, videos_bucket=videos, detections_bucket=detections,
        catalog=catalog, bronze_table=table_id, policy=policy, now=later,
    )  # fmt: skip

    dry = apply_retention(**run, dry_run=True)
    assert {videos: _keys(s3, videos), detections: _keys(s3, detections)} == before
    report = apply_retention(**run)
    assert report.deleted_keys == dry.deleted_keys

    expected = {f"{videos}/{a}"} | {f"{detections}/{k}" for k in a_derived}
    expected.add(f"{detections}/{receipts.key_for(PARTITION, a)}")
    assert set(report.deleted_keys) == expected
    after = {videos: _keys(s3, videos), detections: _keys(s3, detections)}
    remaining = {
        bucket: {k for k in keys if f"{bucket}/{k}" not in expected} for bucket, keys in before.items()
    }
    # The deleted video leaves a marker, so a re-run of its day keeps its receipt's rows.
    remaining[detections].add(footage_expired_key(PARTITION, a))
    assert after == remaining
    # Kept: the pending videos' objects whatever their age, the young ones, the unrecognised key.
    for video, derived in ((b, b_derived), (c, c_derived), (d, d_derived)):
        assert video in after[videos] and derived <= after[detections]
    assert receipts.key_for(PARTITION, b) in after[detections]
    assert "notes/readme.txt" in after[videos] and report.unrecognised == 1
    assert set(report.pending_videos) == {b, c}
    assert report.of(VIDEOS).deleted == 1 and report.of(VIDEOS).kept_pending == 2
    assert report.of(NDJSON).deleted == 3 and report.of(RECEIPTS).deleted == 1

    # Once b reaches bronze it is no longer pending: the next run takes its old objects too.
    # (b's own rows are written: a whole-day rebuild would refuse, a's receipt being gone.)
    b_receipt = [r for r in receipts.list_partition(PARTITION) if r.video_key == b]
    write_videos(catalog, pulsar_client, b_receipt, table_id, PARTITION, "again", video_keys=[b])
    second = apply_retention(**run)
    assert f"{videos}/{b}" in second.deleted_keys and f"{videos}/{c}" not in second.deleted_keys
    assert footage_expired_key(PARTITION, b) in _keys(s3, detections)
    assert second.unrecognised == 1  # the markers are not counted as strangers
    assert f"{videos}/{d}" not in second.deleted_keys


def test_retention_is_off_unless_set_and_bad_values_name_the_setting(monkeypatch) -> None:
    for name in (
        "RVA_RETAIN_VIDEOS_DAYS",
        "RVA_RETAIN_NDJSON_DAYS",
        "RVA_RETAIN_RECEIPTS_DAYS",
        "RVA_RETAIN_DEAD_LETTERS_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = MaintenanceSettings.from_env()
    assert settings.retain_videos_days is None and settings.retain_dead_letters_days is None
    assert not RetentionPolicy.from_days().enabled
    monkeypatch.setenv("RVA_RETAIN_VIDEOS_DAYS", "thirty")
    with pytest.raises(InputError, match="RVA_RETAIN_VIDEOS_DAYS='thirty' is not a number"):
        MaintenanceSettings.from_env()
    monkeypatch.setenv("RVA_RETAIN_VIDEOS_DAYS", "-1")
    with pytest.raises(InputError, match="RVA_RETAIN_VIDEOS_DAYS='-1' must be at least 0"):
        MaintenanceSettings.from_env()
    monkeypatch.setenv("RVA_RETAIN_VIDEOS_DAYS", "30")
    assert MaintenanceSettings.from_env().retain_videos_days == 30
