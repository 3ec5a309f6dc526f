"""Asset checks: the guarantees each step gives the next one.

They run inside their asset's step (declared as `check_specs`), so a blocking failure stops the
downstream steps of the same run: invalid NDJSON is never published, and a publish that lost or
dead-lettered lines never reaches bronze.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import dagster as dg

from retail_assets.contracts.events import validate_line
from retail_assets.defs.names import BRONZE_RAW, DETECTIONS, PULSAR_EVENTS
from retail_assets.detections.ndjson_store import StoreDayDetections, VideoDetections
from retail_assets.lakehouse.checks import Outcome
from retail_assets.streaming.receipts import PublishReceipt

NDJSON_SCHEMA_CHECK = "ndjson_lines_match_schema"
VIDEOS_COVERED_CHECK = "every_requested_video_has_ndjson"
PUBLISHED_CHECK = "published_messages_equal_ndjson_lines"
BRONZE_ROWS_CHECK = "bronze_rows_equal_published_messages"
EVENT_ID_UNIQUE_CHECK = "event_id_unique"
KEYS_NOT_NULL_CHECK = "key_columns_not_null"
SILVER_TRACKS_CHECK = "one_row_per_bronze_track"
FOOTFALL_CHECK = "footfall_within_crossing_tracks"
OCCUPANCY_CHECK = "occupancy_within_frame_counts"
FALL_FRAMES_CHECK = "fall_frames_exist"
BRONZE_KEY_COLUMNS = ("event_id", "store_id", "camera_id", "event_ts", "event_date", "pulsar_message_id")
MAX_REPORTED = 20


def check_ndjson_schema(client: Any, ndjson: Iterable[VideoDetections]) -> dg.AssetCheckResult:
    """Every line of the given NDJSON objects validates against the v1 schema."""
    lines = 0
    objects = 0
    problems: list[str] = []
    for entry in ndjson:
        objects += 1
        body = client.get_object(Bucket=entry.bucket, Key=entry.ndjson_key)["Body"]
        in_object = 0
        for line in body.iter_lines():
            in_object += 1
            for error in validate_line(line):
                if len(problems) < MAX_REPORTED:
                    problems.append(f"{entry.ndjson_uri} line {in_object}: {error}")
        lines += in_object
        if in_object != entry.lines:
            problems.append(f"{entry.ndjson_uri}: {in_object} lines, its metadata says {entry.lines}")
    return dg.AssetCheckResult(
        asset_key=DETECTIONS,
        check_name=NDJSON_SCHEMA_CHECK,
        passed=not problems,
        metadata={
            "objects_validated": objects,
            "lines_validated": lines,
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
        description=None if not problems else f"{len(problems)}+ schema violations, first: {problems[0]}",
    )


def check_videos_covered(value: StoreDayDetections) -> dg.AssetCheckResult:
    failures = [{"video": f.uri, "error": f.error} for f in value.failures]
    return dg.AssetCheckResult(
        asset_key=DETECTIONS,
        check_name=VIDEOS_COVERED_CHECK,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "videos_failed": len(failures),
            "failed": dg.MetadataValue.json(failures[:MAX_REPORTED]),
        },
    )


def check_published(
    current: Iterable[VideoDetections], receipts: dict[str, PublishReceipt]
) -> dg.AssetCheckResult:
    """For each current NDJSON object, the receipt's messages == its lines and none dead-lettered."""
    current = list(current)
    mismatches = []
    for entry in current:
        receipt = receipts.get(entry.video.key)
        sent = receipt.messages_sent if receipt else 0
        dead = receipt.dead_letters if receipt else 0
        if receipt is None or sent != entry.lines or dead:
            mismatches.append(
                {
                    "video": entry.video.key,
                    "ndjson_lines": entry.lines,
                    "published": sent,
                    "dead_letters": dead,
                }
            )
    return dg.AssetCheckResult(
        asset_key=PULSAR_EVENTS,
        check_name=PUBLISHED_CHECK,
        passed=not mismatches,
        metadata={
            "ndjson_lines": sum(e.lines for e in current),
            "messages": sum(r.messages_sent for r in receipts.values()),
            "mismatches": dg.MetadataValue.json(mismatches[:MAX_REPORTED]),
        },
    )


def outcome_result(asset_key: dg.AssetKey, check_name: str, outcome: Outcome) -> dg.AssetCheckResult:
    """A silver/gold check's outcome (`lakehouse/checks.py`) as Dagster reports it."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=outcome.passed,
        metadata={
            **outcome.facts,
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in outcome.problems) or "none"),
        },
        description=None
        if outcome.passed
        else f"first problem: {outcome.problems[0] if outcome.problems else '?'}",
    )


def check_bronze_rows(rows: int, expected: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=BRONZE_RAW,
        check_name=BRONZE_ROWS_CHECK,
        passed=rows == expected,
        metadata={"bronze_rows": rows, "published_messages": expected},
    )


def check_event_id_unique(event_ids: list[str]) -> dg.AssetCheckResult:
    duplicates = [eid for eid, n in Counter(event_ids).items() if n > 1]
    return dg.AssetCheckResult(
        asset_key=BRONZE_RAW,
        check_name=EVENT_ID_UNIQUE_CHECK,
        passed=not duplicates,
        metadata={
            "rows": len(event_ids),
            "duplicates": len(duplicates),
            "examples": json.dumps(duplicates[:5]),
        },
    )


def check_keys_not_null(null_counts: dict[str, int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=BRONZE_RAW,
        check_name=KEYS_NOT_NULL_CHECK,
        passed=not any(null_counts.values()),
        metadata={"null_counts": dg.MetadataValue.json(null_counts)},
    )
