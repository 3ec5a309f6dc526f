"""Geometry documents: validation errors that say where, dated versions, storage, the check command."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from retail_assets.analytics.geometry import (
    GeometryError,
    list_geometry_versions,
    load_geometry,
    parse_geometry,
    read_geometry_file,
    shipped_geometry_text,
)
from retail_assets.analytics.silver import build_silver
from retail_assets.cli import main as cli_main
from retail_assets.settings import Settings
from retail_assets_tests.analytics.helpers import detections, track_rows, walk

SHIPPED = (
    Path(__file__).resolve().parents[2] / "retail_assets" / "analytics" / "geometries" / "store-001.yaml"
)
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")

DOC = """
store_id: s1
versions:
  - valid_from: 2026-01-01
    cameras:
      cam-1:
        width: 200
        height: 100
        lines:
          - {name: door, start: [100, 0], end: [100, 100], in_side: left, entrance: true}
        zones:
          - {name: counter, polygon: [[10, 10], [60, 10], [60, 60], [10, 60]]}
"""


def error_of(text: str) -> str:
    with pytest.raises(GeometryError) as caught:
        parse_geometry(text, "stores/s1.yaml")
    return str(caught.value)


def test_a_valid_document_parses():
    document = parse_geometry(DOC, "stores/s1.yaml")
    camera = document.versions[0].camera("cam-1")
    assert camera is not None and camera.lines[0].entrance and camera.zones[0].name == "counter"
    assert document.versions[0].camera("cam-9") is None  # an unknown camera is not an error


def test_a_line_with_one_point_names_file_store_camera_and_field():
    message = error_of(DOC.replace("end: [100, 100], ", ""))
    assert "stores/s1.yaml" in message and "store s1" in message and "camera cam-1" in message
    assert "lines[0]('door')" in message and "'end' is required" in message
    message = error_of(DOC.replace("end: [100, 100]", "end: [100, 0]"))
    assert "camera cam-1" in message and "lines[0]('door')" in message and "one point" in message
    message = error_of(DOC.replace("start: [100, 0]", "start: [100]"))
    assert "lines[0]('door').start" in message and "at least 2" in message


def test_a_self_intersecting_zone_is_named():
    message = error_of(
        DOC.replace("[[10, 10], [60, 10], [60, 60], [10, 60]]", "[[10, 10], [60, 60], [60, 10], [10, 60]]")
    )
    assert "store s1" in message and "camera cam-1" in message
    assert "zones[0]('counter').polygon" in message and "crosses itself" in message


def test_a_zone_with_two_points_is_named():
    message = error_of(DOC.replace("[[10, 10], [60, 10], [60, 60], [10, 60]]", "[[10, 10], [60, 10]]"))
    assert "zones[0]('counter').polygon" in message and "at least 3" in message


def test_coordinates_outside_the_frame_are_named():
    message = error_of(DOC.replace("[60, 60], [10, 60]", "[60, 160], [10, 60]"))
    assert "camera cam-1" in message and "zones[0]('counter').polygon[2]" in message
    assert "outside the 200x100 frame" in message


def test_unknown_fields_bad_in_side_bad_date_and_duplicates_are_each_named():
    message = error_of(DOC.replace("entrance: true", "entrance: true, colour: red"))
    assert "lines[0]('door')" in message and "'colour' was unexpected" in message
    message = error_of(DOC.replace("in_side: left", "in_side: inside"))
    assert "lines[0]('door').in_side" in message and "'inside'" in message
    message = error_of(DOC.replace("2026-01-01", "2026-02-30"))
    assert "field valid_from" in message and "not a calendar date" in message
    doubled = DOC.replace(
        "zones:", "  - {name: door, start: [50, 0], end: [50, 100], in_side: right}\n        zones:"
    )
    assert "line name 'door' is used twice" in error_of(doubled)


def test_a_later_version_does_not_change_an_earlier_day():
    moved = (
        DOC
        + """  - valid_from: 2026-03-01
    cameras:
      cam-1:
        width: 200
        height: 100
        lines:
          - {name: door, start: [150, 0], end: [150, 100], in_side: left, entrance: true}
