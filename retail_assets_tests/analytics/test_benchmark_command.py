"""`retail-assets bench analytics` runs both paths on a tiny synthetic day and reports them."""

from __future__ import annotations

import json

from retail_assets.cli import main as cli_main


def test_bench_analytics_reports_both_paths(capsys):
    assert cli_main(["bench", "analytics", "--rows", "4000", "--naive-rows", "1500", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["columnar"]["rows"] == report["bronze_rows"] >= 4000
    assert 0 < report["naive"]["rows"] <= 1500  # whole videos up to the subsample size
    assert report["columnar"]["rows_per_s"] > 0 and report["naive"]["rows_per_s"] > 0
    assert report["silver_tracks"] > 0 and report["day"]["visitors_in"] > 0
    assert set(report["load_average_1m"]) == {"start", "end"}
    text = "\n".join(lines)
    assert "columnar" in text and "naive" in text and "subsample" in text
