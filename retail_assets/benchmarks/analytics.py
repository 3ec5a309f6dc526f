"""Analytics benchmark: bronze -> silver -> gold throughput, columnar (DuckDB SQL) vs naive Python.

    python -m retail_assets.benchmarks.analytics --rows 1500000
    retail-assets bench analytics --rows 1500000

Generates a synthetic store-day of bronze rows (no stack needed): cameras of 640x480 at 10 fps,
an hour-long video per camera per hour, people walking through the frame across the entrance
line, some lingering at the counter zone or on the line itself, some falling, and the first
observations of every track unconfirmed (no track id yet), as a tracker emits them. Each row's
payload is a schema v1 NDJSON event, as bronze holds it.

Then times, in the same run, the columnar path (`detections_from_bronze` -> `build_silver` ->
`build_gold`) on all rows and the naive per-row Python path (`analytics.naive`) on the first
`--naive-rows` rows of whole videos (it is too slow for millions; the subsample is stated), and
prints bronze rows/s for both, the 1-minute load average at start and end, and one JSON line.
Both paths run once, untimed, on the first video before the timed runs (imports, DuckDB's JSON
extension).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retail_assets.analytics.geometry import CameraGeometry, CountingLine, StoreGeometry, Zone

STORE = "store-bench"
DAY = date(2026, 3, 2)
FPS = 10.0
WIDTH, HEIGHT = 640, 480
OPEN_HOUR, CLOSE_HOUR = 9, 21
TARGET_ROWS_PER_S = 500_000


def bench_geometry(cameras: int) -> StoreGeometry:
    """Each camera: an entrance line down the middle (in = left side seen from its start at the
    top, i.e. the east half of the image), and a counter zone in the lower left."""
    return StoreGeometry(
        store_id=STORE,
        valid_from=date(2026, 1, 1),
        cameras={
            f"cam-{c}": CameraGeometry(
                camera_id=f"cam-{c}",
                width=WIDTH,
                height=HEIGHT,
                lines=(CountingLine("door", (320.0, 40.0), (320.0, 440.0), "left", entrance=True),),
                zones=(Zone("counter", ((60.0, 300.0), (260.0, 300.0), (260.0, 460.0), (60.0, 460.0))),),
            )
            for c in range(1, cameras + 1)
        },
    )


@dataclass(frozen=True)
class _Track:
    camera: int
    start_s: float  # seconds after the store opens
    xs: np.ndarray
    ys: np.ndarray
    fallen: np.ndarray


def _walker(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    steps = int(rng.integers(60, 160))
    y0, y1 = rng.uniform(80, 420, 2)
    xs = np.linspace(10, 630, steps)
    if rng.random() < 0.5:
        xs = xs[::-1]
    return xs + rng.normal(0, 1.5, steps), np.linspace(y0, y1, steps) + rng.normal(0, 1.5, steps)


def _lingerer(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Walks in from the left, lingers at the counter (or on the door line), walks on or back."""
    stay = int(rng.integers(100, 600))
    if rng.random() < 0.3:
        spot = np.array([320.0 + rng.uniform(-3, 3), rng.uniform(150, 350)])  # standing on the line
    else:
        spot = np.array([rng.uniform(90, 230), rng.uniform(320, 440)])
    approach = np.linspace([10.0, rng.uniform(100, 400)], spot, 40)
    wander = spot + np.cumsum(rng.normal(0, 0.8, (stay, 2)), axis=0).clip(-25, 25)
    leave_to = [630.0, rng.uniform(100, 400)] if rng.random() < 0.6 else [10.0, rng.uniform(100, 400)]
    leave = np.linspace(wander[-1], leave_to, 60)
    path = np.vstack([approach, wander, leave])
    return path[:, 0], path[:, 1]


def _tracks(rows: int, cameras: int, seed: int) -> list[_Track]:
    rng = np.random.default_rng(seed)
    tracks: list[_Track] = []
    total = 0
    span = (CLOSE_HOUR - OPEN_HOUR) * 3600.0
    while total < rows:
        kind = rng.random()
        xs, ys = _walker(rng) if kind < 0.7 else _lingerer(rng)
        fallen = np.zeros(len(xs), dtype=bool)
        if kind > 0.97 and len(xs) > 60:  # a fall of 3 to 8 seconds mid-track
            start = len(xs) // 3
            fallen[start : start + int(rng.integers(30, 80))] = True
        xs, ys = xs.clip(1, WIDTH - 1), ys.clip(40, HEIGHT - 1)
        tracks.append(
            _Track(int(rng.integers(1, cameras + 1)), float(rng.uniform(0, span - 120)), xs, ys, fallen)
        )
        total += len(xs)
    return tracks


