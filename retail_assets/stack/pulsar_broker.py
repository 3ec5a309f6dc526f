"""Apache Pulsar standalone as an embedded-stack service: one JVM, no Docker.

The broker's jars come from Maven Central through the install step
(infrastructure/pulsar/broker/install.sh, SHA-256 pinned) into `<venv>/share/pulsar-broker/lib`
(or RVA_PULSAR_BROKER_LIB). `PulsarStandaloneStarter` runs the broker with its bookie in the same
process and a RocksDB metadata store, on loopback ports of the stack's choosing, with token
authentication and authorization on as in production. Its state directory holds:

- `standalone.conf`, written from the package's template (`pulsar_standalone.conf`);
- `token-secret.key` (the HS256 signing key) and `admin.token` (the superuser's token), owner-only;
- `pipeline.token`, the pipeline role's token: produce and consume on `retail/metadata` only;
- `metadata/` and `bookkeeper/`, the broker's data, kept across `down`/`up`.

After the admin API answers, `ensure_namespace` applies the namespace policies of
`pulsar_namespace.env`, the same file production's `infrastructure/pulsar/init-topic.sh` applies.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from retail_assets.errors import SetupError
from retail_assets.secrets_cli import SIGNING_KEY_BYTES, make_token

PORT_NAMES = ("broker", "web", "bookie")
ADMIN_ROLE = "rva-admin"
PIPELINE_ROLE = "rva-pipeline"
CLUSTER = "standalone"
# The flags Pulsar's own launcher (bin/pulsar) gives a Java 17+ JVM, and a heap sized for a
# 2-core development machine.
JVM_FLAGS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:MaxDirectMemorySize=384m",
    "-XX:+UseG1GC",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dpulsar.allocator.exit_on_oom=true",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util.zip=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.platform=ALL-UNNAMED",
    "--add-opens=java.base/sun.net=ALL-UNNAMED",
    "--add-opens=java.management/sun.management=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
)
INSTALL_HINT = (
    "the embedded Apache Pulsar broker is installed by `make install` "
    "(infrastructure/pulsar/broker/install.sh <venv>/share/pulsar-broker)"
)


class PulsarAdminError(SetupError):
    """The broker's admin REST API refused or failed a call."""


@dataclass(frozen=True)
class NamespacePolicies:
    """The policies of `pulsar_namespace.env` (retention, deduplication, the pipeline's grant)."""

    tenant: str
    namespace: str
    retention_size_mb: int
    retention_time_minutes: int
    deduplication: bool
    pipeline_actions: tuple[str, ...]

    @classmethod
    def load(cls) -> NamespacePolicies:
        text = resources.files("retail_assets.stack").joinpath("pulsar_namespace.env").read_text()
        values = dict(
            line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#")
        )
        return cls(
            tenant=values["TENANT"],
            namespace=values["NAMESPACE"],
            retention_size_mb=int(values["RETENTION_SIZE_MB"]),
            retention_time_minutes=int(values["RETENTION_TIME_MINUTES"]),
            deduplication=values["DEDUPLICATION"].lower() == "true",
            pipeline_actions=tuple(values["PIPELINE_ACTIONS"].split(",")),
        )


def broker_lib() -> Path:
    """The folder of the broker's jars (RVA_PULSAR_BROKER_LIB, else the install step's)."""
    configured = os.environ.get("RVA_PULSAR_BROKER_LIB")
    lib = Path(configured) if configured else Path(sys.prefix) / "share" / "pulsar-broker" / "lib"
    if not any(lib.glob("pulsar-broker-*.jar")):
        raise SetupError(f"no pulsar-broker jar in {lib}: {INSTALL_HINT}")
    return lib


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    found = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if not found:
        raise SetupError("no `java` found (JAVA_HOME or PATH): the Pulsar broker needs Java 17 or later")
    return found


