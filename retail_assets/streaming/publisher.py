"""Publishing NDJSON detection events to Pulsar, with a receipt that names exactly what was sent.

One call publishes one video's NDJSON. Lines are checked in chunks (see `validation`), good
ones are sent asynchronously by a batching producer with at most `max_pending` messages
unacknowledged (the sender waits instead of growing memory), bad ones become dead letters.
The returned `PublishReceipt` names the producer (unique per attempt) and the first and last
message ids: a reader can pick exactly these messages out of a topic that other producers
write to at the same time. Each attempt has a producer name of its own, so the broker's
deduplication (by producer name and sequence id) does not cover a publish that dies half-way:
it leaves orphan messages behind; they never count because only a receipt,
written after a complete flush, makes a publish visible to the bronze writer.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import _pulsar
import pulsar

from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import RetailAssetsError, SetupError
from retail_assets.streaming.dead_letters import DeadLetter, DeadLetterSink
from retail_assets.streaming.receipts import PublishReceipt
from retail_assets.streaming.schema import detection_event_schema
from retail_assets.streaming.validation import check_lines

# The C++ client refuses messages above the broker's limit (5 MiB by default, less a few KiB of
# headroom it keeps for metadata); stay a little below it so the check happens here, per line.
DEFAULT_MAX_MESSAGE_BYTES = 5 * 1024 * 1024 - 64 * 1024
CHUNK_LINES = 2000
# Message properties every published event carries.
PROP_PARTITION = "rva.partition"
PROP_RUN_ID = "rva.run_id"
PROP_VIDEO_KEY = "rva.video_key"
PROP_SOURCE = "rva.source"


class PublishError(RetailAssetsError):
    """A publish did not complete; no receipt was written, so nothing of it counts yet."""


@dataclass
class _Acks:
    """Acknowledgements of the tracked messages (first and last of each chunk).

    Called in the client's callback thread; `wait_for` lets the sender wait until a chunk is
    fully acknowledged (callbacks of one producer arrive in send order).
    """

    ok: int = 0
    failed: int = 0
    first: Any = None
    last: Any = None
    errors: list[str] = field(default_factory=list)
    _done: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, result: pulsar.Result, message_id: Any) -> None:
        # An exception raised here would abort the process (C++ callback thread): keep it plain.
        with self._done:
            if result == pulsar.Result.Ok:
                self.ok += 1
                if self.first is None or message_id < self.first:
                    self.first = message_id
                if self.last is None or message_id > self.last:
                    self.last = message_id
            else:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(str(result))
            self._done.notify_all()

    def wait_for(self, tracked: int, timeout_s: float) -> bool:
        """Wait until `tracked` tracked messages completed (or one failed); False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self.failed or self.ok >= tracked, timeout_s)


def new_producer_name(store_id: str) -> str:
    """Unique per publish attempt: the reader selects a receipt's messages by this name."""
    return f"rva-{store_id}-{uuid.uuid4().hex}"


def create_event_producer(
    client: pulsar.Client,
    topic: str,
    producer_name: str,
    *,
    max_pending: int = 10_000,
    send_timeout_ms: int = 30_000,
    batching: bool = True,
    attempts: int = 3,
    backoff_s: float = 1.0,
) -> pulsar.Producer:
    """A producer on `topic` with the detection-event JSON schema; bounded retries, then SetupError."""
    last_error: Exception | None = None
    for attempt in range(attempts):
        try:
            return client.create_producer(
                topic,
                producer_name=producer_name,
                schema=detection_event_schema(),
                batching_enabled=batching,
                batching_max_messages=1000,
                batching_max_allowed_size_in_bytes=1024 * 1024,
                batching_max_publish_delay_ms=10,
                block_if_queue_full=True,
                max_pending_messages=max_pending,
                send_timeout_millis=send_timeout_ms,
            )
        except Exception as exc:  # the client raises ConnectError, Timeout, ... depending on the fault
            last_error = exc
            if attempt + 1 < attempts:
                time.sleep(backoff_s * 2**attempt)
    raise SetupError(
        f"cannot create a Pulsar producer on {topic} after {attempts} attempts "
        f"({type(last_error).__name__}: {last_error}); check PULSAR_SERVICE_URL and that the broker is up"
    ) from last_error


