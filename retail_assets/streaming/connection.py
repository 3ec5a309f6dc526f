"""Opening a Pulsar client with a fast, explicit failure when the broker is unreachable."""

from __future__ import annotations

import pulsar

from retail_assets.errors import STACK_HINT, SetupError, redact_uri
from retail_assets.settings import pulsar_auth_token, require_pulsar_auth


def open_client(
    service_url: str, operation_timeout_s: int = 10, auth_token: str | None = None
) -> pulsar.Client:
    """A `pulsar.Client`; the C++ client's INFO chatter is turned down to warnings.

    The token is `auth_token`, else PULSAR_AUTH_TOKEN / PULSAR_AUTH_TOKEN_FILE. With
    RVA_REQUIRE_PULSAR_AUTH=true a missing token is a SetupError before anything connects: a
    broker that checks tokens would otherwise refuse the run only once it reaches Pulsar.
    """
    token = auth_token or pulsar_auth_token()
    if token is None and require_pulsar_auth():
        raise SetupError(
            f"no Pulsar token for {redact_uri(service_url)}: RVA_REQUIRE_PULSAR_AUTH is true, so set "
            "PULSAR_AUTH_TOKEN, or PULSAR_AUTH_TOKEN_FILE to a file holding the token."
        )
    extra = {"authentication": pulsar.AuthenticationToken(token)} if token else {}
    return pulsar.Client(
        service_url,
        operation_timeout_seconds=operation_timeout_s,
        connection_timeout_ms=5000,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
        **extra,
    )


def check_broker(service_url: str, topic: str, timeout_s: int = 5, auth_token: str | None = None) -> None:
    """Raise SetupError naming the service URL when no broker answers for `topic`."""
    client = open_client(service_url, operation_timeout_s=timeout_s, auth_token=auth_token)
    try:
        client.get_topic_partitions(topic)
    except (pulsar.AuthenticationError, pulsar.AuthorizationError) as exc:
        refused = "authentication" if isinstance(exc, pulsar.AuthenticationError) else "authorization"
        raise SetupError(
            f"Pulsar broker at {redact_uri(service_url)} refused the client for topic {topic} "
            f"({refused} failed: {exc}). Check PULSAR_AUTH_TOKEN / PULSAR_AUTH_TOKEN_FILE: the token must "
            "be signed by the broker's key and its role granted produce and consume on the topic's namespace."
        ) from exc
    except Exception as exc:  # the client raises ConnectError, Timeout or others by version
        # A broker with authentication on closes a connection without a token, which the C++
        # client reports as a time-out, not as an authentication error: say so.
        unauthenticated = (
            " No token was given (PULSAR_AUTH_TOKEN / PULSAR_AUTH_TOKEN_FILE): a broker with token "
            "authentication on refuses such clients."
            if (auth_token or pulsar_auth_token()) is None
            else ""
        )
        raise SetupError(
            f"Pulsar broker at {redact_uri(service_url)} is unreachable for topic {topic} "
            f"({type(exc).__name__}: {exc}). Check PULSAR_SERVICE_URL, or {STACK_HINT}.{unauthenticated}"
        ) from exc
    finally:
        client.close()
