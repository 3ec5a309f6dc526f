"""`retail-assets soak`: a correctness run under faults (not a speed figure).

Backfills several store-days of real video (clips cut from OpenCV's vtest.avi) through the Dagster
store-day graph on an embedded stack of its own, one run worker process per run. Meanwhile a fault
injector, driven by a seeded random generator, SIGKILLs at random moments the run worker, the
broker (Apache Pulsar standalone) or the object store (SeaweedFS, which also serves the Iceberg data files),
and restarts the services. Every failed run is launched again until its store-day succeeds; rounds
of re-materializations continue until the requested number of faults has been injected.

Then it checks every partition: bronze rows == the NDJSON lines of its videos (same payloads), no
duplicate `event_id`, every publish receipt's messages in bronze, and that table maintenance
(compaction, snapshot expiry, orphan removal) leaves every row unchanged. It prints the figures and
exits 1 when anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SAMPLE_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FAULT_KINDS = ("run_worker", "broker", "object_store")
_SERVICE_OF = {"broker": "pulsar", "object_store": "seaweedfs"}
CLIP_FRAMES = 12


@dataclass(frozen=True)
class SoakConfig:
    days: int = 5
    stores: int = 1
    videos_per_day: int = 2
    faults: int = 30
    seed: int = 7
    max_frames: int = 6  # frames inferred per video: the soak tests recovery, not the model
    fault_gap_s: tuple[float, float] = (2.0, 15.0)  # random pause between two faults
    restart_after_s: tuple[float, float] = (0.5, 3.0)  # a killed service is down this long
    run_timeout_s: float = 900.0  # a run worker still alive after this is killed (counted as hung)
    max_consecutive_failures: int = 4  # then faults pause until the store-day gets through
    first_day: date = date(2026, 3, 1)


@dataclass(frozen=True)
class PartitionCheck:
    partition: str
    ndjson_lines: int
    bronze_rows: int
    distinct_event_ids: int
    lost: int  # NDJSON lines missing from bronze
    duplicated: int  # bronze rows beyond one per NDJSON line
    receipts: int
    receipts_incomplete: int  # receipts whose messages are not all in bronze


@dataclass(frozen=True)
class SoakResult:
    partitions: tuple[PartitionCheck, ...]
    faults: dict[str, int]
    runs: int
    reruns: int
    hung_runs: int
    rounds: int
    maintenance_rows_unchanged: bool
    maintenance_files_before: int
    maintenance_files_after: int
    elapsed_s: float
    seed: int

    @property
    def rows_checked(self) -> int:
        return sum(p.bronze_rows for p in self.partitions)

    @property
    def lost(self) -> int:
        return sum(p.lost for p in self.partitions)

    @property
    def duplicated(self) -> int:
        return sum(p.duplicated for p in self.partitions)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and all(p.receipts_incomplete == 0 and p.ndjson_lines > 0 for p in self.partitions)
            and self.maintenance_rows_unchanged
        )


@dataclass
class _Runner:
    """Launches run workers; the injector kills the current one."""

    env: dict[str, str]
    max_frames: int
    current: subprocess.Popen | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, partition: str, timeout_s: float) -> tuple[bool, bool]:
        """(succeeded, hung) of one run of the partition."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "retail_assets.defs.soak_worker", partition, str(self.max_frames)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with self.lock:
            self.current = proc
        try:
            proc.communicate(timeout=timeout_s)
            hung = False
        except subprocess.TimeoutExpired:
            proc.kill()  # the worker this runner started
            proc.communicate()
            hung = True
        finally:
            with self.lock:
                self.current = None
        return proc.returncode == 0, hung


class _FaultInjector(threading.Thread):
    def __init__(self, stack: Any, runner: _Runner, config: SoakConfig, stack_lock: threading.Lock) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.stack = stack
        self.runner = runner
        self.config = config
        self.rng = random.Random(config.seed)
        self.stack_lock = stack_lock
        self.counts: Counter[str] = Counter()
        self.paused = threading.Event()
        self.stop = threading.Event()

    @property
    def injected(self) -> int:
        return sum(self.counts.values())

    def run(self) -> None:
        # Every kind once first (in a random order), then drawn at random: a short soak still
        # kills each of them.
        plan = list(FAULT_KINDS)
        self.rng.shuffle(plan)
        kind: str | None = None
        while not self.stop.is_set() and self.injected < self.config.faults:
            if self.stop.wait(self.rng.uniform(*self.config.fault_gap_s)):
                return
            if self.paused.is_set():
                continue
            kind = kind or (plan.pop(0) if plan else self.rng.choice(FAULT_KINDS))
            if kind == "run_worker":
                with self.runner.lock:
                    proc = self.runner.current
                    if proc is None or proc.poll() is not None:
                        continue  # no run in flight at this moment: kill one at the next draw
                    os.kill(proc.pid, signal.SIGKILL)  # the run worker the soak started
            else:
                with self.stack_lock:
                    _kill_service(self.stack, _SERVICE_OF[kind])
                    time.sleep(self.rng.uniform(*self.config.restart_after_s))
                    self.stack.up()
            self.counts[kind] += 1
            kind = None


