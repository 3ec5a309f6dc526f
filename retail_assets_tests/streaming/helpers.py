"""Test helpers: read a whole topic back, list who produced what."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pulsar

from retail_assets.contracts.store_day import StoreDay
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import PublishReceipt, publish_ndjson
from retail_assets.streaming.schema import detection_event_schema
from retail_assets_tests.factories import video_key

DAY = date(2026, 11, 28)
PARTITION = StoreDay.parse("2026-11-28|store-001")


def publish_lines(
    client: pulsar.Client,
    topic: str,
    lines: list[bytes],
    tmp_path: Path,
    *,
    video: str | None = None,
    run_id: str = "run-1",
    **kwargs: Any,
) -> PublishReceipt:
    """Publish `lines` as one video of PARTITION (cam-01 unless `video`), dead letters under tmp_path."""
    video = video or video_key("store-001", "cam-01", DAY)
    return publish_ndjson(
        client,
        topic,
        lines,
        source=f"s3://detections/{video}.ndjson",
        store_day=PARTITION,
        run_id=run_id,
        video_key=video,
        dead_letters=LocalDeadLetterSink(tmp_path / f"dead-{run_id}.ndjson"),
        **kwargs,
    )


def read_whole_topic(client: pulsar.Client, topic: str, timeout_ms: int = 2000) -> list[pulsar.Message]:
    """Every message on `topic` once, from the earliest, until the topic stays quiet for `timeout_ms`.

    A message delivered twice to the reader (same message id) is kept once.
    """
    reader = client.create_reader(topic, pulsar.MessageId.earliest, schema=detection_event_schema())
    messages: dict[bytes, pulsar.Message] = {}
    try:
        while True:
            try:
                msg = reader.read_next(timeout_ms)
            except pulsar.Timeout:
                return list(messages.values())
            messages.setdefault(msg.message_id().serialize(), msg)
    finally:
        reader.close()
