"""The streaming benchmark command runs end to end on the stack and prints both baselines."""

from __future__ import annotations

import json

from retail_assets.benchmarks import streaming


def test_benchmark_prints_a_table_and_a_json_line(stack, capsys) -> None:
    assert streaming.main(["--messages", "3000", "--baseline-messages", "300"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    results = json.loads(out[-1])
    assert results["messages"] == 3000 and results["baseline_messages"] == 300
    for key in (
        "publish_msgs_per_s",
        "publish_naive_msgs_per_s",
        "bronze_rows_per_s",
        "bronze_naive_rows_per_s",
    ):
        assert results[key] > 0
    table = "\n".join(out[:-1])
    assert "batched async publisher" in table and "naive: sync, one at a time" in table
    assert "write_bronze_partition" in table and "naive: per message, one overwrite" in table


def test_generated_lines_are_valid_v1_events() -> None:
    from retail_assets.contracts.events import validate_line

    lines = streaming.make_lines(50)
    assert all(validate_line(line) == [] for line in lines)
    assert len({json.loads(line)["event_id"] for line in lines}) == 50
