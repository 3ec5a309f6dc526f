"""The manifest of a store-day's videos: one entry per video, what the detections step needs.

An entry is built from a HEAD of the object (etag, size, `start-time` metadata) and a probe of
the video's header through a presigned URL (OpenCV reads only the first bytes it needs). A run
asked for some videos (`describe_requested`) touches those objects only: no listing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
from botocore.exceptions import ClientError

from retail_assets.contracts.layout import START_TIME_METADATA, VideoKey, parse_start_time, parse_video_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError
from retail_assets.inventory.listing import MalformedKey, strip_etag
from retail_assets.objectstore import is_not_found

PRESIGN_SECONDS = 900


@dataclass(frozen=True)
class VideoProbe:
    """What OpenCV reads from a video's header without decoding it."""

    readable: bool
    fps: float | None = None
    frames: int | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None


def probe_video(source: str, what: str) -> VideoProbe:
    """Open `source` (a local path or an http(s) URL, e.g. a presigned S3 URL) and read its header.

    `what` names the video in the error (never the URL: a presigned URL carries a signature).
    """
    capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            return VideoProbe(False, error=f"{what}: OpenCV/FFmpeg cannot open it as a video")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        ok, _ = capture.read()
        if not ok or width <= 0 or height <= 0:
            return VideoProbe(False, error=f"{what}: no decodable frame")
        duration = round(frames / fps, 3) if fps > 0 and frames > 0 else None
        return VideoProbe(True, fps or None, frames or None, duration, width, height)
    finally:
        capture.release()


@dataclass(frozen=True)
class VideoManifestEntry:
    """One video of the manifest. `video.start_time` already honours a `start-time` override."""

    video: VideoKey
    bucket: str
    etag: str
    size: int
    probe: VideoProbe

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.video.key}"

    @property
    def readable(self) -> bool:
        return self.probe.readable

    @property
    def error(self) -> str | None:
        return self.probe.error


def describe_video(client: Any, bucket: str, video: VideoKey, timezone: str) -> VideoManifestEntry:
    """The manifest entry of one listed video: HEAD for etag, size and start-time, then a probe."""
    head = client.head_object(Bucket=bucket, Key=video.key)
    etag, size = strip_etag(head["ETag"]), int(head["ContentLength"])
    override = head.get("Metadata", {}).get(START_TIME_METADATA)
    if override:
        try:
            start = parse_start_time(override, timezone, f"start-time metadata of {video.key!r}")
        except InputError as exc:
            return VideoManifestEntry(video, bucket, etag, size, VideoProbe(False, error=str(exc)))
        video = replace(video, start_time=start)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": video.key}, ExpiresIn=PRESIGN_SECONDS
    )
    return VideoManifestEntry(video, bucket, etag, size, probe_video(url, f"s3://{bucket}/{video.key}"))


@dataclass(frozen=True)
class VideoManifest:
    """The videos a run works on. `scope` names the videos it was asked for (a sensor run); None
    means the whole store-day (a nightly re-run, a backfill, a materialization from the UI)."""

    store_day: StoreDay
    scope: tuple[str, ...] | None
    entries: tuple[VideoManifestEntry, ...]
    missing: tuple[str, ...] = ()  # asked for, but no longer in the bucket
    malformed: tuple[MalformedKey, ...] = ()  # listed or asked for, but not a video key of this store-day

    @property
    def readable(self) -> tuple[VideoManifestEntry, ...]:
        return tuple(e for e in self.entries if e.readable)


def describe_requested(
    client: Any, bucket: str, store_day: StoreDay, video_keys: list[str], timezone: str
) -> VideoManifest:
    """The manifest of just these videos: one HEAD each (and the header probe), nothing listed."""
    entries: list[VideoManifestEntry] = []
    missing: list[str] = []
    malformed: list[MalformedKey] = []
    for key in dict.fromkeys(video_keys):  # in the order asked, once each
        try:
            video = parse_video_key(key, timezone)
        except InputError as exc:
            malformed.append(MalformedKey(key, str(exc)))
            continue
        if video.store_day != store_day:
            malformed.append(
                MalformedKey(key, f"belongs to store-day {video.store_day.key}, not {store_day.key}")
            )
            continue
        try:
            entries.append(describe_video(client, bucket, video, timezone))
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            missing.append(key)
    return VideoManifest(
        store_day, tuple(dict.fromkeys(video_keys)), tuple(entries), tuple(missing), tuple(malformed)
    )
