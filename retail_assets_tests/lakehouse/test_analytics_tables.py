"""Silver and gold tables: rewrites give the same rows, a new video's write touches only its rows,
a SIGKILL mid-write changes nothing, the checks catch broken tables, and `query` reads them."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from retail_assets.analytics.gold import build_gold
from retail_assets.analytics.silver import SilverTables
from retail_assets.cli import main as cli_main
from retail_assets.contracts.falls import fall_frame_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.lakehouse import checks
from retail_assets.lakehouse.analytics import (
    GOLD_TABLES,
    SILVER_OCCUPANCY,
    SILVER_TRACKS,
    read_rows,
    read_silver,
    table_identifier,
    write_gold,
    write_silver,
)
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.lakehouse.writes import SNAPSHOT_RUN_ID
from retail_assets.objectstore import split_s3_uri
from retail_assets_tests.lakehouse.walkers import demo_geometry, silver_of_videos, video_of, walker_detections
from retail_assets_tests.streaming.process_kill import run_and_kill

STORE_DAY = StoreDay(date(2026, 11, 28), "store-001")


@pytest.fixture
def namespace() -> str:
    return f"analytics_{uuid.uuid4().hex[:8]}"


def _sorted(rows: pa.Table, key: str) -> list[dict]:
    return rows.sort_by(key).to_pylist()


def _gold(catalog, namespace: str) -> dict[str, pa.Table]:
    silver = read_silver(catalog, STORE_DAY, namespace=namespace)
    return build_gold(
        silver.tracks, silver.occupancy, STORE_DAY, demo_geometry().for_day(STORE_DAY.day), "detections"
    ).by_table_name()


def _all_rows(catalog, namespace: str) -> dict[str, list[dict]]:
    out = {}
    for name in (SILVER_TRACKS, SILVER_OCCUPANCY, *GOLD_TABLES):
        rows = read_rows(catalog, name, STORE_DAY, namespace=namespace)
        out[name] = sorted(json.dumps(row, default=str, sort_keys=True) for row in rows.to_pylist())
    return out


def test_rewriting_a_store_day_gives_the_same_silver_and_gold_rows(catalog, namespace) -> None:
    silver = silver_of_videos(STORE_DAY, 3)
    write_silver(catalog, silver, store_day=STORE_DAY, scope=None, run_id="first", namespace=namespace)
    write_gold(catalog, _gold(catalog, namespace), store_day=STORE_DAY, run_id="first", namespace=namespace)
    first = _all_rows(catalog, namespace)
    assert len(first[SILVER_TRACKS]) == 12  # 3 videos x 4 walkers
    assert all(first[name] for name in GOLD_TABLES)

    # Again, whole day, then once more for one video: nothing duplicated, nothing lost.
    write_silver(catalog, silver, store_day=STORE_DAY, scope=None, run_id="second", namespace=namespace)
    one = video_of(STORE_DAY, 1)
    one_video = SilverTables(
        silver.tracks.filter(pc.equal(silver.tracks["video_key"], one)),
        silver.occupancy.filter(pc.equal(silver.occupancy["video_key"], one)),
    )
    write_silver(catalog, one_video, store_day=STORE_DAY, scope=[one], run_id="third", namespace=namespace)
    write_gold(catalog, _gold(catalog, namespace), store_day=STORE_DAY, run_id="second", namespace=namespace)
    assert _all_rows(catalog, namespace) == first
    daily = read_rows(catalog, "gold_store_daily", STORE_DAY, namespace=namespace).to_pylist()
    assert len(daily) == 1 and daily[0]["tracks"] == 12 and daily[0]["visitors_in"] == 12


def test_a_run_for_one_new_video_replaces_only_that_videos_silver_rows(catalog, namespace) -> None:
    write_silver(
        catalog,
        silver_of_videos(STORE_DAY, 3),
        store_day=STORE_DAY,
        scope=None,
        run_id="day",
        namespace=namespace,
    )
    table_id = table_identifier(SILVER_TRACKS, namespace)
    files_before = {t.file.file_path for t in catalog.load_table(table_id).scan().plan_files()}

    new = video_of(STORE_DAY, 3)
    commits = write_silver(
        catalog,
        silver_of_videos(STORE_DAY, 1, first=3),
        store_day=STORE_DAY,
        scope=[new],
        run_id="new-video",
        namespace=namespace,
    )
    assert commits[SILVER_TRACKS].rows == 4 and commits[SILVER_TRACKS].rows_replaced == 0
    files_after = {t.file.file_path for t in catalog.load_table(table_id).scan().plan_files()}
    assert files_before < files_after  # the other videos' files are untouched, the new one's added
    rows = read_rows(catalog, SILVER_TRACKS, STORE_DAY, namespace=namespace)
    assert rows.num_rows == 16 and pc.count_distinct(rows["track_uid"]).as_py() == 16
    # Each data file holds one video's rows only (its video_key bounds are one key).
    table = catalog.load_table(table_id)
    field_id = table.schema().find_field("video_key").field_id
    for task in table.scan().plan_files():
        bounds = {task.file.lower_bounds.get(field_id), task.file.upper_bounds.get(field_id)}
        assert len(bounds) == 1, task.file.file_path


def test_silver_write_killed_midway_changes_nothing_and_the_rerun_is_exact(catalog, namespace) -> None:
    write_silver(
        catalog,
        silver_of_videos(STORE_DAY, 2),
        store_day=STORE_DAY,
        scope=None,
        run_id="before",
        namespace=namespace,
    )
    before = catalog.load_table(table_identifier(SILVER_TRACKS, namespace)).current_snapshot()

    # A whole-day write of 8 videos killed after 3 of its per-video tables reached storage.
    run_and_kill(["silver", catalog.name, namespace, STORE_DAY.key, "killed", "8"], 3)
    table = catalog.load_table(table_identifier(SILVER_TRACKS, namespace))
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert read_rows(catalog, SILVER_TRACKS, STORE_DAY, namespace=namespace).num_rows == 8

    expected = silver_of_videos(STORE_DAY, 8)
    write_silver(catalog, expected, store_day=STORE_DAY, scope=None, run_id="rerun", namespace=namespace)
    rows = read_rows(catalog, SILVER_TRACKS, STORE_DAY, namespace=namespace)
    assert rows.num_rows == 32 and pc.count_distinct(rows["track_uid"]).as_py() == 32
    assert _sorted(rows, "track_uid") == _sorted(expected.tracks, "track_uid")
    occupancy = read_rows(catalog, SILVER_OCCUPANCY, STORE_DAY, namespace=namespace)
    assert occupancy.num_rows == expected.occupancy.num_rows
    assert (
        catalog.load_table(table_identifier(SILVER_TRACKS, namespace))
        .current_snapshot()
        .summary[SNAPSHOT_RUN_ID]
        == "rerun"
    )


def test_checks_pass_on_consistent_tables_and_fail_on_broken_ones(s3) -> None:
    detections = walker_detections(STORE_DAY, [0, 1])
    silver = silver_of_videos(STORE_DAY, 2)
    gold = build_gold(
        silver.tracks, silver.occupancy, STORE_DAY, demo_geometry().for_day(STORE_DAY.day), "detections"
    ).by_table_name()
    alerts = gold["gold_fall_alerts"]
    assert alerts.num_rows == 2  # walker 1 of each video falls
    for uri in alerts["frame_uri"].to_pylist():
        bucket, key = split_s3_uri(uri)
        s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8 a fall frame")

    assert checks.silver_rows_match_tracks(detections, silver.tracks).passed
    assert checks.footfall_within_crossing_tracks(gold["gold_footfall_hourly"], silver.tracks).passed
    assert checks.occupancy_within_frame_counts(gold["gold_occupancy_minutely"], silver.occupancy).passed
    assert checks.fall_frames_exist(alerts, s3).passed

    # A duplicated silver row; a track missing.
    doubled = pa.concat_tables([silver.tracks, silver.tracks.slice(0, 1)])
    outcome = checks.silver_rows_match_tracks(detections, doubled)
    assert not outcome.passed and "appears 2 times" in outcome.problems[0]
    assert not checks.silver_rows_match_tracks(detections, silver.tracks.slice(1)).passed
    # Footfall above the tracks that crossed.
    footfall = gold["gold_footfall_hourly"]
    inflated = footfall.set_column(
        footfall.schema.get_field_index("people_in"), "people_in", pc.add(footfall["people_in"], 1)
    )
    assert not checks.footfall_within_crossing_tracks(inflated, silver.tracks).passed
    # Occupancy negative, or above the most people in one frame.
    occupancy = gold["gold_occupancy_minutely"]
    index = occupancy.schema.get_field_index("max_people")
    assert not checks.occupancy_within_frame_counts(
        occupancy.set_column(index, "max_people", pc.add(occupancy["max_people"], 10)), silver.occupancy
    ).passed
    mean_index = occupancy.schema.get_field_index("mean_people")
    assert not checks.occupancy_within_frame_counts(
        occupancy.set_column(mean_index, "mean_people", pc.negate(occupancy["mean_people"])),
        silver.occupancy,
    ).passed
    # An alert whose frame is not in the object store.
    missing_key = fall_frame_key(video_of(STORE_DAY, 9), "0" * 32)
    broken = alerts.set_column(
        alerts.schema.get_field_index("frame_uri"),
        "frame_uri",
        pa.array([f"s3://detections/{missing_key}"] * alerts.num_rows),
    )
    outcome = checks.fall_frames_exist(broken, s3)
    assert not outcome.passed and missing_key in outcome.problems[0]


def test_query_prints_the_answers_from_the_lakehouse(stack, namespace, monkeypatch, capsys) -> None:
    catalog = open_catalog("lakehouse")  # the environment's catalog (RVA_CATALOG), which `query` reads
    write_silver(
        catalog,
        silver_of_videos(STORE_DAY, 2),
        store_day=STORE_DAY,
        scope=None,
        run_id="q",
        namespace=namespace,
    )
    write_gold(catalog, _gold(catalog, namespace), store_day=STORE_DAY, run_id="q", namespace=namespace)
    monkeypatch.setenv("RVA_NAMESPACE", namespace)

    sql = (
        "SELECT line, sum(people_in) AS people_in, sum(people_out) AS people_out "
        "FROM gold_footfall_hourly GROUP BY line ORDER BY line"
    )
    assert cli_main(["query", sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["line", "people_in", "people_out"]
    # Every walker goes left to right: into the store over west-door, out of east-walk's in side.
    assert lines[2].split() == ["east-walk", "0", "8"] and lines[3].split() == ["west-door", "8", "0"]
    assert lines[-1] == "(2 rows)"

    assert cli_main(["query", "SELECT count(*) AS tracks FROM silver_tracks", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"tracks": 8}]
    assert cli_main(["query", "SELECT visitors_in, falls FROM gold_store_daily", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["visitors_in,falls", "8,2"]

    assert cli_main(["query", "SELECT * FROM gold_nothing"]) == 2
    error = capsys.readouterr().err
    assert "gold_nothing" in error and "silver_tracks" in error  # names the tables there are