def publish_ndjson(
    client: pulsar.Client,
    topic: str,
    lines: Iterable[bytes],
    *,
    source: str,
    store_day: StoreDay,
    run_id: str,
    video_key: str,
    dead_letters: DeadLetterSink,
    max_pending: int = 10_000,
    ndjson_etag: str | None = None,
    producer_name: str | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    send_timeout_ms: int = 30_000,
    chunk_lines: int = CHUNK_LINES,
    on_progress: Callable[[int], None] | None = None,
) -> PublishReceipt:
    """Publish one video's NDJSON lines; return the receipt after every message is acknowledged.

    Raises PublishError when the broker stops acknowledging (after the client's own reconnect
    attempts within `send_timeout_ms`), SetupError when no producer can be created.
    `on_progress(n)` is called after each chunk with the number of messages handed over so far.
    """
    producer_name = producer_name or new_producer_name(store_day.store_id)
    properties = {
        PROP_PARTITION: store_day.key,
        PROP_RUN_ID: run_id,
        PROP_VIDEO_KEY: video_key,
        PROP_SOURCE: source,
    }
    producer = create_event_producer(
        client, topic, producer_name, max_pending=max_pending, send_timeout_ms=send_timeout_ms
    )
    # Two per-message costs dominate a Python publisher, and both are avoided here:
    # - `Producer.send_async` re-checks every argument's type in Python; building the message
    #   directly skips that (the payload is the line itself, as the pass-through schema sends it);
    # - a Python callback per acknowledgement makes the client's I/O thread fight the sending
    #   thread for the GIL (measured: ~13 us of CPU per message). Most messages therefore get a
    #   built-in callback, `outcomes[result] = message_id`, which only records which results
    #   occurred; the first and last message of every chunk get the Python `_Acks`, which keeps
    #   the lowest and highest acknowledged ids for the receipt. Flush waits for every message.
    send_async = producer._producer.send_async
    acks = _Acks()
    outcomes: dict[Any, Any] = {}
    record = outcomes.__setitem__
    handed_over = lines_read = blank = tracked = 0
    # At most `max_pending` messages in flight, counted in whole chunks: before a chunk is sent,
    # the chunk `window` places back must be acknowledged. Waiting per chunk, not per message:
    # when the broker is slower than the sender, a full client queue would wake the sender once
    # per acknowledged message, each wake-up a thread and GIL hand-over.
    chunk_lines = max(1, min(chunk_lines, max_pending))
    window = max(1, max_pending // chunk_lines)
    in_flight: deque[int] = deque()  # tracked count once each unacknowledged chunk completes
    wait_s = send_timeout_ms / 1000 * 2 + 5  # the client fails messages itself after send_timeout_ms
    try:
        for numbers, chunk, blanks in _chunks(lines, chunk_lines):
            lines_read += len(chunk) + blanks
            blank += blanks
            checked = check_lines(chunk, numbers, store_day.store_id, max_message_bytes)
            for rejection in checked.rejections:
                dead_letters.add(
                    DeadLetter.from_line(
                        rejection.line,
                        reason=rejection.reason,
                        source=source,
                        line_number=rejection.line_number,
                        store_day=store_day,
                        run_id=run_id,
                        video_key=video_key,
                    )
                )
            if len(in_flight) >= window and not acks.wait_for(in_flight.popleft(), wait_s):
                acks.errors.append(f"no acknowledgement from the broker within {wait_s:.0f} s")
                break
            last_index = len(checked.lines) - 1
            for index in range(last_index + 1):
                builder = _pulsar.MessageBuilder()
                builder.content(checked.lines[index])
                builder.properties(properties)
                builder.partition_key(checked.message_keys[index])
                builder.event_timestamp(checked.event_ms[index])
                send_async(builder.build(), acks if index == 0 or index == last_index else record)
            handed_over += len(checked.lines)
            if checked.lines:
                tracked += min(len(checked.lines), 2)
                in_flight.append(tracked)
            if acks.failed or acks.errors or _failures(outcomes):
                break  # the broker is gone or refusing: stop early instead of timing out every chunk
            if on_progress is not None:
                on_progress(handed_over)
        if not (acks.failed or acks.errors or _failures(outcomes)):
            try:
                producer.flush()
            except Exception as exc:
                acks.errors.append(f"flush: {type(exc).__name__}: {exc}")
    finally:
        _close_quietly(producer)
    failures = _failures(outcomes)
    if acks.ok != tracked and not (acks.failed or failures or acks.errors):
        acks.errors.append(f"only {acks.ok} of {tracked} tracked acknowledgements arrived")
    if acks.failed or failures or acks.errors:
        raise PublishError(
            f"publishing {source} to {topic} did not complete: the broker did not acknowledge all of the "
            f"{handed_over} messages handed over ({'; '.join([*acks.errors, *failures]) or 'no acknowledgement'}). "
            "No receipt was written, so none of these messages count; run the publish again."
        )
    dead_letters.close()
    return PublishReceipt(
        topic=topic,
        producer_name=producer_name,
        messages_sent=handed_over,
        dead_letters=dead_letters.count,
        first_message_id=acks.first.serialize().hex() if acks.first is not None else None,
        last_message_id=acks.last.serialize().hex() if acks.last is not None else None,
        source=source,
        store_day=store_day,
        run_id=run_id,
        video_key=video_key,
        ndjson_etag=ndjson_etag,
        published_at=datetime.now(UTC).isoformat(),
        lines_read=lines_read,
        blank_lines=blank,
        dead_letter_location=dead_letters.location if dead_letters.count else None,
        properties=properties,
    )


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[tuple[list[int], list[bytes], int]]:
    """(1-based line numbers, non-blank lines without terminators, blank lines skipped) per chunk."""
    numbers: list[int] = []
    chunk: list[bytes] = []
    blanks = 0
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            blanks += 1  # counted in the receipt, not published: an empty line carries no event
            continue
        numbers.append(number)
        chunk.append(line)
        if len(chunk) >= size:
            yield numbers, chunk, blanks
            numbers, chunk, blanks = [], [], 0
    if chunk or blanks:
        yield numbers, chunk, blanks


def _failures(outcomes: dict[Any, Any]) -> list[str]:
    return [str(result) for result in list(outcomes) if result != pulsar.Result.Ok]


def _close_quietly(producer: pulsar.Producer) -> None:
    # Closing after a broker fault fails too; the publish error already says what happened.
    with contextlib.suppress(Exception):
        producer.close()
