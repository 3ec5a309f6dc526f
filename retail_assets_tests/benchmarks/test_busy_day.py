"""The busy-day benchmark runs end to end on the stack; its JSON line adds up. No timing is
asserted: speed is what the benchmark measures, never what a test checks."""

from __future__ import annotations

import json

import pytest

from retail_assets.benchmarks import busy_day
from retail_assets.benchmarks.synthetic import make_lines

VIDEOS, LINES = 4, 50


def test_busy_day_prints_both_paths_and_a_json_line_that_adds_up(stack, capsys) -> None:
    assert busy_day.main(["--videos", str(VIDEOS), "--lines", str(LINES), "--progress-every", "2"]) == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    results = json.loads(out[-1])

    assert results["videos"] == VIDEOS and results["lines_per_video"] == LINES
    assert results["expected_rows"] == VIDEOS * LINES
    assert results["rows_verified"] is True
    for key in (
        "incremental_last_over_first_seconds",
        "full_last_over_first_seconds",
        "full_over_incremental_total_seconds",
        "full_over_incremental_total_rows_touched",
        "load_average_1m_start",
        "load_average_1m_end",
        "publish_seconds_not_measured",
        "order",
    ):
        assert key in results, key
    for name, function in (("full", "write_bronze_partition"), ("incremental", "write_bronze_videos")):
        path = results[name]
        assert path["function"] == function
        assert path["table_rows"] == path["table_distinct_event_ids"] == VIDEOS * LINES and path["table_ok"]
        # Only the videos that exist are reported: 1st and last of 4.
        assert list(path["marks"]) == ["1", str(VIDEOS)]
        seconds, touched = path["per_video_seconds"], path["per_video_rows_touched"]
        assert len(seconds) == len(touched) == VIDEOS
        assert path["total_seconds"] == pytest.approx(sum(seconds), abs=1e-3 * VIDEOS)
        assert path["total_rows_touched"] == sum(touched)
        assert path["total_rows_touched"] == path["total_rows_written"] + path["total_rows_replaced"]
        assert touched == [
            w + r
            for w, r in zip(path["per_video_rows_written"], path["per_video_rows_replaced"], strict=True)
        ]
        for n, mark in path["marks"].items():
            assert mark["rows_touched"] == touched[int(n) - 1]
    # Rows touched are exact: the n-th full write rewrites n videos and removes the n-1 before;
    # an incremental write adds one video and removes nothing (each video arrives once).
    assert results["full"]["per_video_rows_touched"] == [(2 * n - 1) * LINES for n in range(1, VIDEOS + 1)]
    assert results["incremental"]["per_video_rows_touched"] == [LINES] * VIDEOS
    assert results["full_over_incremental_total_rows_touched"] == round(
        VIDEOS**2 * LINES / (VIDEOS * LINES), 2
    )

    table = "\n".join(out[:-1])
    assert "write_bronze_partition" in table and "write_bronze_videos" in table
    assert "not measured" in table and "load average" in table
    assert table.count(": OK") == 2
    assert "busy_day: full video 4/4" in captured.err


def test_videos_of_the_day_have_distinct_keys_and_event_ids() -> None:
    arrivals = [busy_day.arrival(i) for i in range(busy_day.MAX_VIDEOS)]
    assert len(set(arrivals)) == busy_day.MAX_VIDEOS
    ids = [
        json.loads(line)["event_id"]
        for camera, start in arrivals[:3]
        for line in make_lines(10, camera, start)
    ]
    assert len(set(ids)) == 30


def test_too_many_videos_is_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        busy_day.main(["--videos", str(busy_day.MAX_VIDEOS + 1)])
    assert exc.value.code == 2
