"""Checking NDJSON lines before they are published: the fields every later stage relies on.

The publisher checks what routing, event time, partitioning and de-duplication need (the
contract's KEY_FIELDS, `schema_version` == 1, a UTC `ts`, the partition's store), not the
whole JSON Schema: the detections stage validates fully, and a full validation per line would
cost more than publishing it. A chunk of lines is parsed by Arrow's JSON reader in one call
(fast path); when anything in the chunk is off, each line is checked on its own so every bad
line gets its own reason while the good ones go through.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from retail_assets.contracts.events import KEY_FIELDS, SCHEMA_VERSION
from retail_assets.contracts.ids import ID_PATTERN

# Same pattern as `ts` in the JSON Schema: ISO 8601 in UTC.
_TS_BODY = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)"
# The anchored forms are for Arrow's RE2, whose `$` is the end of the text. Python's `$` also
# matches before a final newline, so Python checks the unanchored bodies with `fullmatch`.
TS_PATTERN = f"^{_TS_BODY}$"
_TS = re.compile(_TS_BODY)
# The camera id becomes part of the message key `<store_id>/<camera_id>`: keep it a plain id.
CAMERA_PATTERN = f"^{ID_PATTERN}$"
_CAMERA = re.compile(ID_PATTERN)
_KEY_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        ("event_id", pa.string()),
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("ts", pa.string()),
    ]
)


@dataclass(frozen=True)
class Rejection:
    line_number: int  # 1-based, in the source
    reason: str
    line: bytes


@dataclass
class CheckedChunk:
    """Good lines with what the publisher needs for each, plus the rejected ones."""

    lines: list[bytes] = field(default_factory=list)
    message_keys: list[str] = field(default_factory=list)  # `<store_id>/<camera_id>`
    event_ms: list[int] = field(default_factory=list)  # `ts` in epoch milliseconds
    rejections: list[Rejection] = field(default_factory=list)


def check_lines(
    lines: list[bytes], line_numbers: list[int], store_id: str, max_message_bytes: int
) -> CheckedChunk:
    """Split `lines` into publishable events and rejections (one reason each, by line number)."""
    out = CheckedChunk()
    candidates: list[tuple[int, bytes]] = []
    for number, line in zip(line_numbers, lines, strict=True):
        if len(line) > max_message_bytes:
            out.rejections.append(
                Rejection(
                    number,
                    f"line of {len(line)} bytes is larger than the broker accepts ({max_message_bytes} bytes)",
                    line,
                )
            )
        elif b"\n" in line:
            out.rejections.append(Rejection(number, "line contains a newline", line))
        else:
            candidates.append((number, line))
    if candidates and not _fast_path(candidates, store_id, out):
        for number, line in candidates:
            _check_one(number, line, store_id, out)
    out.rejections.sort(key=lambda r: r.line_number)
    return out


def _fast_path(candidates: list[tuple[int, bytes]], store_id: str, out: CheckedChunk) -> bool:
    """Check all candidates with one Arrow parse; False when any line needs a closer look."""
    try:
        table = read_json_fields([line for _, line in candidates], _KEY_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    if not all_present(table, len(candidates)):
        return False
    versions_ok = pc.all(pc.equal(table["schema_version"], SCHEMA_VERSION)).as_py()
    stores_ok = pc.all(pc.equal(table["store_id"], store_id)).as_py()
    ts_ok = pc.all(pc.match_substring_regex(table["ts"], TS_PATTERN)).as_py()
    cameras_ok = pc.all(pc.match_substring_regex(table["camera_id"], CAMERA_PATTERN)).as_py()
    if not (versions_ok and stores_ok and ts_ok and cameras_ok):
        return False
    try:
        micros = parse_utc_timestamps(table["ts"])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    millis = pc.divide(pc.cast(micros, pa.int64()), 1000).to_pylist()
    keys = pc.binary_join_element_wise(table["store_id"], table["camera_id"], "/").to_pylist()
    out.lines.extend(line for _, line in candidates)
    out.message_keys.extend(keys)
    out.event_ms.extend(millis)
    return True


def read_json_fields(lines: list[bytes], fields: pa.Schema) -> pa.Table:
    """The given fields of JSON object lines, in one Arrow parse (other fields are ignored).

    Raises pyarrow's ArrowInvalid / ArrowTypeError when a line is not JSON or a field has
    another type; a missing field comes back as null (see `all_present`).
    """
    block = b"\n".join(lines)
    return pa_json.read_json(
        io.BytesIO(block),
        # one block for the whole input: Arrow would otherwise split it at 1 MiB boundaries
        read_options=pa_json.ReadOptions(block_size=max(len(block) + 1, 1 << 20)),
        parse_options=pa_json.ParseOptions(explicit_schema=fields, unexpected_field_behavior="ignore"),
    )


def all_present(table: pa.Table, expected_rows: int) -> bool:
    """Whether `read_json_fields` found one row per line and every field in every row."""
    return table.num_rows == expected_rows and not any(column.null_count for column in table.columns)


def parse_utc_timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """ISO 8601 UTC strings (already matching TS_PATTERN) -> timestamp[us, UTC].

    Digits beyond microseconds are cut off first, as `datetime.fromisoformat` does on the
    per-line path, so a `ts` with nanoseconds is accepted (and stored) the same way by the
    publisher and by the bronze writer.
    """
    trimmed = pc.replace_substring_regex(values, r"(\.\d{6})\d+", r"\1")
    return pc.cast(trimmed, pa.timestamp("us", tz="UTC"))


def _check_one(number: int, line: bytes, store_id: str, out: CheckedChunk) -> None:
    reason, key, millis = check_event_line(line, store_id)
    if reason is not None:
        out.rejections.append(Rejection(number, reason, line))
        return
    out.lines.append(line)
    out.message_keys.append(key)
    out.event_ms.append(millis)


def check_event_line(line: bytes, store_id: str) -> tuple[str | None, str, int]:
    """(reason or None, message key, event time in ms) for one line."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not JSON: {exc}", "", 0
    if not isinstance(event, dict):
        return f"not a JSON object but a {type(event).__name__}", "", 0
    missing = [name for name in KEY_FIELDS if event.get(name) is None]
    if missing:
        return f"missing required field(s): {', '.join(missing)}", "", 0
    version = event["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        return f"unknown schema_version {version!r} (this publisher knows {SCHEMA_VERSION})", "", 0
    for name in ("event_id", "store_id", "camera_id", "ts"):
        if not isinstance(event[name], str):
            return f"field {name} must be a string, got {type(event[name]).__name__}", "", 0
    if event["store_id"] != store_id:
        return f"store_id {event['store_id']!r} does not belong to this partition's store {store_id!r}", "", 0
    if not _CAMERA.fullmatch(event["camera_id"]):
        return f"camera_id {event['camera_id']!r} must match {ID_PATTERN}", "", 0
    ts = event["ts"]
    if not _TS.fullmatch(ts):
        return f"ts {ts!r} is not an ISO 8601 UTC time (e.g. 2026-11-28T09:00:00.400Z)", "", 0
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError as exc:
        return f"ts {ts!r} is not a valid time: {exc}", "", 0
    return None, f"{event['store_id']}/{event['camera_id']}", int(moment.timestamp() * 1000)
