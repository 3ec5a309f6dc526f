"""`retail-assets eval --geometry`: line crossings and zone occupancy next to the ground truth's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from retail_assets.cli import main as cli_main
from retail_assets.vision.evaluation import load_mot_ground_truth

ROOT = Path(__file__).resolve().parents[2]
GT = ROOT / "retail_assets_tests" / "data" / "PETS09-S2L1" / "gt.txt"
GEOMETRY = ROOT / "retail_assets" / "analytics" / "geometries" / "store-001.yaml"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def write_ndjson(path: Path, drop_ids: set[int] = frozenset()) -> Path:
    """The ground truth's boxes as the pipeline's NDJSON events (a perfect detector and tracker)."""
    gt = load_mot_ground_truth(GT)
    with path.open("w") as out:
        for frame, boxes in sorted(gt.counted.items()):
            for box in boxes:
                if box.object_id in drop_ids:
                    continue
                event = {
                    "schema_version": 1,
                    "event_id": f"{frame}-{box.object_id}",
                    "store_id": "eval",
                    "camera_id": "eval",
                    "frame_index": frame,
                    "pts_ms": frame * 100.0,
                    "ts": (START + timedelta(milliseconds=100 * frame)).isoformat().replace("+00:00", "Z"),
                    "track_id": box.object_id,
                    "confidence": 0.9,
                    "bbox": {"x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2},
                    "frame_w": 768,
                    "frame_h": 576,
                    "attributes": {},
                }
                out.write(json.dumps(event) + "\n")
    return path


def run_eval(ndjson: Path, capsys) -> dict:
    args = ["eval", "--detections", str(ndjson), "--gt", str(GT), "--geometry", str(GEOMETRY), "--json"]
    assert cli_main(args) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])["counts"]


def test_perfect_tracks_match_the_ground_truth_on_every_line_and_zone(tmp_path, capsys):
    counts = run_eval(write_ndjson(tmp_path / "perfect.ndjson"), capsys)
    assert [line["line"] for line in counts["lines"]] == ["west-door", "east-walk"]
    for line in counts["lines"]:
        assert line["truth_in"] + line["truth_out"] > 0
        assert (line["pipeline_in"], line["pipeline_out"]) == (line["truth_in"], line["truth_out"])
    assert [zone["zone"] for zone in counts["zones"]] == ["walkway-east", "*"]
    for zone in counts["zones"]:
        assert zone["truth_mean"] > 0
        assert abs(zone["pipeline_mean"] - zone["truth_mean"]) < 1e-3
        assert zone["pipeline_peak"] == zone["truth_peak"]


def test_missing_people_show_as_fewer_crossings_and_less_occupancy(tmp_path, capsys):
    perfect = run_eval(write_ndjson(tmp_path / "perfect.ndjson"), capsys)
    fewer = run_eval(write_ndjson(tmp_path / "fewer.ndjson", drop_ids={2, 4, 6, 7, 10}), capsys)
    total = sum(line["pipeline_in"] + line["pipeline_out"] for line in fewer["lines"])
    truth_total = sum(line["truth_in"] + line["truth_out"] for line in perfect["lines"])
    assert total < truth_total
    whole = next(zone for zone in fewer["zones"] if zone["zone"] == "*")
    assert whole["pipeline_mean"] < whole["truth_mean"]


def test_the_table_names_each_line_and_zone(tmp_path, capsys):
    ndjson = write_ndjson(tmp_path / "perfect.ndjson")
    assert cli_main(["eval", "--detections", str(ndjson), "--gt", str(GT), "--geometry", str(GEOMETRY)]) == 0
    text = capsys.readouterr().out
    for word in ("line west-door", "line east-walk", "[entrance]", "zone walkway-east", "zone whole frame"):
        assert word in text
