"""The Pulsar JSON schema of detection events, and a schema object that keeps payload bytes intact.

Pulsar JSON schemas are described by an Avro-style record definition. Consumers that read the
topic (a Flink SQL job with the JSON format, `pulsar-client` with `JsonSchema`) rely on that
definition, so the topic carries one mirroring NDJSON v1. The official Python `JsonSchema`
re-serialises a `Record` on every send, which would change the bytes (key order, spacing,
float formatting). `PassThroughJsonSchema` registers the same JSON schema definition but sends
the NDJSON line exactly as it was read, so the bronze `payload` equals the published line.
"""

from __future__ import annotations

from typing import Any

from pulsar.schema import Double, Integer, JsonSchema, Map, Record, String


class BoundingBox(Record):
    """`bbox` of a detection, in pixels."""

    x1 = Double(required=True)
    y1 = Double(required=True)
    x2 = Double(required=True)
    y2 = Double(required=True)


class DetectionEventV1(Record):
    """NDJSON v1 detection event as a Pulsar record (field names and types mirror the JSON Schema).

    `attributes` is free-form in NDJSON; the record declares it as a string map, which is what
    a SQL reader of the topic can type it as. Values are never rewritten by the publisher.
    """

    _avro_namespace = "retail.metadata"

    schema_version = Integer(required=True)
    event_id = String(required=True)
    event_type = String(required=True)
    store_id = String(required=True)
    camera_id = String(required=True)
    video_uri = String(required=True)
    video_etag = String(required=True)
    frame_index = Integer(required=True)
    pts_ms = Double(required=True)
    ts = String(required=True)
    track_id = Integer()
    class_id = Integer(required=True)
    label = String(required=True)
    confidence = Double(required=True)
    bbox = BoundingBox(required=True)
    frame_w = Integer(required=True)
    frame_h = Integer(required=True)
    model = String(required=True)
    tracker = String(required=True)
    attributes = Map(String())


class PassThroughJsonSchema(JsonSchema):
    """A JSON schema whose `encode` sends already-serialised JSON bytes unchanged."""

    def __init__(self) -> None:
        super().__init__(DetectionEventV1)

    def encode(self, obj: Any) -> bytes:
        if not isinstance(obj, bytes | bytearray | memoryview):
            raise TypeError(f"expected the NDJSON line as bytes, got {type(obj).__name__}")
        return bytes(obj)

    def decode(self, data: bytes) -> bytes:
        return data


def detection_event_schema() -> PassThroughJsonSchema:
    """The schema every producer and reader of the events topic uses."""
    return PassThroughJsonSchema()
