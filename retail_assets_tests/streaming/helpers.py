"""Test helpers: read a whole topic back, list who produced what."""

from __future__ import annotations

import pulsar

from retail_assets.streaming.schema import detection_event_schema


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
