"""The default pipeline's tracking accuracy on the whole PETS09-S2L1 sequence (795 frames).

Slow on a CPU (several minutes): it runs the real detector, embedder and tracker on every frame,
through the same `eval` command a user runs, and caches nothing between runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retail_assets.cli import main as cli_main
from retail_assets_tests.vision.conftest import GT


@pytest.mark.slow
def test_default_pipeline_meets_the_accuracy_bar_on_pets09(
    vtest: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    saved = tmp_path / "pets09.ndjson"
    code = cli_main(
        ["eval", "--video", str(vtest), "--gt", str(GT), "--json", "--progress", "0", "--save", str(saved)]
    )
    assert code == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with capsys.disabled():  # the figures, for whoever sets the bar below
        print(f"\nPETS09-S2L1 default pipeline: MOTA {scores['mota']:.3f} IDF1 {scores['idf1']:.3f}")
    assert scores["frames"] == 795
    assert scores["gt"] == 4476  # every counted box of the sequence was scored
    # Measured 0.491 / 0.578 (MOTA / IDF1); held a few points below so a regression fails.
    assert scores["mota"] >= 0.46, scores
    assert scores["idf1"] >= 0.55, scores
    # Scoring the saved file again gives the same figures (the file is what was scored).
    assert cli_main(["eval", "--detections", str(saved), "--gt", str(GT), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == scores
