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
