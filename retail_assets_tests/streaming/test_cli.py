"""`retail-assets publish` as a user runs it: a real process against the real broker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date

from retail_assets.streaming.reader import read_receipt
from retail_assets.streaming.receipts import PublishReceipt, ReceiptStore
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.factories import ndjson_bytes, ndjson_lines

DAY = date(2026, 11, 28)


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "publish", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_publish_a_file_prints_the_receipt_and_writes_dead_letters(
    stack, pulsar_client, s3, unique_topic, tmp_path
) -> None:
    lines = ndjson_lines("store-001", "cam-01", DAY, 250)
    path = tmp_path / "090000.ndjson"
    path.write_bytes(ndjson_bytes([*lines[:100], b"not json at all", *lines[100:]]))
    dead = tmp_path / "dead.ndjson"
    result = _cli(
        "--service-url",
        stack.env()["PULSAR_SERVICE_URL"],
        "--topic",
        unique_topic,
        "--dead-letters",
        str(dead),
        "--receipts-bucket",
        "detections",
        "--run-id",
        "cli-test",
        str(path),
    )
    assert result.returncode == 0, result.stderr.decode()
    receipt = PublishReceipt.from_json(result.stdout)
    # Partition and video default to what the events say.
    assert receipt.store_day.key == "2026-11-28|store-001"
    assert receipt.video_key == "store-001/cam-01/2026-11-28/090000.mp4"
    assert (receipt.messages_sent, receipt.dead_letters, receipt.run_id) == (250, 1, "cli-test")
    assert [m.payload for b in read_receipt(pulsar_client, receipt) for m in b] == lines
    letter = json.loads(dead.read_text())
    assert (
        letter["line_number"] == 101
        and letter["source"] == str(path)
        and letter["reason"].startswith("not JSON")
    )
    assert "1 line(s) rejected" in result.stderr.decode()
    assert ReceiptStore(s3, "detections").get(receipt.store_day, receipt.video_key) == receipt


def test_publish_from_stdin_with_an_explicit_partition(stack, pulsar_client, unique_topic, tmp_path) -> None:
    lines = ndjson_lines("store-002", "cam-07", DAY, 20)
    result = _cli(
        "--service-url",
        stack.env()["PULSAR_SERVICE_URL"],
        "--topic",
        unique_topic,
        "--partition-key",
        "2026-11-28|store-002",
        "--video-key",
        "store-002/cam-07/2026-11-28/120000.mp4",
        "--dead-letters",
        str(tmp_path / "dead.ndjson"),
        "-",
        stdin=ndjson_bytes(lines),
    )
    assert result.returncode == 0, result.stderr.decode()
    receipt = PublishReceipt.from_json(result.stdout)
    assert receipt.video_key == "store-002/cam-07/2026-11-28/120000.mp4" and receipt.messages_sent == 20


def test_unreachable_broker_is_a_clear_error(unique_topic, tmp_path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "x.ndjson"
    path.write_bytes(ndjson_bytes(ndjson_lines("store-001", "cam-01", DAY, 3)))
    result = _cli(
        "--service-url",
        f"pulsar://127.0.0.1:{port}",
        "--topic",
        unique_topic,
        "--operation-timeout",
        "2",
        str(path),
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert (
        "cannot create a Pulsar producer" in err and "after 3 attempts" in err and "PULSAR_SERVICE_URL" in err
    )


def test_missing_file_is_named(unique_topic, tmp_path) -> None:
    result = _cli("--topic", unique_topic, str(tmp_path / "nope.ndjson"))
    assert result.returncode == 2
    assert "nope.ndjson' does not exist" in result.stderr.decode()
