"""The NDJSON v1 detection event: its JSON Schema (shipped in the package) and validation."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "detection_event.v1.schema.json"
# The fields every later stage relies on (message key, event time, partition, dedup).
KEY_FIELDS = ("schema_version", "event_id", "store_id", "camera_id", "ts")


@lru_cache(maxsize=1)
def event_schema() -> dict[str, Any]:
    text = resources.files("retail_assets.contracts").joinpath(SCHEMA_RESOURCE).read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(event_schema())
    return cls(event_schema(), format_checker=cls.FORMAT_CHECKER)


def schema_errors(event: Any) -> list[str]:
    """Human-readable schema violations of one decoded event (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(_validator().iter_errors(event), key=lambda e: list(e.absolute_path))
    ]


def validate_line(line: str | bytes) -> list[str]:
    """Schema violations of one NDJSON line, including 'not JSON'."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"not JSON: {exc}"]
    return schema_errors(event)
