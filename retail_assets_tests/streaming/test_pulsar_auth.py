"""The Pulsar token on the client side: sent when connecting, required where configured, never shown.

The broker checks tokens (retail_assets_tests/streaming/test_apache_pulsar.py shows the refusals);
here what the client sends is observed on the wire as well: a small TCP relay between the client
and the broker records the bytes the client writes, and the token must be in its CONNECT frame
(auth method `token`).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import pulsar
import pytest

from retail_assets.errors import SetupError
from retail_assets.settings import Settings
from retail_assets.streaming.connection import open_client
from retail_assets_tests.conftest import REPO_ROOT

TOKEN = "pulsar-token-Zq7f2c9d"  # recognisable in a byte stream (never accepted by the broker)


class Relay:
    """Forwards loopback TCP connections to `target`, recording what clients sent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = bytearray()
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"pulsar://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    self.sent.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def relay(stack) -> Iterator[Relay]:
    broker = urlparse(stack.env()["PULSAR_SERVICE_URL"])
    relay = Relay((broker.hostname, broker.port))
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PULSAR_AUTH_TOKEN", "PULSAR_AUTH_TOKEN_FILE", "RVA_REQUIRE_PULSAR_AUTH"):
        monkeypatch.delenv(name, raising=False)


def _ask_topic(url: str, unique_topic: str, **kwargs) -> None:
    client = open_client(url, operation_timeout_s=5, **kwargs)
    try:
        client.get_topic_partitions(unique_topic)
    finally:
        client.close()


def test_the_token_is_sent_in_the_connect_frame(stack, relay, unique_topic, no_token_env) -> None:
    token = stack.env()["PULSAR_AUTH_TOKEN"]
    _ask_topic(relay.url, unique_topic, auth_token=token)
    assert token.encode() in relay.sent and b"token" in relay.sent


def test_the_token_file_is_read_and_sent(
    stack, relay, unique_topic, no_token_env, monkeypatch, tmp_path
) -> None:
    token = stack.env()["PULSAR_AUTH_TOKEN"]
    token_file = tmp_path / "pulsar.token"
    token_file.write_text(token + "\n")  # as `echo token > file` leaves it
    monkeypatch.setenv("PULSAR_AUTH_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("RVA_REQUIRE_PULSAR_AUTH", "true")
    _ask_topic(relay.url, unique_topic)
    assert token.encode() in relay.sent
    assert Settings.from_env().pulsar_auth_token == token  # the file's trailing newline is not part of it


def test_without_a_token_nothing_is_sent_and_the_broker_refuses(relay, unique_topic, no_token_env) -> None:
    # The broker closes an unauthenticated connection; the C++ client reports that as a time-out.
    with pytest.raises((pulsar.AuthenticationError, pulsar.Timeout)):
        _ask_topic(relay.url, unique_topic)
    assert relay.connections >= 1


def test_a_required_token_that_is_missing_fails_before_connecting(relay, no_token_env, monkeypatch) -> None:
    monkeypatch.setenv("RVA_REQUIRE_PULSAR_AUTH", "true")
    with pytest.raises(SetupError, match="PULSAR_AUTH_TOKEN") as missing:
        open_client(relay.url)
    assert "RVA_REQUIRE_PULSAR_AUTH" in str(missing.value)
    assert relay.connections == 0


def test_an_unreadable_token_file_is_named_without_content(no_token_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PULSAR_AUTH_TOKEN_FILE", str(tmp_path / "absent.token"))
    with pytest.raises(SetupError, match=r"PULSAR_AUTH_TOKEN_FILE=.*absent\.token cannot be read"):
        open_client("pulsar://127.0.0.1:9")


def test_settings_never_print_the_token(no_token_env, monkeypatch) -> None:
    monkeypatch.setenv("PULSAR_AUTH_TOKEN", TOKEN)
    settings = Settings.from_env()
    assert settings.pulsar_auth_token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


def test_publish_command_refuses_to_start_without_a_required_token(
    stack, unique_topic, no_token_env, tmp_path
) -> None:
    source = tmp_path / "090000.ndjson"
    source.write_text('{"store_id": "store-1", "ts": "2026-11-28T09:00:00Z"}\n')
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("PULSAR_AUTH_TOKEN", "PULSAR_AUTH_TOKEN_FILE")
    }
    env["RVA_REQUIRE_PULSAR_AUTH"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "publish", "--topic", unique_topic, str(source)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "PULSAR_AUTH_TOKEN" in done.stderr
    assert not (tmp_path / "090000.ndjson.dead-letters.ndjson").exists()
