"""A local Flink 1.18 session cluster as an embedded-stack service: a JobManager and one TaskManager.

Flink itself comes from the install step (infrastructure/flink/install.sh: PyPI's Flink archives
plus the connector jars of infrastructure/flink/pom.xml, SHA-256 pinned) as a FLINK_HOME in
`<venv>/share/flink/home` (or RVA_FLINK_HOME). Its state directory holds:

- `conf/`: `flink-conf.yaml` written here (loopback only, the stack's ports, memory for a
  2-core machine, checkpoints under `checkpoints/`) and the distribution's log4j files;
- `checkpoints/`, kept across `down`/`up`;
- the rendered job while it is being submitted (owner-only, removed after).

The job is infrastructure/flink/bronze_ingest.sql, filled in by infrastructure/flink/render-job.sh
(the same script the compose containers run) and submitted with `sql-client.sh -f`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from retail_assets.errors import SetupError
from retail_assets.secrets_cli import write_private

PORT_NAMES = ("rest", "rpc", "blob")
JOB_NAME = "rva-bronze-ingest"
JOB_TABLE = "rva.bronze_stream"
INFRASTRUCTURE = Path(__file__).resolve().parents[2] / "infrastructure" / "flink"
INSTALL_HINT = (
    "the local Flink is installed by `make install` (infrastructure/flink/install.sh <venv>/share/flink)"
)
# Sized for a 2-core, 24 GB machine that also runs the broker, the object store and inference.
SETTINGS = {
    "jobmanager.memory.process.size": "1024m",
    "taskmanager.memory.process.size": "1536m",
    "taskmanager.numberOfTaskSlots": "2",
    "parallelism.default": "1",
    "jobmanager.execution.failover-strategy": "region",
    # A killed TaskManager is noticed within seconds, and the job restarts from its last
    # checkpoint as soon as a TaskManager offers slots again.
    "heartbeat.interval": "2000",
    "heartbeat.timeout": "10000",
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "1000",
    "restart-strategy.fixed-delay.delay": "2 s",
    "state.checkpoints.num-retained": "2",
}


class FlinkError(SetupError):
    """The local Flink cluster could not be started, asked or given its job."""


def flink_home() -> Path:
    """The Flink distribution (RVA_FLINK_HOME, else the install step's)."""
    configured = os.environ.get("RVA_FLINK_HOME")
    home = Path(configured) if configured else Path(sys.prefix) / "share" / "flink" / "home"
    if not (home / "lib" / "flink-dist-1.18.1.jar").exists():
        raise FlinkError(f"no Flink 1.18.1 distribution in {home}: {INSTALL_HINT}")
    return home


@dataclass(frozen=True)
class FlinkJob:
    """One job as the REST API's `/jobs/overview` lists it."""

    job_id: str
    name: str
    state: str


class FlinkCluster:
    """Configuration, command lines, REST calls and the job submission of one local cluster."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @property
    def conf_dir(self) -> Path:
        return self.data_dir / "conf"

    def write_config(self, ports: dict[str, int]) -> None:
        home = flink_home()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "checkpoints").mkdir(exist_ok=True)
        for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties"):
            shutil.copyfile(home / "conf" / name, self.conf_dir / name)
        # The distribution's Java 17 flags (--add-opens, --add-exports), then this stack's settings.
        java_opts = [
            line
            for line in (home / "conf" / "flink-conf.yaml").read_text().splitlines()
            if line.startswith("env.java.opts.all:")
        ]
        settings = {
            **SETTINGS,
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.rpc.port": str(ports["rpc"]),
            "blob.server.port": str(ports["blob"]),
            "taskmanager.host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(ports["rest"]),
            "state.checkpoints.dir": (self.data_dir / "checkpoints").as_uri(),
            "io.tmp.dirs": str(self.data_dir / "tmp"),
        }
        (self.data_dir / "tmp").mkdir(exist_ok=True)
        text = "\n".join([*java_opts, *(f"{key}: {value}" for key, value in settings.items())]) + "\n"
        (self.conf_dir / "flink-conf.yaml").write_text(text)

    def process_env(self, base: dict[str, str], log_dir: Path) -> dict[str, str]:
        return {**base, "FLINK_CONF_DIR": str(self.conf_dir), "FLINK_LOG_DIR": str(log_dir)}

    @staticmethod
    def jobmanager_argv() -> list[str]:
        return [str(flink_home() / "bin" / "jobmanager.sh"), "start-foreground"]

    @staticmethod
    def taskmanager_argv() -> list[str]:
        return [str(flink_home() / "bin" / "taskmanager.sh"), "start-foreground"]

    # -- REST API --------------------------------------------------------------------------
    @staticmethod
    def rest(rest_url: str, path: str, timeout: float = 5.0) -> dict:
        try:
            with urllib.request.urlopen(f"{rest_url}{path}", timeout=timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FlinkError(f"Flink's REST API at {rest_url} did not answer {path}: {exc}") from None

    def healthy(self, rest_url: str) -> bool:
        """The JobManager answers and at least one TaskManager offers slots."""
        try:
            overview = self.rest(rest_url, "/overview", timeout=2)
        except FlinkError:
            return False
        return overview.get("taskmanagers", 0) >= 1 and overview.get("slots-total", 0) >= 1

    def jobs(self, rest_url: str) -> list[FlinkJob]:
        listed = self.rest(rest_url, "/jobs/overview").get("jobs", [])
        return [FlinkJob(job["jid"], job["name"], job["state"]) for job in listed]

    def running_job(self, rest_url: str, name: str = JOB_NAME) -> FlinkJob | None:
        """The job called `name` that is not finished (RUNNING, RESTARTING, ...), if any."""
        done = {"FINISHED", "CANCELED", "FAILED"}
        return next((job for job in self.jobs(rest_url) if job.name == name and job.state not in done), None)

    # -- the job ---------------------------------------------------------------------------
    def submit_bronze_job(self, job_env: dict[str, str], timeout: float = 180.0) -> str:
        """Render infrastructure/flink/bronze_ingest.sql with `job_env` and submit it; the SQL
        client's output. `job_env` holds render-job.sh's variables and the S3 credentials."""
        template = INFRASTRUCTURE / "bronze_ingest.sql"
        if not template.exists():
            raise FlinkError(f"the Flink job {template} is missing (the local Flink runs from a checkout)")
        env = {**os.environ, **job_env, "FLINK_CONF_DIR": str(self.conf_dir)}
        rendered = self.data_dir / "bronze_ingest.rendered.sql"
        try:
            job = subprocess.run(
                ["bash", str(INFRASTRUCTURE / "render-job.sh"), str(template)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            write_private(rendered, job.stdout)  # it holds the pipeline's token
            result = subprocess.run(
                [str(flink_home() / "bin" / "sql-client.sh"), "-f", str(rendered)],
                env={**env, "FLINK_LOG_DIR": str(self.data_dir / "tmp")},
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.data_dir,
            )
        except subprocess.CalledProcessError as exc:
            raise FlinkError(f"rendering {template} failed: {exc.stderr.strip()}") from None
        except subprocess.TimeoutExpired:
            raise FlinkError(
                f"sql-client.sh -f {template.name} did not finish within {timeout:.0f}s"
            ) from None
        finally:
            rendered.unlink(missing_ok=True)
        output = _without_secrets(result.stdout + result.stderr, job_env)
        if result.returncode != 0 or "[ERROR]" in output:
            raise FlinkError(
                f"sql-client.sh -f {template.name} failed (exit {result.returncode}):\n{output[-4000:]}"
            )
        return output


def _without_secrets(text: str, job_env: dict[str, str]) -> str:
    for name in ("PULSAR_AUTH_TOKEN", "ICEBERG_CREDENTIAL", "AWS_SECRET_ACCESS_KEY"):
        if job_env.get(name):
            text = text.replace(job_env[name], "***")
    return text
