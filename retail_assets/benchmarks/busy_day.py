"""Busy-day benchmark: a store-day's bronze writes as its videos arrive, full rewrite vs incremental.

    python -m retail_assets.benchmarks.busy_day --videos 200 --lines 2000

No inference: every video is synthetic NDJSON (`make_lines`) with a key of its own
(`<camera>/<HHMMSS>`, 8 cameras, a video every 5 minutes per camera) and its own event ids, all in
ONE store-day. Every video is published to Pulsar once, up front; publishing is not what is
measured. Then, as if the videos arrived one by one, one bronze call per video:
- full: `write_bronze_partition` with the receipts of every video so far (what the asset did
  before incremental writes: the n-th video costs n videos of work, the day the square);
- incremental: `write_bronze_videos` with only the new video's receipt (its cost should not grow
  with the videos already in the day).
Each path writes a table of its own, after one unmeasured warm-up write to a scratch table. The
incremental path runs first, then the full one, each whole: each curve comes from an undisturbed
run, the short incremental run is over before the long full run heats the machine, and what the
second run gains from warm caches goes to the full path, so the full/incremental ratio is, if
anything, understated.

Prints, per path, the wall seconds and rows touched (written + replaced, from `BronzeCommit`) of
the 1st, 50th, 100th and last video, the totals and the ratios; the 1-minute load average at the
start, between the paths and at the end; then checks that both tables hold exactly
videos x lines rows with distinct event ids (exit 1 if not) and, last, prints one JSON line.
Uses the stack named by the environment or starts a throw-away embedded one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import pulsar
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from retail_assets.benchmarks.synthetic import STORE_DAY, environment_stack, make_lines, video_key
from retail_assets.lakehouse.bronze import (
    BronzeCommit,
    ensure_bronze_table,
    write_bronze_partition,
    write_bronze_videos,
)
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.settings import Settings
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import publish_ndjson
from retail_assets.streaming.receipts import PublishReceipt

CAMERAS = 8
FIRST_VIDEO_S = 8 * 3600  # 08:00:00
VIDEO_EVERY_S = 300
# Keys must stay within the day (HHMMSS) and distinct.
MAX_VIDEOS = CAMERAS * ((24 * 3600 - FIRST_VIDEO_S) // VIDEO_EVERY_S)
MARKS = (1, 50, 100)  # the videos reported besides the last
WINDOW = 10  # videos at each end whose median seconds are compared


def arrival(index: int) -> tuple[str, time_of_day]:
    """Camera and start time of the `index`-th (0-based) video of the day: cameras take turns."""
    seconds = FIRST_VIDEO_S + (index // CAMERAS) * VIDEO_EVERY_S
    return f"cam-{index % CAMERAS + 1:02d}", time_of_day(seconds // 3600, seconds // 60 % 60, seconds % 60)


@dataclass
class PathRun:
    """One path's bronze calls, in arrival order."""

    name: str
    function: str
    seconds: list[float] = field(default_factory=list)
    rows_written: list[int] = field(default_factory=list)
    rows_replaced: list[int] = field(default_factory=list)

    @property
    def rows_touched(self) -> list[int]:
        return [w + r for w, r in zip(self.rows_written, self.rows_replaced, strict=True)]

    def record(self, seconds: float, commit: BronzeCommit) -> None:
        self.seconds.append(seconds)
        self.rows_written.append(commit.rows)
        self.rows_replaced.append(commit.rows_replaced)


def publish_day(
    client: pulsar.Client, topic: str, videos: int, lines: int, workdir: Path, progress_every: int
) -> list[PublishReceipt]:
    """Publish every video of the day once; one receipt per video, in arrival order."""
    dead_letters = LocalDeadLetterSink(workdir / "dead-letters.ndjson")
    receipts = []
    try:
        for index in range(videos):
            camera, start = arrival(index)
            # One video's lines at a time: a 200 x 2000-line day would be ~220 MB in memory at once.
            batch = make_lines(lines, camera, start)
            receipt = publish_ndjson(
                client,
                topic,
                batch,
                source="benchmark",
                store_day=STORE_DAY,
                run_id="busy-day",
                video_key=video_key(camera, start),
                dead_letters=dead_letters,
            )
            if receipt.messages_sent != lines or receipt.dead_letters:
                raise RuntimeError(
                    f"publishing {receipt.video_key} sent {receipt.messages_sent} of {lines} lines "
                    f"({receipt.dead_letters} dead letters)"
                )
            receipts.append(receipt)
            _progress(f"published video {index + 1}/{videos}", index + 1, videos, progress_every)
    finally:
        dead_letters.close()
    return receipts


