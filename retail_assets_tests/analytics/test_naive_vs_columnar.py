"""The columnar SQL and the naive per-row Python give the same silver and gold on a synthetic day."""

from __future__ import annotations

import math

import pyarrow as pa

from retail_assets.benchmarks.analytics import bench_geometry, run_columnar, run_naive, synthetic_bronze


def _same(a: object, b: object, where: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {a} != {b}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _rows(table: pa.Table, keys: list[str]) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(r[k]) for k in keys))


def test_naive_and_columnar_agree_on_a_synthetic_store_day():
    geometry = bench_geometry(cameras=2)
    bronze = synthetic_bronze(rows=30_000, cameras=2, seed=3)
    silver, gold = run_columnar(bronze, geometry)
    naive_silver, naive_gold = run_naive(bronze, geometry)

    tracks = silver.tracks
    assert tracks.num_rows > 50
    crossings = sum(len(c) for c in tracks["crossings"].to_pylist())
    visits = sum(len(v) for v in tracks["zone_visits"].to_pylist())
    falls = sum(len(f) for f in tracks["falls"].to_pylist())
    assert crossings > 50 and visits > 5 and falls >= 1  # the day exercises every rule

    assert tracks.schema == naive_silver.tracks.schema
    _same(_rows(tracks, ["track_uid"]), _rows(naive_silver.tracks, ["track_uid"]), "silver_tracks")
    occupancy_keys = ["video_key", "zone", "minute"]
    _same(_rows(silver.occupancy, occupancy_keys), _rows(naive_silver.occupancy, occupancy_keys), "occupancy")
    for name, table in gold.by_table_name().items():
        other = naive_gold.by_table_name()[name]
        assert table.schema == other.schema, name
        keys = [c for c in table.column_names if c not in ("median_dwell",)]
        _same(_rows(table, keys), _rows(other, keys), name)


def test_naive_and_columnar_agree_on_sampled_frames_with_irregular_times():
    """Every 5th frame sampled, times jittered around a minute boundary, one frame off the
    sampling grid, and a long gap with nobody: occupancy counts the same frames both ways."""
    from datetime import timedelta

    from retail_assets.analytics.naive import naive_detections_from_table, naive_silver
    from retail_assets.analytics.silver import build_silver
    from retail_assets_tests.analytics.helpers import DAY, GEOMETRY, START, detections, track_rows

    rows = []
    frames = [*range(0, 100, 5), 103, *range(400, 700, 5)]  # 103 is off the grid; 100-395 empty
    for n, frame in enumerate(frames):
        for person in (1, 2) if n % 3 else (1,):
            (row,) = track_rows(person, [(30.0 + person, 30.0)], first_frame=frame)
            row["ts"] = START + timedelta(seconds=55 + frame / 10, microseconds=(n * 7919) % 40_000)
            rows.append(row)
    table = detections(rows)
    columnar = build_silver(table, GEOMETRY, DAY).occupancy
    naive = naive_silver(naive_detections_from_table(table), GEOMETRY, DAY).occupancy
    keys = ["zone", "minute"]
    assert _rows(columnar, keys) == _rows(naive, keys)
    whole = [r for r in columnar.to_pylist() if r["zone"] == "*"]
    assert sum(r["frames"] for r in whole) == len(range(0, 700, 5)) + 1
    assert len(whole) >= 2  # the times cross a minute boundary
