"""Shared inputs for the vision tests: the real PETS09 video, short clips cut from it, the model."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
GT = Path(__file__).resolve().parent.parent / "data" / "PETS09-S2L1" / "gt.txt"


@pytest.fixture(scope="session")
def vtest() -> Path:
    assert VTEST.is_file(), f"{VTEST} is missing: install Debian's opencv-doc package (make system-deps)"
    return VTEST


def write_clip(path: Path, source: Path, frames: int, fourcc: str = "MJPG", fps: float = 10.0) -> Path:
    """The first `frames` frames of `source` re-encoded with OpenCV's writer."""
    capture = cv2.VideoCapture(str(source))
    writer = None
    try:
        for _ in range(frames):
            ok, image = capture.read()
            assert ok, f"{source} has fewer than {frames} frames"
            if writer is None:
                height, width = image.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
            writer.write(image)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="session")
def clip_avi(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames of vtest, Motion-JPEG in AVI (each frame coded on its own)."""
    return write_clip(tmp_path_factory.mktemp("clips") / "clip.avi", vtest, 30)


@pytest.fixture(scope="session")
def clip_mp4(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 frames of vtest, MPEG-4 Part 2 in MP4."""
    return write_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", vtest, 20, fourcc="mp4v")
