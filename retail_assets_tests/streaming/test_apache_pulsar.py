"""What production relies on from Apache Pulsar, against the embedded stack's real broker.

Token authentication and authorization, the schema registry and its admin API, deduplication
and producer fencing, namespaces that must exist, and message ids across ledger rollovers and
broker restarts (a new ledger each time; entry ids start again at 0).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pulsar
import pytest

from retail_assets.errors import SetupError
from retail_assets.stack import EmbeddedStack
from retail_assets.streaming.connection import check_broker, open_client
from retail_assets.streaming.publisher import PublishReceipt
from retail_assets.streaming.reader import read_receipt
from retail_assets_tests.factories import ndjson_lines, video_key
from retail_assets_tests.streaming.helpers import DAY, publish_lines

CONTRACT = (
    Path(__file__).resolve().parents[2] / "retail_assets" / "contracts" / "detection_event.v1.schema.json"
)


def _publish(
    client: pulsar.Client, topic: str, lines: list[bytes], tmp_path: Path, run_id: str
) -> PublishReceipt:
    """One video per run id, published in chunks of 100 lines."""
    video = video_key("store-001", f"cam-{run_id}", DAY)
    return publish_lines(client, topic, lines, tmp_path, video=video, run_id=run_id, chunk_lines=100)


def _read_back(client: pulsar.Client, receipt: PublishReceipt) -> list[bytes]:
    return [m.payload for batch in read_receipt(client, receipt) for m in batch]


def _ledger_entry(hex_id: str) -> tuple[int, int]:
    message_id = pulsar.MessageId.deserialize(bytes.fromhex(hex_id))
    return message_id.ledger_id(), message_id.entry_id()


# -- authentication and authorization ------------------------------------------------------
def test_a_client_without_a_token_is_refused_naming_the_broker_and_the_reason(
    stack, unique_topic, monkeypatch
) -> None:
    monkeypatch.delenv("PULSAR_AUTH_TOKEN")
    url = stack.env()["PULSAR_SERVICE_URL"]
    with pytest.raises(SetupError) as refused:
        check_broker(url, unique_topic, timeout_s=5)
    message = str(refused.value)
    assert url in message and "No token was given" in message and "token authentication" in message


def test_a_forged_token_is_refused(stack, unique_topic) -> None:
    forged = stack.env()["PULSAR_AUTH_TOKEN"][:-4] + "AAAA"
    with pytest.raises(SetupError, match=r"(?i)authentication|unreachable"):
        check_broker(stack.env()["PULSAR_SERVICE_URL"], unique_topic, auth_token=forged, timeout_s=5)


def test_the_pipeline_token_works_in_retail_metadata_only(stack, unique_topic) -> None:
    url = stack.env()["PULSAR_SERVICE_URL"]
    check_broker(url, unique_topic)  # the pipeline's own namespace: answered
    outside = f"persistent://public/default/rva-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SetupError, match="authorization failed") as refused:
        check_broker(url, outside, timeout_s=5)
    assert url in str(refused.value) and outside in str(refused.value)


def test_a_topic_in_a_namespace_that_does_not_exist_is_refused_even_to_the_superuser(stack) -> None:
    env = stack.env()
    client = open_client(
        env["PULSAR_SERVICE_URL"], operation_timeout_s=5, auth_token=env["RVA_STACK_PULSAR_ADMIN_TOKEN"]
    )
    try:
        with pytest.raises(Exception, match=r"(?i)not found|does not exist|TopicNotFound"):
            client.create_producer(f"persistent://retail/nowhere-{uuid.uuid4().hex[:6]}/events")
    finally:
        client.close()


def test_the_namespace_carries_the_shared_retention_and_deduplication(stack) -> None:
    admin_url = stack.env()["PULSAR_ADMIN_URL"]
    broker = stack.pulsar
    assert broker.admin(admin_url, "GET", "/admin/v2/namespaces/retail/metadata/retention") == {
        "retentionTimeInMinutes": -1,
        "retentionSizeInMB": -1,
    }
    assert broker.admin(admin_url, "GET", "/admin/v2/namespaces/retail/metadata/deduplication") is True
    grants = broker.admin(admin_url, "GET", "/admin/v2/namespaces/retail/metadata/permissions")
    assert sorted(grants["rva-pipeline"]) == ["consume", "produce"]


# -- the schema contract -------------------------------------------------------------------
def test_the_producer_registers_the_json_schema_of_the_contract(
    stack, pulsar_client, unique_topic, tmp_path
) -> None:
    receipt = _publish(
        pulsar_client, unique_topic, ndjson_lines("store-001", "cam-01", DAY, 5), tmp_path, "s1"
    )
    assert receipt.messages_sent == 5
    topic_path = unique_topic.removeprefix("persistent://")
    info = stack.pulsar.admin(
        stack.env()["PULSAR_ADMIN_URL"], "GET", f"/admin/v2/schemas/{topic_path}/schema"
    )
    assert info["type"] == "JSON"
    definition = json.loads(info["data"])
    contract = json.loads(CONTRACT.read_text())
    assert definition["type"] == "record"
    assert {f["name"] for f in definition["fields"]} == set(contract["properties"])
    # What the contract requires is never nullable in the registered schema (track_id may be null).
    nullable = {
        f["name"] for f in definition["fields"] if isinstance(f["type"], list) and "null" in f["type"]
    }
    assert "event_id" not in nullable and "ts" not in nullable and "track_id" in nullable


def test_a_producer_with_an_incompatible_schema_is_refused(pulsar_client, unique_topic, tmp_path) -> None:
    _publish(pulsar_client, unique_topic, ndjson_lines("store-001", "cam-01", DAY, 1), tmp_path, "s2")
    with pytest.raises(Exception, match=r"(?i)incompatible"):
        pulsar_client.create_producer(unique_topic, schema=pulsar.schema.StringSchema())


def test_topic_stats_count_what_was_published(stack, pulsar_client, unique_topic, tmp_path) -> None:
    _publish(pulsar_client, unique_topic, ndjson_lines("store-001", "cam-01", DAY, 40), tmp_path, "s3")
    topic_path = unique_topic.removeprefix("persistent://")
    admin_url = stack.env()["PULSAR_ADMIN_URL"]
    stats = stack.pulsar.admin(admin_url, "GET", f"/admin/v2/persistent/{topic_path}/stats")
    assert stats["msgInCounter"] == 40
    # The events topic is not partitioned: partitioned-stats says so (404 "not found") rather than
    # answering with zero partitions.
    with pytest.raises(SetupError, match="404"):
        stack.pulsar.admin(admin_url, "GET", f"/admin/v2/persistent/{topic_path}/partitioned-stats")


# -- deduplication and fencing -------------------------------------------------------------
def test_a_resent_sequence_id_is_stored_once_and_a_second_producer_of_the_name_is_refused(
    pulsar_client, unique_topic
) -> None:
    name = f"dedup-{uuid.uuid4().hex[:8]}"
    producer = pulsar_client.create_producer(unique_topic, producer_name=name, batching_enabled=False)
    for _ in range(3):
        producer.send(b'{"n": 1}', sequence_id=7)
    producer.send(b'{"n": 2}', sequence_id=8)
    assert producer.last_sequence_id() == 8
    with pytest.raises(Exception, match=r"(?i)busy|already"):
        pulsar_client.create_producer(unique_topic, producer_name=name)
    producer.close()
    reader = pulsar_client.create_reader(unique_topic, pulsar.MessageId.earliest)
    stored = []
    try:
        while True:
            try:
                stored.append(reader.read_next(2000).data())
            except pulsar.Timeout:
                break
    finally:
        reader.close()
    assert stored == [b'{"n": 1}', b'{"n": 2}']


# -- message ids across ledgers and restarts -----------------------------------------------
@pytest.fixture
def small_ledger_stack(tmp_path_factory: pytest.TempPathFactory, stack):
    """A stack of its own whose ledgers roll over every 2 entries (a batch of messages is one entry)."""
    own = EmbeddedStack(
        tmp_path_factory.mktemp("rollover-stack"),
        pulsar_overrides={
            "managedLedgerMaxEntriesPerLedger": "2",
            "managedLedgerMinLedgerRolloverTimeMinutes": "0",
        },
    )
    own.up()
    try:
        yield own
    finally:
        own.down(purge=True)


def test_receipts_read_back_exactly_across_ledger_rollovers_and_a_broker_restart(
    small_ledger_stack, tmp_path
) -> None:
    topic = f"persistent://retail/metadata/rollover-{uuid.uuid4().hex[:8]}"

    def client() -> pulsar.Client:
        env = small_ledger_stack.env()
        return open_client(env["PULSAR_SERVICE_URL"], auth_token=env["PULSAR_AUTH_TOKEN"])

    first_lines = ndjson_lines("store-001", "cam-a", DAY, 5000)
    c = client()
    try:
        first = _publish(c, topic, first_lines, tmp_path, "a")
        assert _read_back(c, first) == first_lines
    finally:
        c.close()
    first_ledger, _ = _ledger_entry(first.first_message_id)
    last_ledger, _ = _ledger_entry(first.last_message_id)
    assert last_ledger > first_ledger, "the publish did not span a ledger rollover"

    # A restart opens a new ledger: entry ids start again at 0, ledger ids keep growing.
    small_ledger_stack.down()
    small_ledger_stack.up()
    second_lines = ndjson_lines("store-001", "cam-b", DAY, 300)
    c = client()
    try:
        second = _publish(c, topic, second_lines, tmp_path, "b")
        second_ledger, second_entry = _ledger_entry(second.first_message_id)
        assert second_ledger > last_ledger and second_entry < 2
        # Both receipts read back exactly, each with only its own messages.
        assert _read_back(c, first) == first_lines
        assert _read_back(c, second) == second_lines
    finally:
        c.close()