def _kill_service(stack: Any, service: str) -> None:
    import psutil

    pid = json.loads(stack.state_path.read_text())["services"][service]["pid"]
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGKILL)  # a service of the soak's own stack
        proc.wait(10)


def run_soak(config: SoakConfig, root: Path, video: Path = SAMPLE_VIDEO, log: Any = print) -> SoakResult:
    """Start a stack under `root`, backfill with faults, check every partition; the stack is
    stopped at the end (its data stay under `root`)."""
    from retail_assets.benchmarks.video_files import cut_clip
    from retail_assets.errors import SetupError
    from retail_assets.stack import EmbeddedStack

    if not video.exists():
        raise SetupError(
            f"sample video {video} not found: install Debian's opencv-doc package (make system-deps)"
        )
    started = time.perf_counter()
    stack = EmbeddedStack(root / "stack")
    stack.up()
    saved = dict(os.environ)
    try:
        # This process talks to the soak's stack until the end (pyiceberg and the settings read
        # the environment); the caller's environment is given back afterwards.
        os.environ.update(stack.env())
        env = dict(os.environ)
        partitions = _upload(stack, config, video, root, cut_clip)
        log(f"soak: {len(partitions)} store-days, {config.videos_per_day} videos each, seed {config.seed}")
        runner = _Runner(env, config.max_frames)
        stack_lock = threading.Lock()
        injector = _FaultInjector(stack, runner, config, stack_lock)
        injector.start()
        runs = reruns = hung_runs = rounds = 0
        try:
            while True:
                rounds += 1
                for partition in partitions:
                    failures = 0
                    while True:
                        with stack_lock:  # a service the injector killed is back before a run starts
                            stack.up()
                        ok, hung = runner.run(partition, config.run_timeout_s)
                        runs += 1
                        hung_runs += hung
                        if ok:
                            break
                        reruns += 1
                        failures += 1
                        if failures >= config.max_consecutive_failures:
                            injector.paused.set()  # let this store-day get through
                    injector.paused.clear()
                    log(f"soak: round {rounds} {partition} done ({runs} runs, {injector.injected} faults)")
                if injector.injected >= config.faults or not injector.is_alive():
                    break
        finally:
            injector.stop.set()
            injector.join()
        with stack_lock:
            stack.up()
        checks, unchanged, files_before, files_after = _check(stack, partitions)
        return SoakResult(
            partitions=tuple(checks),
            faults={kind: injector.counts.get(kind, 0) for kind in FAULT_KINDS},
            runs=runs,
            reruns=reruns,
            hung_runs=hung_runs,
            rounds=rounds,
            maintenance_rows_unchanged=unchanged,
            maintenance_files_before=files_before,
            maintenance_files_after=files_after,
            elapsed_s=time.perf_counter() - started,
            seed=config.seed,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.down()


def _upload(stack: Any, config: SoakConfig, video: Path, root: Path, cut_clip: Any) -> list[str]:
    from retail_assets.contracts.store_day import StoreDay
    from retail_assets.objectstore import make_s3_client

    env = stack.env()
    admin = make_s3_client(
        env["AWS_ENDPOINT_URL_S3"],
        "us-east-1",
        env["RVA_STACK_ADMIN_ACCESS_KEY"],
        env["RVA_STACK_ADMIN_SECRET_KEY"],
    )
    clips = root / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    partitions = []
    n = 0
    for d in range(config.days):
        day = config.first_day + timedelta(days=d)
        for s in range(config.stores):
            store = f"store-{s + 1:03d}"
            for v in range(config.videos_per_day):
                # Different frames of the sample for every video: each is a video of its own.
                clip = cut_clip(video, (n * 37) % 700, CLIP_FRAMES, clips / f"clip-{n}.avi")
                n += 1
                admin.upload_file(
                    str(clip), env["RVA_VIDEOS_BUCKET"], f"{store}/cam-{v + 1}/{day}/0900{v:02d}.avi"
                )
            partitions.append(StoreDay(day, store).key)
    return partitions


def _check(stack: Any, partitions: list[str]) -> tuple[list[PartitionCheck], bool, int, int]:
    from datetime import datetime

    from retail_assets.contracts.store_day import StoreDay
    from retail_assets.lakehouse.bronze import bronze_table_identifier, partition_filter
    from retail_assets.lakehouse.catalog import open_catalog
    from retail_assets.lakehouse.maintenance import MaintenanceOptions, maintain_namespace
    from retail_assets.objectstore import iter_objects, make_s3_client
    from retail_assets.settings import Settings
    from retail_assets.streaming.receipts import ReceiptStore

    settings = Settings.from_env()
    s3 = make_s3_client(settings.s3_endpoint_url, settings.s3_region)
    catalog = open_catalog(settings.catalog_name)
    table_id = bronze_table_identifier(settings.namespace)
    receipts = ReceiptStore(s3, settings.detections_bucket)

    def rows_of(store_day: StoreDay) -> Any:
        table = catalog.load_table(table_id)
        return table.scan(
            row_filter=partition_filter(store_day),
            selected_fields=("event_id", "payload", "video_key", "producer_name"),
        ).to_arrow()

    checks = []
    for key in partitions:
        store_day = StoreDay.parse(key)
        prefix = f"{store_day.store_id}/"
        lines: list[str] = []
        for obj in iter_objects(s3, settings.detections_bucket, prefix):
            if obj["Key"].endswith(".ndjson") and f"/{store_day.day.isoformat()}/" in obj["Key"]:
                body = s3.get_object(Bucket=settings.detections_bucket, Key=obj["Key"])["Body"].read()
                lines += [line for line in body.decode().splitlines() if line.strip()]
        rows = rows_of(store_day)
        payloads = Counter(rows["payload"].to_pylist())
        expected = Counter(lines)
        pairs = Counter(zip(rows["video_key"].to_pylist(), rows["producer_name"].to_pylist(), strict=True))
        stored = receipts.list_partition(store_day)
        incomplete = sum(1 for r in stored if pairs[(r.video_key, r.producer_name)] != r.messages_sent)
        checks.append(
            PartitionCheck(
                partition=key,
                ndjson_lines=len(lines),
                bronze_rows=rows.num_rows,
                distinct_event_ids=len(set(rows["event_id"].to_pylist())),
                lost=sum((expected - payloads).values()),
                duplicated=sum((payloads - expected).values())
                + rows.num_rows
                - len(set(rows["event_id"].to_pylist())),
                receipts=len(stored),
                receipts_incomplete=incomplete,
            )
        )
    # Maintenance as aggressive as it gets (nothing else writes now): every row must stay.
    before = {key: sorted(rows_of(StoreDay.parse(key))["payload"].to_pylist()) for key in partitions}
    options = MaintenanceOptions(snapshot_retention=timedelta(0), keep_last=1, orphan_window=timedelta(0))
    [report] = [
        r
        for r in maintain_namespace(catalog, settings.namespace, options, datetime.now().astimezone())
        if r.table == table_id
    ]
    after = {key: sorted(rows_of(StoreDay.parse(key))["payload"].to_pylist()) for key in partitions}
    return checks, before == after, report.compaction.files_before, report.compaction.files_after


def format_result(result: SoakResult) -> str:
    faults = ", ".join(f"{kind} {n}" for kind, n in result.faults.items())
    return "\n".join(
        [
            f"partitions          {len(result.partitions)} store-days",
            f"faults injected     {sum(result.faults.values())} ({faults})",
            f"runs                {result.runs} in {result.rounds} rounds; {result.reruns} re-runs after a failed run"
            + (f" ({result.hung_runs} hung and killed)" if result.hung_runs else ""),
            f"rows checked        {result.rows_checked} bronze rows against "
            f"{sum(p.ndjson_lines for p in result.partitions)} NDJSON lines",
            f"receipts checked    {sum(p.receipts for p in result.partitions)}, "
            f"{sum(p.receipts_incomplete for p in result.partitions)} with messages missing from bronze",
            f"lost                {result.lost}",
            f"duplicated          {result.duplicated}",
            f"maintenance         rows {'unchanged' if result.maintenance_rows_unchanged else 'CHANGED'}, "
            f"data files {result.maintenance_files_before} -> {result.maintenance_files_after}",
            f"elapsed             {result.elapsed_s:.0f} s (seed {result.seed})",
            "OK" if result.ok else "FAILED: see the figures above",
        ]
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SoakConfig()
    parser.add_argument("--days", type=int, default=defaults.days, help="store-days (default: %(default)s)")
    parser.add_argument(
        "--stores", type=int, default=defaults.stores, help="stores per day (default: %(default)s)"
    )
    parser.add_argument(
        "--videos-per-day", type=int, default=defaults.videos_per_day, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--faults", type=int, default=defaults.faults, help="faults to inject (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="fault generator seed (default: %(default)s)"
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=defaults.max_frames,
        help="frames inferred per video (default: %(default)s)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="state directory (default: a new temporary one)"
    )


def run(args: argparse.Namespace) -> int:
    from retail_assets.errors import InputError

    for name in ("days", "stores", "videos_per_day", "max_frames"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.faults < 0:
        raise InputError(f"--faults must not be negative, got {args.faults}")
    config = SoakConfig(
        days=args.days,
        stores=args.stores,
        videos_per_day=args.videos_per_day,
        faults=args.faults,
        seed=args.seed,
        max_frames=args.max_frames,
    )
    root = args.dir or Path(tempfile.mkdtemp(prefix="rva-soak-"))
    result = run_soak(config, root)
    print(format_result(result))
    return 0 if result.ok else 1
