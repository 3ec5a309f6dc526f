"""Decode a video with OpenCV, frame by frame, and report what could not be decoded.

A source is a local path or an `s3://bucket/key` URI (downloaded to a temporary file first,
because OpenCV's FFmpeg backend cannot read S3 with credentials). Frames are yielded one at a
time, so memory stays flat however long the video is.

Damage handling: OpenCV's `grab()` returns False both at the end of a stream and on a frame it
cannot decode, and decoding resumes after a damaged stretch. So a failure is only the end once
no frame follows it; frames lost in between are counted as skipped. A stream that stops before
the frame count its header announces, with no damage seen before, is reported as truncated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from retail_assets.errors import InputError

# How many failed grabs in a row we try before deciding the stream has ended.
_MAX_CONSECUTIVE_FAILURES = 64


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video (frame_count is 0 when unknown)."""

    fps: float
    frame_count: int
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Frame:
    index: int  # position in the stream, counting frames lost to damage
    pts_ms: float
    image: np.ndarray


@dataclass
class DecodeReport:
    frames_decoded: int = 0
    frames_skipped_corrupt: int = 0
    damaged_stretches: list[tuple[int, int]] = field(default_factory=list)  # (first, last) lost indices


class VideoSource:
    """One opened video file. Use as a context manager; iterate `frames()` once."""

    def __init__(self, path: str | Path, display_name: str | None = None) -> None:
        self.path = Path(path)
        self.name = display_name or str(path)
        self.report = DecodeReport()
        _check_file(self.path, self.name)
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise InputError(
                f"video {self.name}: OpenCV cannot open it as a video (not a video file, an unsupported "
                "container, or a file whose index is missing because it was cut short)"
            )
        fourcc = int(self._cap.get(cv2.CAP_PROP_FOURCC))
        self.info = VideoInfo(
            fps=float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0),
            frame_count=max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            codec="".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "?",
        )
        if self.info.width <= 0 or self.info.height <= 0:
            self.close()
            raise InputError(f"video {self.name}: the container reports no frame size (not a video?)")

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._cap.release()

    def frames(self, max_frames: int | None = None) -> Iterator[Frame]:
        """Decoded frames in order; raises InputError when the file is unreadable or truncated."""
        fps = self.info.fps if self.info.fps > 0 else 0.0
        last_index = -1
        failures = 0
        damage_seen = False
        while max_frames is None or self.report.frames_decoded < max_frames:
            if not self._cap.grab():
                failures += 1
                if self._at_end(last_index) or failures >= _MAX_CONSECUTIVE_FAILURES:
                    break
                continue
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                failures += 1
                continue
            index, pts_ms = self._position(last_index, failures, fps)
            if index > last_index + 1:
                damage_seen = True
                self.report.damaged_stretches.append((last_index + 1, index - 1))
                self.report.frames_skipped_corrupt += index - last_index - 1
            failures = 0
            last_index = index
            self.report.frames_decoded += 1
            yield Frame(index, pts_ms, image)
        if max_frames is not None and self.report.frames_decoded >= max_frames:
            return
        if self.report.frames_decoded == 0:
            raise InputError(f"video {self.name}: no frame could be decoded (corrupt or not a video)")
        expected = self.info.frame_count
        missing = expected - (last_index + 1)
        if expected and missing > 0:
            if not damage_seen:
                raise InputError(
                    f"video {self.name}: truncated or corrupt: decoding stopped after frame {last_index} "
                    f"but the header announces {expected} frames"
                )
            # Damage earlier in the file can also desynchronise the tail: count it as skipped.
            self.report.damaged_stretches.append((last_index + 1, expected - 1))
            self.report.frames_skipped_corrupt += missing

    def _at_end(self, last_index: int) -> bool:
        # Without a known frame count, the first failure is the end; otherwise keep trying until
        # the announced count is reached (or too many failures in a row).
        return self.info.frame_count == 0 or last_index + 1 >= self.info.frame_count

    def _position(self, last_index: int, failures: int, fps: float) -> tuple[int, float]:
        """Stream index and pts of the frame just grabbed, from the container's timestamps."""
        pts_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        if fps > 0 and (pts_ms > 0 or last_index < 0):
            index = round(pts_ms * fps / 1000.0)
        else:
            index = last_index + 1 + failures
        if index <= last_index:  # timestamps that do not advance: trust the decode order
            index = last_index + 1
        if fps > 0:
            pts_ms = index * 1000.0 / fps
        return index, round(pts_ms, 3)


def _check_file(path: Path, name: str) -> None:
    if not path.exists():
        raise InputError(f"video {name}: file does not exist")
    if path.is_dir():
        raise InputError(f"video {name}: is a directory, not a video file")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"video {name}: cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise InputError(f"video {name}: file is empty (0 bytes)")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (stable identity for a local video)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FetchedVideo:
    """A video made local: `path` to decode, `etag` to identify its bytes, S3 metadata if any."""

    path: Path
    etag: str
    metadata: dict[str, str]
    temporary: bool


def _s3_client(client: Any | None) -> Any:
    if client is not None:
        return client
    from retail_assets.objectstore import make_s3_client
    from retail_assets.settings import Settings

    settings = Settings.from_env()
    return make_s3_client(settings.s3_endpoint_url, settings.s3_region)


def _s3_head(uri: str, client: Any) -> tuple[str, str, dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    from retail_assets.objectstore import split_s3_uri

    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as exc:
        raise InputError(f"video {uri}: {exc}") from exc
    try:
        return bucket, key, client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise InputError(f"video {uri}: no such object in bucket '{bucket}'") from exc
        raise InputError(f"video {uri}: S3 refused the request (HTTP {status}): {exc}") from exc
    except BotoCoreError as exc:
        raise InputError(f"video {uri}: S3 is unreachable or misconfigured: {exc}") from exc


@dataclass(frozen=True)
class S3VideoInfo:
    bucket: str
    key: str
    etag: str
    size: int
    metadata: dict[str, str]  # user metadata, lower-case names (e.g. "start-time")


def s3_video_info(uri: str, client: Any | None = None) -> S3VideoInfo:
    """HEAD of `s3://bucket/key`: etag, size and user metadata, with errors naming the URI."""
    bucket, key, head = _s3_head(uri, _s3_client(client))
    metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
    return S3VideoInfo(
        bucket, key, str(head.get("ETag", "")).strip('"'), int(head.get("ContentLength", 0)), metadata
    )


def fetch_s3_video(uri: str, client: Any | None = None, workdir: str | Path | None = None) -> Path:
    """Download `s3://bucket/key` to a temporary file (the caller deletes it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _s3_client(client)
    bucket, key, _ = _s3_head(uri, client)
    suffix = Path(key).suffix or ".video"
    fd, tmp_name = tempfile.mkstemp(prefix="rva-video-", suffix=suffix, dir=workdir)
    os.close(fd)
    try:
        client.download_file(bucket, key, tmp_name)
    except (ClientError, BotoCoreError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise InputError(f"video {uri}: download failed: {exc}") from exc
    return Path(tmp_name)