"""
    )
    document = parse_geometry(moved, "stores/s1.yaml")
    february, march = document.for_day(date(2026, 2, 15)), document.for_day(date(2026, 3, 2))
    assert document.for_day(date(2025, 12, 31)) is None
    assert february is not None and march is not None
    assert february.valid_from == date(2026, 1, 1) and march.valid_from == date(2026, 3, 1)
    assert february.fingerprint() != march.fingerprint()
    # a walk from x=20 to x=120 crosses the January door (x=100) but not March's (x=150)
    table = detections(track_rows(1, walk(20, 120, 30)))
    feb_tracks = build_silver(table, february, date(2026, 2, 15)).tracks.to_pylist()
    mar_tracks = build_silver(table, march, date(2026, 3, 2)).tracks.to_pylist()
    assert [c["direction"] for c in feb_tracks[0]["crossings"]] == ["in"]
    assert feb_tracks[0]["geometry_version"] == "2026-01-01"
    assert mar_tracks[0]["crossings"] == [] and mar_tracks[0]["geometry_version"] == "2026-03-01"


def test_the_shipped_demo_geometry_is_valid():
    document = read_geometry_file(SHIPPED)
    camera = document.versions[-1].camera("cam-1")
    assert document.store_id == "store-001" and camera is not None
    assert (camera.width, camera.height) == (768, 576)
    assert any(line.entrance for line in camera.lines) and camera.zones


def test_geometry_check_draws_the_lines_over_a_frame(tmp_path, capsys):
    out = tmp_path / "drawn.png"
    assert cli_main(["geometry", "check", str(SHIPPED), "--video", str(VTEST), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valid" in printed and "west-door" in printed and str(out) in printed
    drawn = cv2.imread(str(out))
    capture = cv2.VideoCapture(str(VTEST))
    _, frame = capture.read()
    capture.release()
    assert drawn.shape == frame.shape
    # on the entrance line (x=150, y 180..330) the picture differs from the video frame
    on_line = np.abs(drawn[200:320, 149:152].astype(int) - frame[200:320, 149:152].astype(int)).mean()
    far_away = np.abs(drawn[500:560, 20:60].astype(int) - frame[500:560, 20:60].astype(int)).mean()
    assert on_line > 40 and far_away < 1


def test_geometry_check_without_video_draws_on_a_blank_frame(tmp_path):
    source = tmp_path / "s1.yaml"
    source.write_text(DOC)
    assert cli_main(["geometry", "check", str(source)]) == 0
    drawn = cv2.imread(str(tmp_path / "s1.png"))
    assert drawn.shape == (100, 200, 3)
    assert (drawn[40:60, 100] != drawn[90, 180]).any()  # the door line vs the blank background


def test_geometry_check_reports_a_bad_file_and_fails(tmp_path, capsys):
    source = tmp_path / "s1.yaml"
    source.write_text(DOC.replace("[60, 60], [10, 60]", "[60, 160], [10, 60]"))
    assert cli_main(["geometry", "check", str(source)]) == 2
    assert "outside the 200x100 frame" in capsys.readouterr().err


def test_put_then_load_from_a_local_directory(tmp_path, monkeypatch):
    source = tmp_path / "s1.yaml"
    source.write_text(DOC)
    location = tmp_path / "geometry"
    monkeypatch.setenv("RVA_GEOMETRY_URI", str(location))
    assert cli_main(["geometry", "put", str(source)]) == 0
    assert load_geometry(str(location), "s1").store_id == "s1"
    assert load_geometry(str(location), "s2") is None
    assert set(list_geometry_versions(str(location))) == {"s1"}


def test_put_then_load_from_s3_and_versions_change_with_content(stack, s3, tmp_path, monkeypatch):
    # the pipeline's identity (the environment's keys) writes under the detections bucket
    bucket = Settings.from_env().detections_bucket
    prefix = f"_geometry-{uuid.uuid4().hex[:8]}/"
    location = f"s3://{bucket}/{prefix}"
    source = tmp_path / "s1.yaml"
    source.write_text(DOC)
    monkeypatch.setenv("RVA_GEOMETRY_URI", location)
    assert cli_main(["geometry", "put", str(source)]) == 0
    document = load_geometry(location, "s1", s3_client=s3)
    assert document is not None and document.source == f"{location}s1.yaml"
    assert load_geometry(location, "nobody", s3_client=s3) is None
    before = list_geometry_versions(location, s3_client=s3)
    source.write_text(DOC.replace("[100, 0]", "[90, 0]"))
    assert cli_main(["geometry", "put", str(source)]) == 0
    after = list_geometry_versions(location, s3_client=s3)
    assert set(before) == set(after) == {"s1"} and before["s1"] != after["s1"]
    # a bad document in the store names its URI when loaded
    s3.put_object(
        Bucket=bucket, Key=f"{prefix}s2.yaml", Body=DOC.replace("s1", "s2").replace("left", "up").encode()
    )
    with pytest.raises(GeometryError, match=rf"geometry {location}s2.yaml, store s2.*camera cam-1"):
        load_geometry(location, "s2", s3_client=s3)


def test_the_package_ships_the_demo_store_geometry():
    text = shipped_geometry_text("store-001")
    assert text is not None and parse_geometry(text, "store-001.yaml").store_id == "store-001"
    assert shipped_geometry_text("no-such-store") is None


def test_the_default_location_is_under_the_detections_bucket(monkeypatch):
    monkeypatch.delenv("RVA_GEOMETRY_URI", raising=False)
    monkeypatch.setenv("RVA_DETECTIONS_BUCKET", "dets")
    assert Settings.from_env().geometry_location == "s3://dets/_geometry/"
    monkeypatch.setenv("RVA_GEOMETRY_URI", "s3://config/geometry/")
    assert Settings.from_env().geometry_location == "s3://config/geometry/"
