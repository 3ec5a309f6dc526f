"""Test helpers: read a whole topic back, list who produced what."""

from __future__ import annotations

import pulsar

from retail_assets.streaming.schema import detection_event_schema


def read_whole_topic(client: pulsar.Client, topic: str, timeout_ms: int = 2000) -> list[pulsar.Message]:
    """Every message on `topic`, from the earliest, until the topic stays quiet for `timeout_ms`."""
    reader = client.create_reader(topic, pulsar.MessageId.earliest, schema=detection_event_schema())
    messages = []
    try:
        while True:
            try:
                messages.append(reader.read_next(timeout_ms))
            except pulsar.Timeout:
                return messages
    finally:
        reader.close()