def run_path(
    run: PathRun,
    write: Callable[[int], BronzeCommit],
    videos: int,
    progress_every: int,
) -> PathRun:
    """Call `write(n)` as the n-th video arrives (n = 1..videos), timing each call alone."""
    for n in range(1, videos + 1):
        started = time.perf_counter()
        commit = write(n)
        run.record(time.perf_counter() - started, commit)
        _progress(
            f"{run.name} video {n}/{videos}: {run.seconds[-1]:.2f} s, {run.rows_touched[-1]:,} rows touched, "
            f"{sum(run.seconds):.1f} s so far",
            n,
            videos,
            progress_every,
        )
    return run


def verify(catalog: Catalog, identifier: str, expected: int) -> dict[str, Any]:
    """Rows and distinct event ids of the whole table."""
    event_ids = catalog.load_table(identifier).scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    rows, distinct = len(event_ids), pc.count_distinct(event_ids).as_py()
    return {"rows": rows, "distinct_event_ids": distinct, "ok": rows == distinct == expected}


def _progress(message: str, n: int, total: int, every: int) -> None:
    # stderr, so a long run shows it is alive without mixing into the table and the JSON line.
    if every > 0 and (n % every == 0 or n == total):
        print(f"busy_day: {message}", file=sys.stderr, flush=True)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def summarize(run: PathRun, marks: list[int]) -> dict[str, Any]:
    """The JSON figures of one path."""
    touched = run.rows_touched
    return {
        "function": run.function,
        "marks": {
            str(n): {"seconds": round(run.seconds[n - 1], 3), "rows_touched": touched[n - 1]} for n in marks
        },
        "total_seconds": round(sum(run.seconds), 3),
        "total_rows_written": sum(run.rows_written),
        "total_rows_replaced": sum(run.rows_replaced),
        "total_rows_touched": sum(touched),
        "last_over_first_seconds": _ratio(run.seconds[-1], run.seconds[0]),
        # One call of a fifth of a second is noisy; the medians of the first and last ten say more.
        "last10_over_first10_median_seconds": _ratio(
            _median(run.seconds[-WINDOW:]), _median(run.seconds[:WINDOW])
        ),
        "last_over_first_rows_touched": _ratio(touched[-1], touched[0]),
        "per_video_seconds": [round(s, 4) for s in run.seconds],
        "per_video_rows_written": run.rows_written,
        "per_video_rows_replaced": run.rows_replaced,
        "per_video_rows_touched": touched,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=200, help="videos arriving into the store-day")
    parser.add_argument("--lines", type=int, default=2000, help="NDJSON lines (events) per video")
    parser.add_argument(
        "--progress-every", type=int, default=10, help="a progress line on stderr every N videos (0: none)"
    )
    parser.add_argument("--catalog", default="lakehouse", help="Iceberg catalog name (pyiceberg settings)")
    args = parser.parse_args(argv)
    if not 1 <= args.videos <= MAX_VIDEOS:
        parser.error(f"--videos must be 1..{MAX_VIDEOS} (distinct camera/HHMMSS keys within one day)")
    if args.lines < 1:
        parser.error("--lines must be at least 1")

    videos, lines = args.videos, args.lines
    expected = videos * lines
    marks = sorted({n for n in MARKS if n <= videos} | {videos})
    run_id = uuid.uuid4().hex[:8]
    load_start = os.getloadavg()[0]
    with environment_stack() as (where, _), tempfile.TemporaryDirectory() as tmp:
        client = open_client(Settings.from_env().pulsar_service_url)
        catalog = open_catalog(args.catalog)
        topic = f"persistent://retail/metadata/busy-day-{run_id}"
        tables = {
            "incremental": f"rva.bench_busy_incremental_{run_id}",
            "full": f"rva.bench_busy_full_{run_id}",
        }
        warm_up = f"rva.bench_busy_warm_up_{run_id}"
        try:
            started = time.perf_counter()
            receipts = publish_day(client, topic, videos, lines, Path(tmp), args.progress_every)
            publish_s = time.perf_counter() - started
            for identifier in tables.values():
                # Created before timing, so that the first call measures a write, not a table creation.
                ensure_bronze_table(catalog, identifier)
            # One unmeasured write to a scratch table first: the process's one-time costs (the
            # first scan and commit, S3 and Pulsar connections) would otherwise land on the first
            # video of whichever path runs first and bend its last/first ratio.
            write_bronze_videos(
                catalog,
                client,
                receipts[:1],
                store_day=STORE_DAY,
                run_id="busy-day-warm-up",
                identifier=warm_up,
            )

            def incremental(n: int) -> BronzeCommit:
                return write_bronze_videos(
                    catalog,
                    client,
                    [receipts[n - 1]],
                    store_day=STORE_DAY,
                    run_id=f"busy-day-{run_id}",
                    identifier=tables["incremental"],
                )

            def full(n: int) -> BronzeCommit:
                return write_bronze_partition(
                    catalog,
                    client,
                    receipts[:n],
                    store_day=STORE_DAY,
                    run_id=f"busy-day-{run_id}",
                    identifier=tables["full"],
                )

            runs = {
                "incremental": run_path(
                    PathRun("incremental", "write_bronze_videos"), incremental, videos, args.progress_every
                )
            }
            load_between = os.getloadavg()[0]
            runs["full"] = run_path(
                PathRun("full", "write_bronze_partition"), full, videos, args.progress_every
            )
            load_end = os.getloadavg()[0]
            checks = {name: verify(catalog, identifier, expected) for name, identifier in tables.items()}
        finally:
            for identifier in (*tables.values(), warm_up):
                if catalog.table_exists(identifier):
                    catalog.drop_table(identifier)
            client.close()

    paths = {name: summarize(runs[name], marks) for name in ("full", "incremental")}
    verified = all(check["ok"] for check in checks.values())
    results: dict[str, Any] = {
        "videos": videos,
        "lines_per_video": lines,
        "expected_rows": expected,
        "store_day": STORE_DAY.key,
        "order": "incremental path, then full path",
        "publish_seconds_not_measured": round(publish_s, 3),
        "full": {**paths["full"], **{f"table_{k}": v for k, v in checks["full"].items()}},
        "incremental": {
            **paths["incremental"],
            **{f"table_{k}": v for k, v in checks["incremental"].items()},
        },
        "incremental_last_over_first_seconds": paths["incremental"]["last_over_first_seconds"],
        "full_last_over_first_seconds": paths["full"]["last_over_first_seconds"],
        "full_over_incremental_total_seconds": _ratio(
            sum(runs["full"].seconds), sum(runs["incremental"].seconds)
        ),
        "full_over_incremental_total_rows_touched": _ratio(
            paths["full"]["total_rows_touched"], paths["incremental"]["total_rows_touched"]
        ),
        "rows_verified": verified,
        "load_average_1m_start": round(load_start, 2),
        "load_average_1m_between": round(load_between, 2),
        "load_average_1m_end": round(load_end, 2),
        "catalog": args.catalog,
        "stack": where,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    _print_table(results, marks, checks, publish_s)
    print(json.dumps(results))
    return 0 if verified else 1


def _print_table(results: dict[str, Any], marks: list[int], checks: dict[str, Any], publish_s: float) -> None:
    videos, lines = results["videos"], results["lines_per_video"]
    print(
        f"busy store-day {results['store_day']}: {videos} videos x {lines:,} lines arriving one by one, "
        f"one bronze call per video ({results['order']})"
    )
    print(f"publishing all {videos} videos up front took {publish_s:.1f} s (not measured)")
    print(f"{'path':44} {'video':>6} {'seconds':>9} {'rows touched':>14}")
    for name, label in (
        ("full", "full (write_bronze_partition, all receipts)"),
        ("incremental", "incremental (write_bronze_videos, new one)"),
    ):
        path = results[name]
        for i, n in enumerate(marks):
            mark = path["marks"][str(n)]
            print(f"{label if i == 0 else '':44} {n:>6} {mark['seconds']:>9.2f} {mark['rows_touched']:>14,}")
        print(f"{'':44} {'total':>6} {path['total_seconds']:>9.2f} {path['total_rows_touched']:>14,}")

    def times(value: float | None) -> str:
        return "n/a" if value is None else f"x{value}"

    print(
        f"ratios: incremental last/first {times(results['incremental_last_over_first_seconds'])} (seconds), "
        f"median of the last {WINDOW} / first {WINDOW} "
        f"{times(results['incremental']['last10_over_first10_median_seconds'])}; "
        f"full last/first {times(results['full_last_over_first_seconds'])} (seconds), "
        f"{times(results['full']['last_over_first_rows_touched'])} (rows); "
        f"total full/incremental {times(results['full_over_incremental_total_seconds'])} (seconds), "
        f"{times(results['full_over_incremental_total_rows_touched'])} (rows)"
    )
    print(
        f"load average (1 min): {results['load_average_1m_start']:.2f} at start, "
        f"{results['load_average_1m_between']:.2f} between the paths, {results['load_average_1m_end']:.2f} at end; "
        f"{results['stack']}, {results['cpus']} CPUs, catalog {results['catalog']}"
    )
    for name, check in checks.items():
        print(
            f"verified {name} table: {check['rows']:,} rows, {check['distinct_event_ids']:,} distinct event ids "
            f"(expected {results['expected_rows']:,}): {'OK' if check['ok'] else 'MISMATCH'}"
        )


if __name__ == "__main__":
    sys.exit(main())