class PulsarBroker:
    """Files, command line and admin calls of one standalone broker under `data_dir`."""

    def __init__(self, data_dir: Path, overrides: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        # Extra broker settings (Pulsar's names), e.g. a small managedLedgerMaxEntriesPerLedger.
        self.overrides = dict(overrides or {})

    # -- secrets ---------------------------------------------------------------------------
    @property
    def signing_key_file(self) -> Path:
        return self.data_dir / "token-secret.key"

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin.token"

    @property
    def pipeline_token_file(self) -> Path:
        return self.data_dir / "pipeline.token"

    def ensure_secrets(self) -> None:
        """A signing key and the two role tokens, made once and kept (owner-only files)."""
        if not self.signing_key_file.exists():
            _write_private(self.signing_key_file, secrets.token_bytes(SIGNING_KEY_BYTES))
        key = base64.b64encode(self.signing_key_file.read_bytes()).decode("ascii")
        for path, role in ((self.admin_token_file, ADMIN_ROLE), (self.pipeline_token_file, PIPELINE_ROLE)):
            if not path.exists():
                _write_private(path, make_token(role, key).encode("ascii"))

    def admin_token(self) -> str:
        return self.admin_token_file.read_text().strip()

    def pipeline_token(self) -> str:
        return self.pipeline_token_file.read_text().strip()

    # -- process ---------------------------------------------------------------------------
    def write_config(self, ports: dict[str, int]) -> Path:
        template = resources.files("retail_assets.stack").joinpath("pulsar_standalone.conf").read_text()
        text = template.format(
            broker_port=ports["broker"],
            web_port=ports["web"],
            signing_key_file=self.signing_key_file,
            admin_token_file=self.admin_token_file,
            admin_role=ADMIN_ROLE,
        )
        if self.overrides:
            # Java properties keep the last value of a repeated key.
            text += "\n# overrides of this stack\n" + "".join(f"{k}={v}\n" for k, v in self.overrides.items())
        path = self.data_dir / "standalone.conf"
        path.write_text(text)
        return path

    def argv(self, ports: dict[str, int]) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_secrets()
        config = self.write_config(ports)
        return [
            java_binary(),
            *JVM_FLAGS,
            "-cp",
            f"{broker_lib()}/*",
            "org.apache.pulsar.PulsarStandaloneStarter",
            "--config",
            str(config),
            "--no-functions-worker",
            "--no-stream-storage",
            "--metadata-dir",
            str(self.data_dir / "metadata"),
            "--bookkeeper-dir",
            str(self.data_dir / "bookkeeper"),
            "--bookkeeper-port",
            str(ports["bookie"]),
        ]

    # -- admin API -------------------------------------------------------------------------
    def admin(self, web_url: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One call to the admin REST API (`/admin/v2/...`) as the superuser unless `token` is given."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{web_url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.admin_token()}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise PulsarAdminError(
                f"Pulsar admin API at {web_url} answered {exc.code} to {method} {path}: {detail}"
            ) from None
        except OSError as exc:
            raise PulsarAdminError(f"Pulsar admin API at {web_url} unreachable ({exc})") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode()

    def healthy(self, web_url: str) -> bool:
        """The broker's own health check (it writes and reads a message on a heartbeat topic)."""
        try:
            return self.admin(web_url, "GET", "/admin/v2/brokers/health") == "ok"
        except PulsarAdminError:
            return False

    def ensure_namespace(self, web_url: str, policies: NamespacePolicies | None = None) -> None:
        """Tenant, namespace, retention, deduplication and the pipeline's grant (idempotent)."""
        p = policies or NamespacePolicies.load()
        if p.tenant not in self.admin(web_url, "GET", "/admin/v2/tenants"):
            self.admin(
                web_url,
                "PUT",
                f"/admin/v2/tenants/{p.tenant}",
                {"adminRoles": [], "allowedClusters": [CLUSTER]},
            )
        if p.namespace not in self.admin(web_url, "GET", f"/admin/v2/namespaces/{p.tenant}"):
            self.admin(web_url, "PUT", f"/admin/v2/namespaces/{p.namespace}")
        base = f"/admin/v2/namespaces/{p.namespace}"
        self.admin(
            web_url,
            "POST",
            f"{base}/retention",
            {"retentionSizeInMB": p.retention_size_mb, "retentionTimeInMinutes": p.retention_time_minutes},
        )
        self.admin(web_url, "POST", f"{base}/deduplication", p.deduplication)
        self.admin(web_url, "POST", f"{base}/permissions/{PIPELINE_ROLE}", list(p.pipeline_actions))


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
