"""The `ingest` command end to end: good clips, an S3 source, and every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retail_assets.cli import main as cli_main
from retail_assets.contracts.events import validate_line
from retail_assets_tests.vision.test_video_source import damage_middle, truncate

REPO_ROOT = Path(__file__).resolve().parents[2]


def ingest(*args: str) -> int:
    return cli_main(["ingest", "--progress", "0", *args])


def read_events(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    for line in lines:
        assert validate_line(line) == [], line
    return [json.loads(line) for line in lines]


def leftovers(directory: Path) -> list[str]:
    """Anything an aborted run could have left: the output or its hidden partial file."""
    return sorted(p.name for p in directory.iterdir() if p.suffix in (".ndjson", ".partial"))


def test_local_clip_with_ids_and_start_time(
    clip_avi: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out" / "events.ndjson"
    code = ingest(
        "--src", str(clip_avi), "--out", str(out), "--max-frames", "12",
        "--store-id", "store-7", "--camera-id", "door", "--start-time", "2026-11-28T09:30:00Z",
    )  # fmt: skip
    assert code == 0
    events = read_events(out)
    assert events, "a clip of people walking gave no events"
    assert {(e["store_id"], e["camera_id"]) for e in events} == {("store-7", "door")}
    first = min(events, key=lambda e: e["frame_index"])
    # ts = start time + pts; pts of frame i at 10 fps is 100 ms * i.
    assert first["pts_ms"] == pytest.approx(100.0 * first["frame_index"])
    assert first["ts"] == f"2026-11-28T09:30:0{first['frame_index'] // 10}.{first['frame_index'] % 10}00Z"
    assert max(e["frame_index"] for e in events) <= 11
    assert "12/12 frames processed" in capsys.readouterr().out


def test_tracking_off_gives_null_track_ids(clip_avi: Path, tmp_path: Path) -> None:
    out = tmp_path / "untracked.ndjson"
    assert ingest("--src", str(clip_avi), "--out", str(out), "--max-frames", "2", "--track", "0") == 0
    events = read_events(out)
    assert events
    assert {e["track_id"] for e in events} == {None}
    assert {e["tracker"] for e in events} == {"none"}


def test_sample_fps_processes_fewer_frames(clip_avi: Path, tmp_path: Path) -> None:
    out = tmp_path / "sampled.ndjson"
    assert (
        ingest(
            "--src",
            str(clip_avi),
            "--out",
            str(out),
            "--max-frames",
            "10",
            "--sample-fps",
            "2",
            "--track",
            "0",
        )
        == 0
    )
    events = read_events(out)
    # 2 of the clip's 10 frames/s: frames 0 and 5 of the first 10, and each shows people walking.
    assert events, "the sampled frames gave no events"
    assert {e["frame_index"] for e in events} == {0, 5}
    assert {e["tracker"] for e in events} == {"none"}


def test_s3_source_takes_store_camera_and_time_from_the_key(
    stack: object, s3: object, clip_mp4: Path, tmp_path: Path
) -> None:
    key = "store-042/cam-entrance/2026-11-28/093015.mp4"
    s3.upload_file(str(clip_mp4), "videos", key)  # type: ignore[attr-defined]
    etag = s3.head_object(Bucket="videos", Key=key)["ETag"].strip('"')  # type: ignore[attr-defined]
    out = tmp_path / "from-s3.ndjson"
    assert ingest("--src", f"s3://videos/{key}", "--out", str(out), "--max-frames", "6") == 0
    events = read_events(out)
    assert events
    assert {e["store_id"] for e in events} == {"store-042"}
    assert {e["camera_id"] for e in events} == {"cam-entrance"}
    assert {e["video_uri"] for e in events} == {f"s3://videos/{key}"}
    assert {e["video_etag"] for e in events} == {etag}
    for event in events:
        # 09:30:15 UTC on the key's date, plus the frame's pts.
        seconds = 15 + event["frame_index"] // 10
        assert event["ts"] == f"2026-11-28T09:30:{seconds:02d}.{event['frame_index'] % 10}00Z"


def test_s3_key_outside_the_layout_is_refused(stack: object, s3: object, clip_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    s3.upload_file(str(clip_mp4), "videos", "misc/clip.mp4")  # type: ignore[attr-defined]
    assert ingest("--src", "s3://videos/misc/clip.mp4", "--out", str(tmp_path / "x.ndjson")) == 2
    err = capsys.readouterr().err
    assert "misc/clip.mp4" in err and "does not fit the layout" in err
    assert leftovers(tmp_path) == []


def test_missing_s3_object(stack: object, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    uri = "s3://videos/store-1/cam-1/2026-11-28/090000.mp4"
    assert ingest("--src", uri, "--out", str(tmp_path / "x.ndjson")) == 2
    err = capsys.readouterr().err
    assert uri in err and "no such object" in err


def bad_inputs(tmp_path: Path, clip_avi: Path, clip_mp4: Path) -> dict[str, tuple[Path, str]]:
    not_video = tmp_path / "receipt.mp4"
    not_video.write_text("not a video, a till receipt\n" * 100)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    return {
        "missing": (tmp_path / "no-such-video.mp4", "does not exist"),
        "zero-byte": (empty, "empty (0 bytes)"),
        "not-a-video": (not_video, "cannot open it as a video"),
        "truncated-avi": (truncate(clip_avi, tmp_path / "cut.avi"), "truncated"),
        "truncated-mp4": (truncate(clip_mp4, tmp_path / "cut.mp4"), "cut short"),
    }


@pytest.mark.parametrize("case", ["missing", "zero-byte", "not-a-video", "truncated-avi", "truncated-mp4"])
def test_bad_input_fails_naming_the_file_and_leaves_no_output(
    case: str, clip_avi: Path, clip_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    video, problem = bad_inputs(inputs, clip_avi, clip_mp4)[case]
    results = tmp_path / "results"
    results.mkdir()
    assert ingest("--src", str(video), "--out", str(results / "events.ndjson")) == 2
    err = capsys.readouterr().err
    assert str(video) in err
    assert problem in err
    assert leftovers(results) == []


def test_a_failed_run_keeps_the_previous_complete_file(clip_avi: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    out.write_text("previous complete result\n")
    cut = truncate(clip_avi, tmp_path / "cut.avi")
    assert ingest("--src", str(cut), "--out", str(out), "--track", "0") == 2
    assert out.read_text() == "previous complete result\n"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".partial"] == []


def test_damaged_stretch_is_skipped_counted_and_the_rest_processed(
    clip_avi: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    damaged = damage_middle(clip_avi, tmp_path / "damaged.avi")
    out = tmp_path / "events.ndjson"
    assert ingest("--src", str(damaged), "--out", str(out), "--track", "0") == 0
    captured = capsys.readouterr()
    assert str(damaged) in captured.err and "damaged frame(s) skipped" in captured.err
    summary = captured.out
    skipped = int(summary.split(" skipped as corrupt")[0].rsplit(", ", 1)[1])
    processed = int(summary.split(" frames processed")[0].rsplit(", ", 1)[1].split("/")[0])
    assert skipped > 0
    assert processed + skipped == 30
    events = read_events(out)
    assert max(e["frame_index"] for e in events) > 15  # frames after the damage were processed


def test_python_dash_m_with_the_first_versions_flags(clip_avi: Path, tmp_path: Path) -> None:
    out = tmp_path / "detections_output.ndjson"
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    command = [sys.executable, "-m", "retail_assets.ingest", "--backend", "cv", "--src", str(clip_avi)]
    command += ["--yolo", "1", "--track", "1", "--display", "1", "--emit", "detection", "--out", str(out)]
    result = subprocess.run(
        [*command, "--max-frames", "5"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    # No display here: said once, and the run went on.
    assert result.stderr.count("no display available") == 1
    assert read_events(out)


def test_named_weights_that_are_not_there_fail_without_a_download(
    clip_avi: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        ingest("--src", str(clip_avi), "--out", str(tmp_path / "x.ndjson"), "--model", "yolov8x-missing.pt")
        == 2
    )
    err = capsys.readouterr().err
    assert "yolov8x-missing.pt" in err and "weights not found" in err and "never downloads" in err
