"""The sensor's scan of the videos bucket: everything uploaded since the last scan.

S3 lists keys in lexicographic order, so new uploads of one camera sort after its earlier ones,
while a new upload of `store-001` sorts before everything of `store-002`. A single "last key
seen" cursor would therefore miss most new videos; the scan keeps one cursor per
`<store>/<camera>/` prefix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from retail_assets.contracts.layout import VideoKey, parse_video_key
from retail_assets.errors import InputError
from retail_assets.inventory.listing import Lister, MalformedKey, strip_etag

CURSOR_VERSION = 1
RESET_HINT = (
    "reset the sensor's cursor (Dagster UI: Automation -> the sensor -> Reset cursor, or "
    "`dagster sensor cursor <sensor name> --delete -m retail_assets.definitions`); videos already "
    "processed keep their run keys and are not run again"
)
MAX_REMEMBERED_STRAY_KEYS = 1000


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
            raise InputError(f"sensor cursor is not JSON ({exc}); {RESET_HINT}") from exc
        found = raw.get("v") if isinstance(raw, dict) else type(raw).__name__
        if not isinstance(raw, dict) or found != CURSOR_VERSION:
            raise InputError(
                f"sensor cursor has an unknown format (found v={found!r}, want v={CURSOR_VERSION}); {RESET_HINT}"
            )
        return cls(dict(raw.get("cameras", {})), list(raw.get("stray", [])))


@dataclass(frozen=True)
class NewVideo:
    video: VideoKey
    etag: str
    size: int


@dataclass
class ScanResult:
    new_videos: list[NewVideo]
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
    lister = Lister(client, bucket)
    new_cursor = ScanCursor(dict(cursor.cameras), list(cursor.stray))
    stray_seen = set(new_cursor.stray)
    malformed: list[MalformedKey] = []
    new_videos: list[NewVideo] = []
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
                if truncated:
                    break
    return ScanResult(
        new_videos,
        malformed,
        new_cursor,
        lister.list_calls,
        lister.objects_examined,
        truncated,
    )
