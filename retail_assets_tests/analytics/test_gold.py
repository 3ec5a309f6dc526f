"""Gold answers from silver: footfall, occupancy, dwell, fall alerts and the store-day row."""

from __future__ import annotations

from datetime import datetime

from retail_assets.analytics.gold import build_gold
from retail_assets.analytics.silver import build_silver
from retail_assets.contracts.falls import fall_frame_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets_tests.analytics.helpers import DAY, GEOMETRY, START, detections, track_rows, walk

STORE_DAY = StoreDay(DAY, "s1")


def test_gold_tables_answer_the_store_questions():
    people_in = [track_rows(i, walk(20, 180, 30, y=60.0 + 10.0 * i)) for i in (1, 2, 3)]
    person_out = track_rows(4, walk(180, 20, 30, y=95.0))
    at_counter = track_rows(5, [(30.0, 30.0)] * 50)  # 4.9 s at the counter
    faller = track_rows(6, [(150.0, 80.0)] * 30, fallen=[False] * 10 + [True] * 20)
    silver = build_silver(detections(*people_in, person_out, at_counter, faller), GEOMETRY, DAY)
    gold = build_gold(silver.tracks, silver.occupancy, STORE_DAY, GEOMETRY, "detections")

    footfall = gold.footfall_hourly.to_pylist()
    assert [(r["line"], r["hour"], r["people_in"], r["people_out"]) for r in footfall] == [
        ("door", START.replace(minute=0), 3, 1)
    ]
    dwell = gold.dwell_hourly.to_pylist()
    assert [(r["zone"], r["visits"], round(r["median_seconds"], 3)) for r in dwell] == [("counter", 1, 4.9)]

    occupancy = gold.occupancy_minutely.to_pylist()
    whole = next(r for r in occupancy if r["zone"] == "*")
    assert whole["max_people"] == 6 and whole["frames"] == 50
    assert 0 < whole["mean_people"] <= whole["max_people"]

    (alert,) = gold.fall_alerts.to_pylist()
    start_event = faller[10]["event_id"]
    assert alert["start_ts"] == faller[10]["ts"]
    assert alert["frame_uri"] == f"s3://detections/{fall_frame_key(faller[10]['video_key'], start_event)}"

    (daily,) = gold.store_daily.to_pylist()
    assert (daily["visitors_in"], daily["visitors_out"], daily["falls"], daily["tracks"]) == (3, 1, 1, 6)
    assert daily["peak_occupancy"] == 6 and isinstance(daily["peak_minute"], datetime)
    assert [(d["zone"], d["visits"]) for d in daily["median_dwell"]] == [("counter", 1)]


def test_a_store_day_without_tracks_still_has_its_daily_row():
    silver = build_silver(detections(), GEOMETRY, DAY)
    gold = build_gold(silver.tracks, silver.occupancy, STORE_DAY, GEOMETRY, "detections")
    (daily,) = gold.store_daily.to_pylist()
    assert daily["store_id"] == "s1" and daily["event_date"] == DAY
    assert (daily["tracks"], daily["visitors_in"], daily["peak_occupancy"], daily["falls"]) == (0, 0, 0, 0)
    assert daily["median_dwell"] == [] and daily["peak_minute"] is None
    assert gold.footfall_hourly.num_rows == 0
