"""The first version's operator commands resolve against the compose stack, statically (no Docker
engine on the test machines): container names, networks, ports, image paths and the producer's
default file are what those commands name, and docs/deploy.md lists them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from retail_assets.cli import build_parser
from retail_assets_tests.conftest import REPO_ROOT
from retail_assets_tests.deployment.envfile import compose_config, write_generated_env

# The commands as the first version's guide wrote them (`topics partitioned-stats` excepted: see
# test_the_topic_statistics_command_matches_how_the_topic_is_created).
PRODUCER_BUILD = "docker build -f infrastructure/pulsar/producer.Dockerfile -t retail/pulsar-producer ."
PRODUCER_RUN = (
    "docker run --rm --network=retail-video-analytics_retail-net retail/pulsar-producer "
    "--service-url pulsar://pulsar-broker:6650 --topic persistent://retail/metadata/events"
)
FLINK_BUILD = "docker compose build flink-jobmanager flink-taskmanager"
FLINK_SUBMIT = 'docker exec -it flink-jobmanager bash -lc "/opt/flink/bin/sql-client.sh -f /opt/flink/usrlib/bronze_ingest.sql"'
MC_LS = "docker exec minio mc ls -r local/warehouse/rva/bronze_raw/data/"
MC_DU = "docker exec minio mc du local/warehouse/rva/bronze_raw/"
FLINK_JOBS = "curl http://localhost:8081/jobs"
SCHEMA_GET = (
    "docker exec pulsar-broker /pulsar/bin/pulsar-admin schemas get persistent://retail/metadata/events"
)
TOPIC_STATS = (
    "docker exec pulsar-broker /pulsar/bin/pulsar-admin topics stats persistent://retail/metadata/events"
)
GUIDE = (
    PRODUCER_BUILD,
    PRODUCER_RUN,
    FLINK_BUILD,
    FLINK_SUBMIT,
    MC_LS,
    MC_DU,
    FLINK_JOBS,
    SCHEMA_GET,
    TOPIC_STATS,
)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose file as `docker compose` resolves it with an operator's generated .env."""
    env = write_generated_env(tmp_path_factory.mktemp("env") / ".env")
    result = compose_config(env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _service_of_container(resolved: dict[str, Any], container: str) -> dict[str, Any]:
    found = [s for s in resolved["services"].values() if s.get("container_name") == container]
    assert len(found) == 1, f"no single service has container_name {container!r}"
    return found[0]


def _port(mapping: str | dict[str, Any]) -> tuple[str, str, str]:
    """(host ip, published, target) of a resolved port: `127.0.0.1:8081:8081/tcp` or the long form."""
    if isinstance(mapping, dict):
        return mapping.get("host_ip", ""), str(mapping["published"]), str(mapping["target"])
    host_ip, published, target = mapping.split("/")[0].rsplit(":", 2)
    return host_ip, published, target


def _dockerfile(path: str) -> str:
    return (REPO_ROOT / path).read_text()


@pytest.mark.parametrize("command", [c for c in GUIDE if c.startswith("docker exec")])
def test_every_docker_exec_names_a_container_of_the_stack(resolved: dict[str, Any], command: str) -> None:
    words = [w for w in shlex.split(command)[2:] if not w.startswith("-")]
    _service_of_container(resolved, words[0])


def test_the_producer_image_publishes_detections_output_ndjson_from_its_working_directory(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    build = shlex.split(PRODUCER_BUILD)
    dockerfile = _dockerfile(build[build.index("-f") + 1])
    assert 'ENTRYPOINT ["retail-assets", "publish"]' in dockerfile
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.MULTILINE)[-1]
    env = dict(re.findall(r"^ENV (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert workdir == "/data" and env["RVA_PUBLISH_FILE"] == "detections_output.ndjson"
    # The guide's arguments, with the image's environment: FILE is the working directory's file.
    monkeypatch.setenv("RVA_PUBLISH_FILE", env["RVA_PUBLISH_FILE"])
    arguments = ["publish", *shlex.split(PRODUCER_RUN)[5:]]
    parser, _module = build_parser(arguments)
    args = parser.parse_args(arguments)
    assert args.source == "detections_output.ndjson"
    assert (args.service_url, args.topic) == (
        "pulsar://pulsar-broker:6650",
        "persistent://retail/metadata/events",
    )
    # The network it joins is the stack's, and pulsar-broker:6650 is the broker on it.
    network = shlex.split(PRODUCER_RUN)[3].split("=", 1)[1]
    assert network in {n.get("name") for n in resolved["networks"].values()}
    broker = _service_of_container(resolved, "pulsar-broker")
    assert "retail-net" in broker["networks"]
    assert broker["image"].startswith("apachepulsar/pulsar:")  # its binary protocol listens on 6650
    assert any(_port(p)[2] == "6650" for p in broker["ports"])
    # The guide names the volume to mount.
    assert '-v "$PWD:/data"' in (REPO_ROOT / "docs/deploy.md").read_text()


def test_flink_images_build_and_the_job_file_is_where_the_guide_runs_it(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    jobmanager, taskmanager = (services[name] for name in shlex.split(FLINK_BUILD)[3:])
    assert jobmanager["build"]["dockerfile"] == "infrastructure/flink/Dockerfile"
    assert taskmanager["image"] == jobmanager["image"]
    dockerfile = _dockerfile("infrastructure/flink/Dockerfile")
    assert (
        "COPY infrastructure/flink/bronze_ingest.sql infrastructure/flink/render-job.sh /opt/flink/sql/"
        in dockerfile
    )
    assert "mkdir -p /opt/flink/usrlib" in dockerfile
    path = shlex.split(shlex.split(FLINK_SUBMIT)[-1])[-1]
    assert path == "/opt/flink/usrlib/bronze_ingest.sql"
    # The jobmanager writes it at start, placeholders filled in, then starts as the image does.
    script = " ".join(jobmanager["entrypoint"])
    assert f"render-job.sh /opt/flink/sql/bronze_ingest.sql > {path}" in script and "umask 077" in script
    assert script.rstrip().endswith("exec /docker-entrypoint.sh jobmanager")
    assert jobmanager["environment"]["PULSAR_AUTH_TOKEN"]
    assert "@PULSAR_AUTH_TOKEN@" in (REPO_ROOT / "infrastructure/flink/bronze_ingest.sql").read_text()
    # curl http://localhost:8081/jobs reaches the jobmanager's REST port from the host.
    [port] = jobmanager["ports"]
    host_ip, published, target = _port(port)
    assert (host_ip, published, target) == ("127.0.0.1", "8081", "8081")
    assert FLINK_JOBS.endswith(f"localhost:{published}/jobs")


def test_mc_in_the_minio_container_has_the_local_alias_on_the_warehouse(resolved: dict[str, Any]) -> None:
    minio = _service_of_container(resolved, "minio")
    env = minio["environment"]
    user, password = env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"]
    assert env["MC_HOST_local"] == f"http://{user}:{password}@localhost:9000"
    assert re.fullmatch(r"[A-Za-z0-9]+", password)  # no character that would need escaping in the URL
    init = resolved["services"]["minio-init"]["environment"]
    bucket, namespace = shlex.split(MC_LS)[-1].split("/")[1:3]
    assert init["RVA_WAREHOUSE_BUCKET"] == bucket
    assert resolved["services"]["dagster-code"]["environment"]["RVA_NAMESPACE"] == namespace


def test_pulsar_admin_in_the_broker_container_authenticates(resolved: dict[str, Any]) -> None:
    broker = _service_of_container(resolved, "pulsar-broker")
    assert shlex.split(SCHEMA_GET)[3] == "/pulsar/bin/pulsar-admin"  # the image's PULSAR_HOME is /pulsar
    assert "start-broker.sh" in " ".join(broker["entrypoint"])
    script = (REPO_ROOT / "infrastructure/pulsar/start-broker.sh").read_text()
    assert "cat >> conf/client.conf" in script and "authParams=token:${PULSAR_ADMIN_TOKEN}" in script


def test_the_topic_statistics_command_matches_how_the_topic_is_created() -> None:
    # The topic is created non-partitioned (receipts name ranges of one ordered log), so Pulsar
    # answers `topics stats`; `partitioned-stats` answers only for a partitioned topic.
    init = (REPO_ROOT / "infrastructure/pulsar/init-topic.sh").read_text()
    assert re.search(r'topics create "\$topic"', init) and "create-partitioned-topic" not in init
    assert " topics stats " in TOPIC_STATS


def test_deploy_guide_lists_every_command() -> None:
    guide = (REPO_ROOT / "docs/deploy.md").read_text()
    missing = [command for command in GUIDE if command not in guide]
    assert missing == []


def test_the_stack_names_are_unique(resolved: dict[str, Any]) -> None:
    names = [s["container_name"] for s in resolved["services"].values() if "container_name" in s]
    assert sorted(names) == sorted(set(names)) and {"minio", "pulsar-broker", "flink-jobmanager"} <= set(
        names
    )
    assert Path(REPO_ROOT / "infrastructure/pulsar/producer.Dockerfile").exists()


def test_publish_without_a_file_or_its_setting_says_what_to_pass(monkeypatch, capsys) -> None:
    from retail_assets.cli import main

    monkeypatch.delenv("RVA_PUBLISH_FILE", raising=False)
    assert main(["publish"]) == 2
    err = capsys.readouterr().err
    assert "no NDJSON to publish: pass FILE" in err and "RVA_PUBLISH_FILE" in err
