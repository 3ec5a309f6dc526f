"""Bad lines become dead letters with a reason and origin; the rest of the batch goes through."""

from __future__ import annotations

import json
from datetime import date

import pulsar
import pytest

from retail_assets.contracts.store_day import StoreDay
from retail_assets.streaming.dead_letters import read_dead_letters
from retail_assets.streaming.publish_video import publish_video
from retail_assets.streaming.reader import read_receipt
from retail_assets_tests.factories import detection_event, ndjson_bytes, ndjson_lines, video_key

DAY = date(2026, 11, 28)
PARTITION = StoreDay.parse("2026-11-28|store-001")
VIDEO = video_key("store-001", "cam-01", DAY)


def _event(i: int, **changes) -> bytes:
    event = detection_event("store-001", "cam-01", DAY, i, video=VIDEO)
    event.update(changes)
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


def test_each_kind_of_bad_line_is_dead_lettered_and_the_good_ones_are_published(
    pulsar_client, s3, unique_topic, receipt_store
) -> None:
    good = ndjson_lines("store-001", "cam-01", DAY, 50, video=VIDEO)
    oversized = _event(1000, attributes={"blob": "x" * (6 * 1024 * 1024)})  # 6 MiB: above the broker's limit
    big_but_fine = _event(1001, attributes={"blob": "y" * (1024 * 1024)})  # 1 MiB: under it
    bad = {
        3: b'{"schema_version": 1, "event_id": ',  # truncated: not JSON
        10: _event(1002, event_id=...),  # event_id missing
        20: _event(1003, schema_version=2),
        30: oversized,
        40: _event(1004, store_id="store-999"),
        45: _event(1005, ts="2026-11-28 09:00:00"),  # not ISO 8601 UTC
        48: _event(1006, camera_id="cam/01"),  # would corrupt the message key <store>/<camera>
    }
    lines: list[bytes] = []
    good_iter = iter(good)
    for number in range(1, 57):
        lines.append(bad[number] if number in bad else next(good_iter))
    lines.append(big_but_fine)
    key = f"{VIDEO}.best@0123456789ab.ndjson"
    s3.put_object(Bucket="detections", Key=key, Body=ndjson_bytes(lines))
    uri = f"s3://detections/{key}"

    receipt = publish_video(
        pulsar_client,
        s3,
        unique_topic,
        uri,
        store_day=PARTITION,
        run_id="run-dl",
        video_key=VIDEO,
        receipts=receipt_store,
    )
    assert receipt.messages_sent == 50 and receipt.dead_letters == 7 and receipt.lines_read == 57
    assert [m.payload for b in read_receipt(pulsar_client, receipt) for m in b] == [*good[:49], big_but_fine]

    letters = read_dead_letters(s3, "detections", PARTITION, VIDEO)
    assert [(d.line_number, d.source, d.run_id) for d in letters] == [(n, uri, "run-dl") for n in sorted(bad)]
    reasons = {d.line_number: d.reason for d in letters}
    assert reasons[3].startswith("not JSON")
    assert reasons[10] == "missing required field(s): event_id"
    assert reasons[20].startswith("unknown schema_version 2")
    assert "larger than the broker accepts" in reasons[30] and str(len(oversized)) in reasons[30]
    assert "store-999" in reasons[40]
    assert "not an ISO 8601 UTC time" in reasons[45]
    assert reasons[48].startswith("camera_id 'cam/01' must match")
    assert letters[3].size_bytes == len(oversized) and len(letters[3].line_preview) <= 2048
    assert (
        receipt.dead_letter_location == f"s3://detections/_dead_letters/2026-11-28/store-001/{VIDEO}.ndjson"
    )

    # The size limit is the broker's for real: sending that line directly is refused.
    producer = pulsar_client.create_producer(unique_topic, batching_enabled=False)
    with pytest.raises(pulsar.MessageTooBig):
        producer.send(oversized)
    producer.close()


def test_a_clean_republish_clears_the_previous_dead_letters(
    pulsar_client, s3, unique_topic, receipt_store
) -> None:
    key = f"{VIDEO}.best@0123456789ab.ndjson"
    uri = f"s3://detections/{key}"
    good = ndjson_lines("store-001", "cam-01", DAY, 5, video=VIDEO)
    s3.put_object(Bucket="detections", Key=key, Body=ndjson_bytes([*good, b"oops"]))
    kwargs = {"store_day": PARTITION, "run_id": "r", "video_key": VIDEO, "receipts": receipt_store}
    assert publish_video(pulsar_client, s3, unique_topic, uri, **kwargs).dead_letters == 1
    assert len(read_dead_letters(s3, "detections", PARTITION, VIDEO)) == 1
    s3.put_object(Bucket="detections", Key=key, Body=ndjson_bytes(good))
    assert publish_video(pulsar_client, s3, unique_topic, uri, **kwargs).dead_letters == 0
    assert read_dead_letters(s3, "detections", PARTITION, VIDEO) == []
