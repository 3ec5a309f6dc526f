"""Decoding real clips, and each kind of bad video file, without running a model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from retail_assets.errors import InputError
from retail_assets.vision.sampling import FrameSampler
from retail_assets.vision.video_source import VideoSource


def damage_middle(good: Path, out: Path) -> Path:
    """Overwrite a tenth of a real file, in its middle, with noise (seeded: same bytes every run)."""
    data = bytearray(good.read_bytes())
    start, end = int(len(data) * 0.45), int(len(data) * 0.55)
    data[start:end] = random.Random(2009).randbytes(end - start)
    out.write_bytes(bytes(data))
    return out


def truncate(good: Path, out: Path, share: float = 0.5) -> Path:
    data = good.read_bytes()
    out.write_bytes(data[: int(len(data) * share)])
    return out


def test_reads_every_frame_with_size_fps_and_timestamps(clip_avi: Path) -> None:
    with VideoSource(clip_avi) as video:
        assert (video.info.width, video.info.height) == (768, 576)
        assert video.info.fps == pytest.approx(10.0)
        assert video.info.frame_count == 30
        frames = list(video.frames())
    assert [f.index for f in frames] == list(range(30))
    assert [f.pts_ms for f in frames] == [i * 100.0 for i in range(30)]
    assert video.report.frames_decoded == 30
    assert video.report.frames_skipped_corrupt == 0


def test_max_frames_stops_early(clip_avi: Path) -> None:
    with VideoSource(clip_avi) as video:
        assert len(list(video.frames(max_frames=7))) == 7


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(InputError, match="does not exist") as err:
        VideoSource(missing)
    assert str(missing) in str(err.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)") as err:
        VideoSource(empty)
    assert str(empty) in str(err.value)


def test_file_that_is_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is a shopping list, not a video\n" * 200)
    with pytest.raises(InputError, match="cannot open it as a video") as err:
        VideoSource(text)
    assert str(text) in str(err.value)


def test_truncated_avi_is_reported_after_the_frames_it_has(clip_avi: Path, tmp_path: Path) -> None:
    cut = truncate(clip_avi, tmp_path / "cut.avi")
    with VideoSource(cut) as video, pytest.raises(InputError, match="truncated") as err:
        for _ in video.frames():
            pass
    assert str(cut) in str(err.value)
    assert "30 frames" in str(err.value)


def test_truncated_mp4_cannot_even_be_opened(clip_mp4: Path, tmp_path: Path) -> None:
    # MP4 keeps its index (moov atom) at the end, so a cut file has none.
    cut = truncate(clip_mp4, tmp_path / "cut.mp4")
    with pytest.raises(InputError, match="cut short") as err:
        VideoSource(cut)
    assert str(cut) in str(err.value)


@pytest.mark.parametrize("clip_name", ["clip_avi", "clip_mp4"])
def test_damaged_stretch_is_skipped_and_counted(
    clip_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    good: Path = request.getfixturevalue(clip_name)
    damaged = damage_middle(good, tmp_path / f"damaged{good.suffix}")
    with VideoSource(damaged) as video:
        frames = list(video.frames())
        total = video.info.frame_count
    report = video.report
    assert report.frames_skipped_corrupt > 0
    assert report.frames_decoded + report.frames_skipped_corrupt == total
    # Decoding went on after the damage: frames from the second half were delivered.
    assert frames[-1].index > total // 2
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert report.damaged_stretches


def test_sampler_keeps_every_frame_by_default_and_a_target_rate_otherwise() -> None:
    every = FrameSampler(10.0, None)
    assert all(every.keep(i) for i in range(20))
    half = FrameSampler(10.0, 5.0)
    assert [i for i in range(20) if half.keep(i)] == list(range(0, 20, 2))
    odd = FrameSampler(25.0, 2.0)
    kept = [i for i in range(100) if odd.keep(i)]
    assert kept == list(range(0, 100, 13))  # 25 / 2 = 12.5 rounds to every 13th frame
    assert len(kept) == 8  # 4 seconds at 2 fps
    # A rate that does not divide the video's still keeps a regular grid (silver rebuilds it to
    # count the frames processed): 6 of 10 fps is every second frame, 7 of 10 every frame.
    assert [i for i in range(20) if FrameSampler(10.0, 6.0).keep(i)] == list(range(0, 20, 2))
    assert FrameSampler(10.0, 7.0).keeps_every_frame
    assert FrameSampler(10.0, 30.0).keeps_every_frame