def synthetic_detections(rows: int = 1_500_000, cameras: int = 4, seed: int = 7) -> pa.Table:
    """About `rows` detections (DETECTIONS_SCHEMA) of a synthetic store-day, ordered by video and time."""
    from retail_assets.analytics.detections import DETECTIONS_SCHEMA

    tracks = _tracks(rows, cameras, seed)
    open_at = datetime(DAY.year, DAY.month, DAY.day, OPEN_HOUR, tzinfo=UTC)
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("cam", "t_us", "x", "y", "fallen", "tid", "n", "hour")
    }
    next_id: dict[tuple[int, int], int] = {}
    for track in tracks:
        n = len(track.xs)
        t_us = (round(track.start_s * FPS) + np.arange(n)) * int(1_000_000 / FPS)
        hour = int(t_us[0] // 3_600_000_000)
        key = (track.camera, hour)
        next_id[key] = next_id.get(key, 0) + 1
        tid = np.full(n, next_id[key], dtype=np.int64)
        cols["cam"].append(np.full(n, track.camera))
        cols["t_us"].append(t_us)
        cols["x"].append(track.xs)
        cols["y"].append(track.ys)
        cols["fallen"].append(track.fallen)
        cols["tid"].append(tid)
        cols["n"].append(np.arange(n))
        cols["hour"].append(np.full(n, hour))  # a track stays in the video it started in
    cam = np.concatenate(cols["cam"])
    t_us = np.concatenate(cols["t_us"])
    x, y = np.concatenate(cols["x"]), np.concatenate(cols["y"])
    fallen = np.concatenate(cols["fallen"])
    tid = np.concatenate(cols["tid"])
    nth = np.concatenate(cols["n"])
    hour = np.concatenate(cols["hour"])
    frame = (t_us - hour * 3_600_000_000) // int(1_000_000 / FPS)
    height = np.where(fallen, 45.0, 110.0) * (0.6 + y / HEIGHT)
    width = np.where(fallen, 110.0, 45.0) * (0.6 + y / HEIGHT)
    x1 = np.round(x - width / 2, 2)
    x2 = np.round(x1 + width, 2)
    y2 = np.round(y, 2)
    y1 = np.round(y2 - height, 2)
    video_key = np.char.add(
        np.char.add(np.char.add(f"{STORE}/cam-", cam.astype(str)), f"/{DAY.isoformat()}/"),
        np.char.add(np.char.zfill((hour + OPEN_HOUR).astype(str), 2), "0000.mp4"),
    )
    order = np.lexsort((tid, frame, video_key))
    ts = pa.array(t_us[order], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    offset = int((open_at - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    ts = pc.add(ts.cast(pa.int64()), offset).cast(pa.timestamp("us", tz="UTC"))
    n_rows = len(order)
    table = pa.table(
        {
            "store_id": pa.array(np.full(n_rows, STORE)),
            "camera_id": pa.array(np.char.add("cam-", cam[order].astype(str))),
            "video_key": pa.array(video_key[order]),
            "event_id": pa.array([f"{i:012x}" for i in range(n_rows)]),
            # a tracker confirms a track after its first observations: those have no id yet
            "track_id": pa.array(np.where(nth[order] < 2, 0, tid[order]), mask=nth[order] < 2),
            "frame_index": pa.array(frame[order]),
            "ts": ts,
            "x1": pa.array(x1[order]),
            "y1": pa.array(y1[order]),
            "x2": pa.array(x2[order]),
            "y2": pa.array(y2[order]),
            "frame_w": pa.array(np.full(n_rows, WIDTH, dtype=np.int32)),
            "frame_h": pa.array(np.full(n_rows, HEIGHT, dtype=np.int32)),
            "confidence": pa.array(np.round(0.5 + 0.45 * np.abs(np.sin(t_us[order] / 7e5)), 4)),
            "fallen": pa.array(fallen[order]),
        }
    )
    return table.cast(DETECTIONS_SCHEMA)


def bronze_from_detections(detections: pa.Table) -> pa.Table:
    """Bronze rows (payload = the schema v1 NDJSON event, video_key, event_id) of the detections."""
    from retail_assets.analytics.sql_files import connect

    con = connect()
    try:
        con.register("d", detections)
        return con.sql(
            """
            SELECT to_json({
                'schema_version': 1, 'event_id': event_id, 'event_type': 'detection',
                'store_id': store_id, 'camera_id': camera_id,
                'video_uri': 's3://videos/' || video_key, 'video_etag': 'synthetic',
                'frame_index': frame_index, 'pts_ms': frame_index * 100.0,
                'ts': strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'), 'track_id': track_id,
                'class_id': 0, 'label': 'person', 'confidence': confidence,
                'bbox': {'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2},
                'frame_w': frame_w, 'frame_h': frame_h, 'model': 'synthetic', 'tracker': 'synthetic',
                'attributes': CASE WHEN fallen THEN MAP {'posture': 'fallen'} ELSE MAP {} END
            })::VARCHAR AS payload, video_key, event_id
            FROM d
            """
        ).to_arrow_table()
    finally:
        con.close()


def synthetic_bronze(rows: int = 1_500_000, cameras: int = 4, seed: int = 7) -> pa.Table:
    return bronze_from_detections(synthetic_detections(rows, cameras, seed))


def whole_videos_prefix(bronze: pa.Table, rows: int) -> pa.Table:
    """The bronze rows of the first videos (in key order) holding at most about `rows` rows."""
    counts = bronze.group_by("video_key").aggregate([("event_id", "count")]).sort_by("video_key")
    keep, total = [], 0
    for key, count in zip(counts["video_key"].to_pylist(), counts["event_id_count"].to_pylist(), strict=True):
        if keep and total + count > rows:
            break
        keep.append(key)
        total += count
    return bronze.filter(pc.is_in(bronze["video_key"], pa.array(keep)))


def run_columnar(bronze: pa.Table, geometry: StoreGeometry):  # -> (SilverTables, GoldTables)
    from retail_assets.analytics.detections import detections_from_bronze
    from retail_assets.analytics.gold import build_gold
    from retail_assets.analytics.silver import build_silver
    from retail_assets.contracts.store_day import StoreDay

    silver = build_silver(detections_from_bronze(bronze), geometry, DAY)
    gold = build_gold(silver.tracks, silver.occupancy, StoreDay(DAY, STORE), geometry, "detections")
    return silver, gold


def run_naive(bronze: pa.Table, geometry: StoreGeometry):  # -> (SilverTables, GoldTables)
    from retail_assets.analytics.naive import naive_detections, naive_gold, naive_silver
    from retail_assets.contracts.store_day import StoreDay

    silver = naive_silver(naive_detections(bronze), geometry, DAY)
    gold = naive_gold(silver.tracks, silver.occupancy, StoreDay(DAY, STORE), geometry, "detections")
    return silver, gold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=_positive_int, default=1_500_000, help="bronze rows (default 1500000)")
    parser.add_argument("--cameras", type=_positive_int, default=4, help="cameras of the store (default 4)")
    parser.add_argument(
        "--naive-rows",
        type=_positive_int,
        default=200_000,
        help="the naive path runs on the first videos holding at most this many rows (default 200000)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic day (default 7)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")


def run(args: argparse.Namespace) -> int:
    load_start = os.getloadavg()[0]
    print(f"analytics bench: generating {args.rows} bronze rows ...", file=sys.stderr, flush=True)
    geometry = bench_geometry(args.cameras)
    bronze = synthetic_bronze(args.rows, args.cameras, args.seed)
    sample = whole_videos_prefix(bronze, args.naive_rows)
    # untimed warm-up on one video: loads DuckDB's JSON extension and the imports of both paths
    warm_up = whole_videos_prefix(bronze, 1)
    run_columnar(warm_up, geometry)
    run_naive(warm_up, geometry)
    started = time.perf_counter()
    silver, gold = run_columnar(bronze, geometry)
    columnar_s = time.perf_counter() - started
    started = time.perf_counter()
    run_naive(sample, geometry)
    naive_s = time.perf_counter() - started
    load_end = os.getloadavg()[0]
    columnar_rate = bronze.num_rows / columnar_s
    naive_rate = sample.num_rows / naive_s
    daily = gold.store_daily.to_pylist()[0]
    report = {
        "bronze_rows": bronze.num_rows,
        "videos": len(pc.unique(bronze["video_key"])),
        "silver_tracks": silver.tracks.num_rows,
        "columnar": {
            "rows": bronze.num_rows,
            "seconds": round(columnar_s, 3),
            "rows_per_s": round(columnar_rate),
        },
        "naive": {"rows": sample.num_rows, "seconds": round(naive_s, 3), "rows_per_s": round(naive_rate)},
        "speedup": round(columnar_rate / naive_rate, 1),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "meets_target": columnar_rate >= TARGET_ROWS_PER_S,
        "load_average_1m": {"start": round(load_start, 2), "end": round(load_end, 2)},
        "day": {k: daily[k] for k in ("visitors_in", "visitors_out", "peak_occupancy", "falls")},
    }
    print(
        f"synthetic store-day: {report['bronze_rows']} bronze rows, {report['videos']} videos, "
        f"{args.cameras} cameras, {report['silver_tracks']} tracks"
    )
    print(f"load average (1 min): {load_start:.2f} at start, {load_end:.2f} at end")
    print(f"{'path':<10}{'rows':>12}{'seconds':>10}{'rows/s':>14}")
    print(f"{'columnar':<10}{bronze.num_rows:12d}{columnar_s:10.2f}{columnar_rate:14,.0f}")
    print(
        f"{'naive':<10}{sample.num_rows:12d}{naive_s:10.2f}{naive_rate:14,.0f}"
        + (
            f"   (subsample: the first {sample.num_rows} rows, whole videos)"
            if sample.num_rows < bronze.num_rows
            else ""
        )
    )
    print(
        f"columnar vs naive: {report['speedup']}x the rows/s; target {TARGET_ROWS_PER_S:,} rows/s "
        f"{'met' if report['meets_target'] else 'NOT met'}"
    )
    if args.json:
        print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
