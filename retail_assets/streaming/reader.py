"""Reading exactly a receipt's messages back from a topic other producers write to as well.

A reader starts at the receipt's first message id (inclusive) and stops at its last one. In
between, messages of other producers (other videos, other stores, orphans of crashed
publishes) are skipped: only messages from the receipt's producer name, which is unique per
publish attempt, are returned, and the first and last of them must carry the receipt's run and
video properties.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulsar

from retail_assets.errors import RetailAssetsError
from retail_assets.streaming.publisher import PROP_RUN_ID, PROP_VIDEO_KEY
from retail_assets.streaming.receipts import PublishReceipt
from retail_assets.streaming.schema import detection_event_schema

log = logging.getLogger(__name__)
# Far above the publisher's 1,000-message batches: see `read_receipt_columns` on reader stalls.
RECEIVER_QUEUE_SIZE = 20_000


class ReadError(RetailAssetsError):
    """A receipt's messages could not all be read back (retention, wrong topic, broker down)."""


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    payload: bytes
    message_id: str  # hex of MessageId.serialize()
    publish_ts_ms: int
    producer_name: str


@dataclass
class MessageColumns:
    """A batch of received messages, column by column (what the bronze writer consumes)."""

    payloads: list[bytes] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    publish_ts_ms: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.payloads)


def read_receipt_columns(
    client: pulsar.Client,
    receipt: PublishReceipt,
    batch_size: int = 50_000,
    timeout_ms: int = 2_000,
    reopen_attempts: int = 3,
    receiver_queue_size: int = RECEIVER_QUEUE_SIZE,
) -> Iterator[MessageColumns]:
    """The receipt's messages in publish order, `batch_size` at a time, as columns.

    When the broker goes quiet before the receipt's last message, the reader is reopened just
    after the last message seen: up to `reopen_attempts` times in a row without progress, then a
    ReadError names what is missing. Pulsar Lite 0.2.0 stops delivering to a reader whose receive
    queue is not much larger than the producer's batches (reproduced with a 1,000-message queue
    and 1,000-message batches); a new reader resumes where the old one stopped.
    """
    if receipt.messages_sent == 0 or receipt.first_message_id is None or receipt.last_message_id is None:
        return
    first = pulsar.MessageId.deserialize(bytes.fromhex(receipt.first_message_id))
    last = pulsar.MessageId.deserialize(bytes.fromhex(receipt.last_message_id))
    wanted = receipt.producer_name
    expected = {PROP_RUN_ID: receipt.run_id, PROP_VIDEO_KEY: receipt.video_key}
    batch = MessageColumns()
    read = 0
    seen = None  # id of the last message looked at, from any producer
    reopens_left = reopen_attempts
    read_at_reopen = -1
    reader = _open_reader(client, receipt, first, receiver_queue_size, inclusive=True)
    try:
        while True:
            try:
                # The raw reader skips the Python wrapper built around every message.
                msg = reader._reader.read_next(timeout_ms)
            except pulsar.Timeout as exc:
                if read_at_reopen < read:
                    reopens_left = reopen_attempts  # progress since the last stall: a new stall
                if reopens_left <= 0:
                    raise ReadError(
                        f"{receipt.topic} ended after {read} of the {receipt.messages_sent} messages of "
                        f"{receipt.video_key} (producer {wanted}, last seen {seen}, expected up to {last}); "
                        "the topic lost messages or is not the one published to. Re-publish the video."
                    ) from exc
                reopens_left -= 1
                read_at_reopen = read
                log.warning(
                    "reader of %s stalled after %d of %d messages of %s; reopening it after %s",
                    receipt.topic,
                    read,
                    receipt.messages_sent,
                    receipt.video_key,
                    seen,
                )
                _close_quietly(reader)
                reader = None  # closed: not to be closed again if reopening fails
                reader = _open_reader(
                    client, receipt, seen or first, receiver_queue_size, inclusive=seen is None
                )
                continue
            except Exception as exc:
                raise ReadError(
                    f"reading {receipt.topic} failed after {read} of {receipt.messages_sent} messages of "
                    f"{receipt.video_key} ({type(exc).__name__}: {exc}); check that the broker is up"
                ) from exc
            message_id = msg.message_id()
            if seen is not None and message_id <= seen:
                continue  # delivered again (after a reopen, or by the broker): already handled
            seen = message_id
            at_end = message_id >= last
            if msg.producer_name() == wanted:
                if read == 0 or at_end:
                    _check_properties(msg, expected, receipt)
                batch.payloads.append(msg.data())
                batch.message_ids.append(message_id.serialize().hex())
                batch.publish_ts_ms.append(msg.publish_timestamp())
                read += 1
                if read % batch_size == 0:
                    yield batch
                    batch = MessageColumns()
            if at_end:
                break
    finally:
        if reader is not None:
            _close_quietly(reader)
    if read < receipt.messages_sent:
        raise ReadError(
            f"found only {read} of the {receipt.messages_sent} messages of {receipt.video_key} "
            f"(producer {wanted}) between its first and last message id on {receipt.topic}"
        )
    if batch:
        yield batch


def _close_quietly(reader: pulsar.Reader) -> None:
    # Closing asks the broker; a broker that stopped answering makes it time out. The reader is
    # done with either way, and what the caller reports (a ReadError, or the messages read) is
    # what matters, not a bare Timeout from the close.
    with contextlib.suppress(Exception):
        reader.close()


def _open_reader(
    client: pulsar.Client, receipt: PublishReceipt, start: Any, receiver_queue_size: int, inclusive: bool
) -> pulsar.Reader:
    try:
        return client.create_reader(
            receipt.topic,
            start,
            schema=detection_event_schema(),
            receiver_queue_size=receiver_queue_size,
            start_message_id_inclusive=inclusive,
        )
    except Exception as exc:
        raise ReadError(
            f"cannot open a reader on {receipt.topic} for {receipt.video_key} ({type(exc).__name__}: {exc}); "
            "check PULSAR_SERVICE_URL and that the broker is up"
        ) from exc


def _check_properties(msg: Any, expected: dict[str, str], receipt: PublishReceipt) -> None:
    """The producer name selects a receipt's messages (it is unique per publish attempt); the
    properties of its first and last message are checked as well, which catches a receipt
    that does not belong to these messages (e.g. a producer name reused by hand)."""
    props = msg.properties()
    wrong = {name: props.get(name) for name, value in expected.items() if props.get(name) != value}
    if wrong:
        raise ReadError(
            f"messages of producer {receipt.producer_name} on {receipt.topic} carry {wrong}, not the receipt's "
            f"{expected}: the receipt of {receipt.video_key} does not describe these messages"
        )


def read_receipt(
    client: pulsar.Client,
    receipt: PublishReceipt,
    batch_size: int = 10_000,
    timeout_ms: int = 2_000,
    receiver_queue_size: int = RECEIVER_QUEUE_SIZE,
) -> Iterator[list[ReceivedMessage]]:
    """Exactly the receipt's messages, `batch_size` at a time."""
    for columns in read_receipt_columns(
        client, receipt, batch_size, timeout_ms, receiver_queue_size=receiver_queue_size
    ):
        yield [
            ReceivedMessage(payload, message_id, ts, receipt.producer_name)
            for payload, message_id, ts in zip(
                columns.payloads, columns.message_ids, columns.publish_ts_ms, strict=True
            )
        ]
