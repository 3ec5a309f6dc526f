"""Keys and ids are checked whole, and keys built from untrusted content stay in their prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date

import pytest

from retail_assets.contracts.ids import is_id
from retail_assets.contracts.layout import dead_letter_key, parse_video_key, receipt_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError, SetupError, redact_uri
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.streaming.validation import check_event_line, check_lines
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.factories import detection_event

DAY = date(2026, 11, 28)
STORE_DAY = StoreDay(DAY, "store-1")


def test_a_key_or_id_ending_in_a_newline_is_refused() -> None:
    assert parse_video_key("store-1/cam-1/2026-11-28/090000.mp4").camera_id == "cam-1"
    with pytest.raises(InputError, match="does not fit the layout"):
        parse_video_key("store-1/cam-1/2026-11-28/090000.mp4\n")
    assert is_id("cam-1") and not is_id("cam-1\n")


@pytest.mark.parametrize("field,value", [("camera_id", "cam-1\n"), ("ts", "2026-11-28T09:00:00Z\n")])
def test_a_line_whose_camera_or_ts_ends_in_a_newline_is_a_dead_letter(field: str, value: str) -> None:
    event = detection_event("store-1", "cam-1", DAY, 0)
    event[field] = value
    line = json.dumps(event).encode()  # the newline is escaped inside the JSON string
    assert field in (check_event_line(line, "store-1")[0] or "")
    # The chunk check (Arrow's RE2 first, then line by line) refuses it too.
    [rejection] = check_lines([line], [1], "store-1", 1 << 20).rejections
    assert field in rejection.reason


@pytest.mark.parametrize(
    "video_key", ["../../etc/x", "/etc/x", "store-1//x.mp4", "store-1/./x.mp4", "a\nb", "a\\..\\b", ""]
)
def test_receipt_and_dead_letter_keys_refuse_paths_out_of_their_prefix(video_key: str) -> None:
    for build in (receipt_key, dead_letter_key):
        with pytest.raises(InputError, match="video key"):
            build(STORE_DAY, video_key)


def test_publish_refuses_a_video_uri_outside_the_layout_and_writes_nothing(
    stack, s3, unique_topic, tmp_path
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    event = detection_event(store, "cam-1", DAY, 0)
    event["video_uri"] = "s3://videos/../../etc/x"
    source = tmp_path / "evil.ndjson"
    source.write_text(json.dumps(event) + "\nnot json\n")
    done = subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "publish", "--topic", unique_topic,
         "--receipts-bucket", "detections", str(source)],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "s3://videos/../../etc/x" in done.stderr and "--video-key" in done.stderr
    # Nothing written: no local dead letters, no receipt or dead letter in the bucket, no topic.
    assert not (tmp_path / "evil.ndjson.dead-letters.ndjson").exists()
    for prefix in ("_receipts/", "_dead_letters/", "etc/"):
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="detections", Prefix=prefix).get("Contents", [])]
        assert not [k for k in keys if store in k or k.startswith("etc/")], keys
    assert "Contents" not in s3.list_objects_v2(Bucket="detections", Prefix="etc/")


def test_an_explicit_video_key_outside_the_layout_is_refused(tmp_path) -> None:
    source = tmp_path / "x.ndjson"
    source.write_text(json.dumps(detection_event("store-1", "cam-1", DAY, 0)) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "publish", "--video-key", "../x.mp4", str(source)],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "does not fit the layout" in done.stderr


def test_redact_uri_hides_passwords_and_tokens_only() -> None:
    assert (
        redact_uri("postgresql+psycopg2://rva:s3cr3t@db:5432/iceberg")
        == "postgresql+psycopg2://rva:***@db:5432/iceberg"
    )
    assert redact_uri("pulsar+ssl://tok@broker:6651") == "pulsar+ssl://***@broker:6651"
    assert redact_uri("http://127.0.0.1:8333") == "http://127.0.0.1:8333"
    assert redact_uri("sqlite:////var/lib/rva/catalog.db") == "sqlite:////var/lib/rva/catalog.db"


def test_a_catalog_error_names_the_host_but_not_the_password() -> None:
    # Port 9 (discard) has no PostgreSQL: the driver's own connection error, no mock.
    uri = "postgresql://user:secret-pw-4711@127.0.0.1:9/db"
    with pytest.raises(SetupError) as failed:
        open_catalog("pgcat", type="sql", uri=uri, warehouse="s3://warehouse/")
    message = str(failed.value)
    assert "127.0.0.1:9" in message and "postgresql://user:***@127.0.0.1:9/db" in message
    assert "secret-pw-4711" not in message
