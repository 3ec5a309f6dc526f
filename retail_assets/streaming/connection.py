"""Opening a Pulsar client with a fast, explicit failure when the broker is unreachable."""

from __future__ import annotations

import pulsar

from retail_assets.errors import STACK_HINT, SetupError


def open_client(service_url: str, operation_timeout_s: int = 10) -> pulsar.Client:
    """A `pulsar.Client`; the C++ client's INFO chatter is turned down to warnings."""
    return pulsar.Client(
        service_url,
        operation_timeout_seconds=operation_timeout_s,
        connection_timeout_ms=5000,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
    )


def check_broker(service_url: str, topic: str, timeout_s: int = 5) -> None:
    """Raise SetupError naming the service URL when no broker answers for `topic`."""
    client = open_client(service_url, operation_timeout_s=timeout_s)
    try:
        client.get_topic_partitions(topic)
    except Exception as exc:  # the client raises ConnectError, Timeout or others by version
        raise SetupError(
            f"Pulsar broker at {service_url} is unreachable for topic {topic} "
            f"({type(exc).__name__}: {exc}). Check PULSAR_SERVICE_URL, or {STACK_HINT}."
        ) from exc
    finally:
        client.close()
