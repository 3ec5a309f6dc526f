"""`retail-assets demo` (what `make demo` runs) on the test stack, with a short frame budget."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "retail-assets")


@pytest.mark.timeout(900)
def test_demo_prints_a_summary_whose_bronze_rows_equal_the_ndjson_lines(stack) -> None:
    argv = [CLI, "demo", "--dir", str(stack.root), "--store", "store-demo01", "--date", "2026-11-21"]
    done = subprocess.run([*argv, "--max-frames", "8"], capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    lines = int(re.search(r"^detections\s+(\d+) NDJSON lines", out, re.M).group(1))
    rows = int(re.search(r"^bronze rows\s+(\d+) in lakehouse\.rva\.bronze_raw", out, re.M).group(1))
    messages = int(re.search(r"^messages\s+(\d+) on ", out, re.M).group(1))
    assert lines > 0 and rows == lines == messages
    # the asset's 5 frames a second: every second frame of vtest.avi's first 8
    assert re.search(r"^frames\s+4 processed \(5 frames a second of the first 8 frames", out, re.M)
    assert re.search(r"^iceberg snapshot\s+\d+$", out, re.M)
    assert re.search(r"^checks\s+10/10 passed", out, re.M)
    assert f"OK: bronze rows == NDJSON lines ({rows})" in out
    # The store-day's answers, from the gold tables, and where the pictures are.
    assert "answers for 2026-11-21|store-demo01" in out
    assert re.search(r"^  peak occupancy\s+\d+ people at \d\d:\d\d UTC$", out, re.M)
    assert re.search(r"^  median dwell\s+cam-1/walkway-east: |^  tracks\s+\d+$", out, re.M)
    assert re.search(r"^  falls\s+\d+$", out, re.M)
    assert re.search(r"^  picture\s+s3://\S+/_reports/2026-11-21/store-demo01/heatmap-cam-1\.png$", out, re.M)
    assert re.search(
        r"^  picture\s+s3://\S+/_reports/2026-11-21/store-demo01/footfall-hourly\.png$", out, re.M
    )


def test_demo_without_the_sample_video_says_where_to_get_it(stack, tmp_path) -> None:
    missing = tmp_path / "vtest.avi"
    done = subprocess.run(
        [CLI, "demo", "--dir", str(stack.root), "--video", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert str(missing) in done.stderr and "opencv-doc" in done.stderr
