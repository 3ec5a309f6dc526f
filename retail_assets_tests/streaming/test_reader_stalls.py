"""The receipt reader when the broker goes quiet mid-read: reopened after a real stall, or a clear error.

These tests freeze a Pulsar Lite broker of their own (SIGSTOP), never the session's: the reader's
receive queue runs dry, `read_next` times out and the reader takes its reopen path. The broker
is thawed (SIGCONT) from inside that path, by a log handler that sees the reader's "stalled"
warning, so the reopen meets a live broker without any sleep or timing guess.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pulsar
import pytest
from pulsar_lite.binary_finder import find_pulsar_lite_binary

from retail_assets.contracts.store_day import StoreDay
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import publish_ndjson
from retail_assets.streaming.reader import ReadError, read_receipt_columns
from retail_assets.streaming.receipts import PublishReceipt
from retail_assets_tests.factories import ndjson_lines, video_key

DAY = date(2026, 11, 28)
PARTITION = StoreDay(DAY, "store-001")
TOPIC = "persistent://retail/metadata/stalls"
# Far more than the client buffers from the socket before the broker is frozen (about 12,000 of
# these 530-byte lines on loopback), so the reader is still waiting for messages when it stalls.
MESSAGES = 30_000


@dataclass
class OwnBroker:
    url: str
    process: subprocess.Popen

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    """A Pulsar Lite broker started for these tests only (as `retail_assets.stack` starts one)."""
    data = tmp_path_factory.mktemp("own-broker")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(data / "broker.log", "ab") as log:
        process = subprocess.Popen(
            [find_pulsar_lite_binary(), "--addr", f"127.0.0.1:{port}", "--db-path", str(data / "broker.db"),
             "--log-level", "error"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    broker = OwnBroker(f"pulsar://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 30
        while not _accepts_connections(port):
            assert process.poll() is None, (data / "broker.log").read_text()
            assert time.monotonic() < deadline, "the test's own Pulsar Lite never listened"
        yield broker
    finally:
        broker.thaw()
        process.kill()
        process.wait(10)


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def published(
    own_broker: OwnBroker, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PublishReceipt, list[bytes]]:
    video = video_key("store-001", "cam-01", DAY)
    lines = ndjson_lines("store-001", "cam-01", DAY, MESSAGES, video=video)
    client = open_client(own_broker.url)
    try:
        receipt = publish_ndjson(
            client,
            TOPIC,
            lines,
            source=f"s3://detections/{video}.ndjson",
            store_day=PARTITION,
            run_id="run-1",
            video_key=video,
            dead_letters=LocalDeadLetterSink(tmp_path_factory.mktemp("dead") / "dead.ndjson"),
        )
    finally:
        client.close()
    assert receipt.messages_sent == MESSAGES
    return receipt, lines


class _StallWarnings(logging.Handler):
    """Collects the reader's stall warnings; runs `on_stall` (in the reader's thread) on each."""

    def __init__(self, on_stall: Callable[[], None] = lambda: None) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.on_stall = on_stall

    def emit(self, record: logging.LogRecord) -> None:
        if "stalled" in record.getMessage():
            self.messages.append(record.getMessage())
            self.on_stall()


@pytest.fixture
def stall_warnings() -> Iterator[_StallWarnings]:
    handler = _StallWarnings()
    logger = logging.getLogger("retail_assets.streaming.reader")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_reader_stalled_by_a_frozen_broker_is_reopened_and_reads_every_message(
    own_broker: OwnBroker, published, stall_warnings: _StallWarnings
) -> None:
    receipt, lines = published
    stall_warnings.on_stall = own_broker.thaw  # the broker comes back while the reader reopens
    client = open_client(own_broker.url, operation_timeout_s=10)
    try:
        batches = read_receipt_columns(
            client, receipt, batch_size=500, timeout_ms=1000, receiver_queue_size=100
        )
        first = next(batches)
        own_broker.freeze()  # the reader has 500 messages; what it has not received yet stays put
        try:
            rest = [batch for batch in batches]
        finally:
            own_broker.thaw()
    finally:
        client.close()
    got = first.payloads + [payload for batch in rest for payload in batch.payloads]
    message_ids = first.message_ids + [mid for batch in rest for mid in batch.message_ids]
    # The stall and the reopen happened, part-way through the receipt. A broker just thawed may
    # take longer than the reader's 1 s wait to answer the new reader, so the reopen can be tried
    # again from the same point (within the reader's budget of 3 reopens without progress).
    assert 1 <= len(stall_warnings.messages) <= 3, stall_warnings.messages
    positions = {int(m.split("stalled after ")[1].split(" ")[0]) for m in stall_warnings.messages}
    assert len(positions) == 1, stall_warnings.messages
    assert 500 <= positions.pop() < MESSAGES
    assert f"of {MESSAGES} messages of {receipt.video_key}" in stall_warnings.messages[0]
    # ...and the result is every message exactly once, in publish order.
    assert got == lines
    assert len(set(message_ids)) == MESSAGES


def test_a_receipt_whose_last_messages_never_arrive_fails_after_the_reopens(
    own_broker: OwnBroker, published, stall_warnings: _StallWarnings
) -> None:
    """The topic lost the receipt's tail (retention, or not the topic published to): a real
    stall at the end of what the topic holds, reopened `reopen_attempts` times, then ReadError."""
    receipt, _ = published
    last = pulsar.MessageId.deserialize(bytes.fromhex(receipt.last_message_id or ""))
    beyond = pulsar.MessageId(last.partition(), last.ledger_id(), last.entry_id() + 1000, -1)
    truncated = dataclasses.replace(
        receipt, messages_sent=MESSAGES + 1000, last_message_id=beyond.serialize().hex()
    )
    client = open_client(own_broker.url)
    try:
        with pytest.raises(ReadError) as failure:
            for _ in read_receipt_columns(
                client, truncated, batch_size=10_000, timeout_ms=500, reopen_attempts=2
            ):
                pass
    finally:
        client.close()
    assert len(stall_warnings.messages) == 2  # reopened twice without progress, then gave up
    message = str(failure.value)
    assert f"ended after {MESSAGES} of the {MESSAGES + 1000} messages" in message
    assert receipt.video_key in message and TOPIC in message and "Re-publish the video" in message


def test_a_broker_that_stays_frozen_gives_a_read_error_naming_the_receipt(
    own_broker: OwnBroker, published, stall_warnings: _StallWarnings
) -> None:
    receipt, _ = published
    client = open_client(own_broker.url, operation_timeout_s=2)
    try:
        batches = read_receipt_columns(
            client, receipt, batch_size=500, timeout_ms=1000, receiver_queue_size=100
        )
        next(batches)
        own_broker.freeze()
        try:
            with pytest.raises(ReadError) as failure:
                for _ in batches:
                    pass
        finally:
            own_broker.thaw()
            assert len(stall_warnings.messages) == 1  # the stall was seen and a reopen tried
    finally:
        client.close()
    assert receipt.video_key in str(failure.value) and TOPIC in str(failure.value)
