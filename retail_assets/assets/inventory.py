"""What is in the videos bucket: a store-day's videos (for `raw_videos`) and a cursor scan of the
whole bucket (for `new_video_sensor`). Plain functions over a boto3 client; no Dagster here.

The bucket layout is `<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>[_suffix].<ext>`. S3 lists keys in
lexicographic order, so new uploads of one camera sort after its earlier ones, while a new
upload of `store-001` sorts before everything of `store-002`. A single "last key seen" cursor
would therefore miss most new videos; the scan keeps one cursor per `<store>/<camera>/` prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import cv2

from retail_assets.contracts.layout import VideoKey, parse_video_key
from retail_assets.errors import InputError

CURSOR_VERSION = 1
MAX_REMEMBERED_STRAY_KEYS = 1000


def strip_etag(etag: str) -> str:
    return etag.strip('"')


@dataclass(frozen=True)
class MalformedKey:
    key: str
    reason: str


@dataclass
class Lister:
    """Counts list requests and listed objects, so callers can report (and tests check) the work done."""

    client: Any
    bucket: str
    list_calls: int = 0
    objects_examined: int = 0

    def pages(self, prefix: str, delimiter: str = "", start_after: str = "") -> Iterator[dict]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        if start_after:
            kwargs["StartAfter"] = start_after
        token = None
        while True:
            if token:
                kwargs["ContinuationToken"] = token
            page = self.client.list_objects_v2(**kwargs)
            self.list_calls += 1
            self.objects_examined += len(page.get("Contents", []))
            yield page
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def prefixes(self, prefix: str) -> tuple[list[str], list[dict]]:
        """Sub-prefixes ("folders") and the objects directly under `prefix`."""
        subs: list[str] = []
        objects: list[dict] = []
        for page in self.pages(prefix, delimiter="/"):
            subs.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
            objects.extend(page.get("Contents", []))
        return subs, objects


# -- one store-day ---------------------------------------------------------------------------


@dataclass
class StoreDayListing:
    videos: list[tuple[VideoKey, dict]] = field(default_factory=list)  # (parsed key, S3 object summary)
    malformed: list[MalformedKey] = field(default_factory=list)


def list_store_day(client: Any, bucket: str, store_id: str, day: date, timezone: str) -> StoreDayListing:
    """The videos of one store and day, camera by camera, in key order."""
    lister = Lister(client, bucket)
    cameras, _ = lister.prefixes(f"{store_id}/")
    listing = StoreDayListing()
    for camera_prefix in cameras:
        for page in lister.pages(f"{camera_prefix}{day.isoformat()}/"):
            for obj in page.get("Contents", []):
                try:
                    video = parse_video_key(obj["Key"], timezone)
                except InputError as exc:
                    listing.malformed.append(MalformedKey(obj["Key"], str(exc)))
                    continue
                if video.store_id == store_id and video.day == day:
                    listing.videos.append((video, obj))
    return listing


@dataclass
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


# -- the sensor's scan -----------------------------------------------------------------------


@dataclass
class ScanCursor:
    """Last key seen per `<store>/<camera>/` prefix, plus stray keys already reported."""

    cameras: dict[str, str] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"v": CURSOR_VERSION, **asdict(self)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ScanCursor:
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InputError(f"sensor cursor is not JSON ({exc}); reset the sensor's cursor") from exc
        if not isinstance(raw, dict) or raw.get("v") != CURSOR_VERSION:
            raise InputError(f"sensor cursor has an unknown format (want v={CURSOR_VERSION}); reset it")
        return cls(dict(raw.get("cameras", {})), list(raw.get("stray", [])))


@dataclass(frozen=True)
class NewVideo:
    video: VideoKey
    etag: str
    size: int


@dataclass
class ScanResult:
    new_videos: list[NewVideo]
    new_stores: list[str]
    malformed: list[MalformedKey]
    cursor: ScanCursor
    list_calls: int
    objects_examined: int
    truncated: bool


def scan_bucket(
    client: Any,
    bucket: str,
    cursor: ScanCursor,
    timezone: str = "UTC",
    known_stores: set[str] | None = None,
    max_objects: int = 2000,
) -> ScanResult:
    """Everything uploaded after the cursor, camera prefix by camera prefix.

    Work per call: one delimiter listing of the bucket root, one per store (to find cameras, so
    a new camera is found on the next tick), and one listing per camera that returns only keys
    after that camera's cursor. Objects already seen are never listed again. At most
    `max_objects` objects are examined per call; the rest wait for the next call (`truncated`).
    A key that sorts before its camera's cursor (an earlier HHMMSS uploaded late) is not seen
    here; the nightly schedule re-runs each store's previous day, which picks it up.
    """
    known = set(known_stores or ())
    lister = Lister(client, bucket)
    new_cursor = ScanCursor(dict(cursor.cameras), list(cursor.stray))
    stray_seen = set(new_cursor.stray)
    malformed: list[MalformedKey] = []
    new_videos: list[NewVideo] = []
    new_stores: list[str] = []
    truncated = False

    def stray(key: str, reason: str) -> None:
        if key not in stray_seen:
            stray_seen.add(key)
            malformed.append(MalformedKey(key, reason))
            new_cursor.stray = [*new_cursor.stray, key][-MAX_REMEMBERED_STRAY_KEYS:]

    store_prefixes, root_objects = lister.prefixes("")
    for obj in root_objects:
        stray(obj["Key"], "not inside a <store>/<camera>/<YYYY-MM-DD>/ prefix")
    for store_prefix in store_prefixes:
        if truncated:
            break
        camera_prefixes, store_objects = lister.prefixes(store_prefix)
        for obj in store_objects:
            stray(obj["Key"], "not inside a <store>/<camera>/<YYYY-MM-DD>/ prefix")
        for camera_prefix in camera_prefixes:
            if truncated:
                break
            last = new_cursor.cameras.get(camera_prefix, "")
            for page in lister.pages(camera_prefix, start_after=last):
                for obj in page.get("Contents", []):
                    if len(new_videos) + len(malformed) >= max_objects:
                        truncated = True
                        break
                    key = obj["Key"]
                    new_cursor.cameras[camera_prefix] = key
                    try:
                        video = parse_video_key(key, timezone)
                    except InputError as exc:
                        malformed.append(MalformedKey(key, str(exc)))
                        continue
                    new_videos.append(NewVideo(video, strip_etag(obj["ETag"]), int(obj.get("Size", 0))))
                    if video.store_id not in known:
                        known.add(video.store_id)
                        new_stores.append(video.store_id)
                if truncated:
                    break
    return ScanResult(
        new_videos,
        new_stores,
        malformed,
        new_cursor,
        lister.list_calls,
        lister.objects_examined,
        truncated,
    )
