"""`retail-assets publish`: NDJSON detection events (file, S3 object or stdin) -> Pulsar.

Prints the publish receipt as JSON on stdout; dead letters go to a local NDJSON file. With
`--receipts-bucket` the receipt is also stored in S3, where the bronze writer finds it. The
broker's token comes from PULSAR_AUTH_TOKEN or PULSAR_AUTH_TOKEN_FILE, never from a flag (a flag
would show in the process list and the shell history).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from retail_assets.contracts.layout import check_key_path, parse_video_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.settings import DEFAULT_SERVICE_URL, DEFAULT_TOPIC, Settings
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import DEFAULT_MAX_MESSAGE_BYTES, publish_ndjson
from retail_assets.streaming.receipts import ReceiptStore
from retail_assets.streaming.sources import iter_source_lines

# The file published when FILE is not given (the producer image: `detections_output.ndjson`).
PUBLISH_FILE_SETTING = "RVA_PUBLISH_FILE"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = Settings.from_env()
    parser.add_argument(
        "source",
        metavar="FILE",
        nargs="?",
        default=os.environ.get(PUBLISH_FILE_SETTING) or None,
        help=f"NDJSON file, s3://bucket/key, or - for standard input (default: ${PUBLISH_FILE_SETTING}; "
        "the producer image sets it to detections_output.ndjson in its working directory)",
    )
    parser.add_argument(
        "--service-url",
        default=settings.pulsar_service_url,
        help=f"Pulsar service URL (default: $PULSAR_SERVICE_URL or {DEFAULT_SERVICE_URL})",
    )
    parser.add_argument(
        "--topic",
        default=settings.pulsar_topic,
        help=f"topic (default: $PULSAR_TOPIC or {DEFAULT_TOPIC})",
    )
    parser.add_argument(
        "--partition-key",
        type=StoreDay.parse,
        help="store-day partition <YYYY-MM-DD>|<store_id> (default: store_id and date of the first event)",
    )
    parser.add_argument(
        "--video-key",
        help="video object key <store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.<ext> the events came from "
        "(default: from the first event's video_uri)",
    )
    parser.add_argument("--run-id", help="run id recorded on every message (default: cli-<UTC time>)")
    parser.add_argument(
        "--dead-letters",
        help="local NDJSON file for rejected lines (default: <FILE>.dead-letters.ndjson, "
        "or dead-letters.ndjson for stdin and S3)",
    )
    parser.add_argument("--receipt", help="also write the receipt JSON to this file")
    parser.add_argument(
        "--receipts-bucket",
        help="store the receipt in this S3 bucket under _receipts/ so the bronze writer picks it up",
    )
    parser.add_argument(
        "--max-pending", type=int, default=10_000, help="bounded queue of unacknowledged messages"
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="longer lines become dead letters (default: just under the broker's 5 MiB)",
    )
    parser.add_argument(
        "--send-timeout-ms",
        type=int,
        default=30_000,
        help="give up on a message the broker has not acknowledged after this long (default 30000)",
    )
    parser.add_argument(
        "--operation-timeout", type=int, default=10, help="seconds for connecting and creating the producer"
    )


def run(args: argparse.Namespace) -> int:
    if not args.source:
        raise InputError(
            f"no NDJSON to publish: pass FILE (a path, s3://bucket/key or -) or set {PUBLISH_FILE_SETTING}"
        )
    s3 = _s3_client() if args.source.startswith("s3://") or args.receipts_bucket else None
    lines = iter_source_lines(args.source, s3)
    first_event, lines = _peek_first_event(lines)
    store_day = args.partition_key or _store_day_of(first_event, args.source)
    # The receipt and dead-letter keys are built from the video key, which may come from the
    # file's content: it is checked before anything is sent or written.
    video_key = parse_video_key(args.video_key).key if args.video_key else _video_of(first_event, args.source)
    run_id = args.run_id or f"cli-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    sink = LocalDeadLetterSink(args.dead_letters or _default_dead_letters(args.source))
    client = open_client(args.service_url, operation_timeout_s=args.operation_timeout)
    try:
        receipt = publish_ndjson(
            client,
            args.topic,
            lines,
            source=args.source,
            store_day=store_day,
            run_id=run_id,
            video_key=video_key,
            dead_letters=sink,
            max_pending=args.max_pending,
            max_message_bytes=args.max_message_bytes,
            send_timeout_ms=args.send_timeout_ms,
        )
    finally:
        client.close()
    if args.receipts_bucket:
        ReceiptStore(s3, args.receipts_bucket).put(receipt)
    text = receipt.to_json()
    if args.receipt:
        Path(args.receipt).write_text(text + "\n")
    print(text)
    print(
        f"published {receipt.messages_sent} events of {video_key} to {args.topic} "
        f"(partition {store_day.key}, producer {receipt.producer_name})",
        file=sys.stderr,
    )
    if receipt.dead_letters:
        print(f"{receipt.dead_letters} line(s) rejected, see {sink.location}", file=sys.stderr)
    return 0


def _s3_client():
    from retail_assets.objectstore import make_s3_client

    settings = Settings.from_env()
    return make_s3_client(settings.s3_endpoint_url, settings.s3_region)  # keys: boto3's own chain


def _peek_first_event(lines: Iterable[bytes]) -> tuple[dict | None, Iterator[bytes]]:
    """The first line that parses as a JSON object, and all lines (nothing consumed)."""
    seen: list[bytes] = []
    iterator = iter(lines)
    event = None
    for line in iterator:
        seen.append(line)
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict):
            event = candidate
            break
    return event, itertools.chain(seen, iterator)


def _store_day_of(event: dict | None, source: str) -> StoreDay:
    try:
        return StoreDay(date.fromisoformat(str(event["ts"])[:10]), str(event["store_id"]))  # type: ignore[index]
    except (TypeError, KeyError, ValueError) as exc:
        raise InputError(
            f"{source}: no event with store_id and ts to derive the partition from; pass --partition-key"
        ) from exc


def _video_of(event: dict | None, source: str) -> str:
    uri = (event or {}).get("video_uri")
    if isinstance(uri, str) and uri.startswith("s3://") and "/" in uri[5:]:
        key = uri[5:].split("/", 1)[1]
        try:
            return parse_video_key(key).key
        except InputError as exc:
            raise InputError(
                f"{source}: the first event's video_uri {uri!r} is not a video of the layout ({exc}); "
                "pass --video-key"
            ) from None
    return check_key_path(Path(source).name if source != "-" else "stdin", "video key")


def _default_dead_letters(source: str) -> str:
    if source == "-" or source.startswith("s3://"):
        return "dead-letters.ndjson"
    return f"{source}.dead-letters.ndjson"
