"""The S3 key layout: videos, and everything derived from a video in the detections bucket.

Videos: `<store_id>/<camera_id>/<YYYY-MM-DD>/<HHMMSS>[_suffix].<mp4|avi|mkv|mov>` in the videos
bucket. Start time = date + HHMMSS in the store's timezone (UTC unless configured), unless the
object carries a `start-time` metadata value (ISO 8601). A key that does not fit is rejected
with a reason; nothing is guessed.

Detections bucket, per video (`<video key>` as above):
- NDJSON:       `<video key>.<model fingerprint>.ndjson` (a new model never overwrites an old result)
- preview:      `<video key>.<model fingerprint>.ndjson.preview.jpg`
- receipt:      `_receipts/<YYYY-MM-DD>/<store_id>/<video key>.json` (the commit marker of a publish)
- dead letters: `_dead_letters/<YYYY-MM-DD>/<store_id>/<video key>.ndjson`
- footage expired: `_footage_expired/<YYYY-MM-DD>/<store_id>/<video key>` (empty; retention deleted the video)
- fall frames:  `_fall_frames/<video key>/<event id>.jpg` (`contracts/falls.py`)

Detections bucket, per store-day (pictures of the analytics, rewritten by each gold run):
- heatmap:      `_reports/<YYYY-MM-DD>/<store_id>/heatmap-<camera_id>.png`
- footfall:     `_reports/<YYYY-MM-DD>/<store_id>/footfall-hourly.png`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retail_assets.contracts.ids import ID_PATTERN, is_id
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError

VIDEO_EXTENSIONS = ("mp4", "avi", "mkv", "mov")
# S3 user metadata of a video object that overrides the start time its key gives (ISO 8601).
START_TIME_METADATA = "start-time"
RECEIPTS_PREFIX = "_receipts"
DEAD_LETTERS_PREFIX = "_dead_letters"
FOOTAGE_EXPIRED_PREFIX = "_footage_expired"
REPORTS_PREFIX = "_reports"
_KEY = re.compile(
    rf"^(?P<store>{ID_PATTERN})/(?P<camera>{ID_PATTERN})/(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/"
    rf"(?P<hms>\d{{6}})(?P<suffix>_[A-Za-z0-9_.-]{{1,64}})?\.(?P<ext>(?i:{'|'.join(VIDEO_EXTENSIONS)}))"
)  # used with fullmatch: `$` would also accept a key ending in a newline


@dataclass(frozen=True)
class VideoKey:
    """A parsed video object key."""

    key: str
    store_id: str
    camera_id: str
    day: date
    start_time: datetime  # timezone-aware, UTC

    @property
    def store_day(self) -> StoreDay:
        return StoreDay(self.day, self.store_id)

    @property
    def name(self) -> str:
        """The file name: `090000.mp4`."""
        return self.key.rsplit("/", 1)[-1]

    def detections_key(self, model_fingerprint: str) -> str:
        """Where this video's NDJSON lives in the detections bucket, per model fingerprint.

        `store-1/cam-1/2026-11-28/090000.mp4` + `best@1a2b3c4d5e6f` ->
        `store-1/cam-1/2026-11-28/090000.mp4.best@1a2b3c4d5e6f.ndjson`
        """
        return f"{self.key}.{model_fingerprint}.ndjson"


def preview_key(ndjson_key: str) -> str:
    """The annotated preview frame stored beside an NDJSON object."""
    return f"{ndjson_key}.preview.jpg"


def receipts_prefix(store_day: StoreDay, prefix: str = RECEIPTS_PREFIX) -> str:
    """Where the publish receipts of one store-day live."""
    return f"{prefix}/{store_day.day.isoformat()}/{store_day.store_id}/"


def receipt_key(store_day: StoreDay, video_key: str, prefix: str = RECEIPTS_PREFIX) -> str:
    return f"{receipts_prefix(store_day, prefix)}{check_key_path(video_key, 'video key')}.json"


def footage_expired_key(store_day: StoreDay, video_key: str, prefix: str = FOOTAGE_EXPIRED_PREFIX) -> str:
    """The marker raw-data retention leaves when it deletes a video: the video is gone on purpose,
    and its rows (built from its receipt) stay in the lakehouse."""
    day = store_day.day.isoformat()
    return f"{prefix}/{day}/{store_day.store_id}/{check_key_path(video_key, 'video key')}"


def dead_letter_key(store_day: StoreDay, video_key: str, prefix: str = DEAD_LETTERS_PREFIX) -> str:
    video_key = check_key_path(video_key, "video key")
    return f"{prefix}/{store_day.day.isoformat()}/{store_day.store_id}/{video_key}.ndjson"


def report_key(store_day: StoreDay, name: str, prefix: str = REPORTS_PREFIX) -> str:
    """Where a picture of the store-day's answers lives: `_reports/2026-11-28/store-1/<name>`."""
    return f"{prefix}/{store_day.day.isoformat()}/{store_day.store_id}/{check_key_path(name, 'report name')}"


def heatmap_key(store_day: StoreDay, camera_id: str) -> str:
    """The heatmap of one camera's foot positions over the store-day."""
    return report_key(store_day, f"heatmap-{camera_id}.png")


def footfall_chart_key(store_day: StoreDay) -> str:
    """The store-day's hourly footfall chart (all cameras and lines)."""
    return report_key(store_day, "footfall-hourly.png")


_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def check_key_path(key: str, what: str) -> str:
    """`key` unchanged when it is a plain relative path; InputError otherwise.

    Receipt and dead-letter keys are built from a video key that may come from an NDJSON file's
    content (`retail-assets publish`): a `..` segment, an absolute path, an empty segment or a
    control character there would put the object outside its store-day prefix.
    """
    if not key or key.startswith("/") or _UNSAFE_CHARS.search(key):
        raise InputError(f"{what} {key!r} must be a relative path without control characters or '\\'")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InputError(f"{what} {key!r} must not contain empty, '.' or '..' path segments")
    return key


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown store timezone {timezone!r} (use an IANA name such as 'Europe/Paris')"
        ) from exc


def parse_video_key(key: str, timezone: str = "UTC", start_time_override: str | None = None) -> VideoKey:
    """Parse `key`; raise InputError saying exactly what does not fit the layout."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise InputError(f"video key {key!r} does not fit the layout: {_why_not(key)}")
    try:
        day = date.fromisoformat(match["date"])
        hms = match["hms"]
        clock = time(int(hms[:2]), int(hms[2:4]), int(hms[4:]))
    except ValueError as exc:
        raise InputError(f"video key {key!r} has an impossible date or time: {exc}") from exc
    if start_time_override:
        start = parse_start_time(start_time_override, timezone, f"start-time metadata of {key!r}")
    else:
        start = datetime.combine(day, clock, tzinfo=_zone(timezone)).astimezone(UTC)
    return VideoKey(key, match["store"], match["camera"], day, start)


def parse_start_time(value: str, timezone: str = "UTC", what: str = "start time") -> datetime:
    """ISO 8601 -> aware UTC datetime; a naive value is read in the store's timezone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{what} {value!r} is not ISO 8601 (e.g. 2026-11-28T09:00:00Z)") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(timezone))
    return parsed.astimezone(UTC)


def _why_not(key: str) -> str:
    parts = key.split("/")
    if len(parts) != 4:
        return f"expected 4 path segments <store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.<ext>, found {len(parts)}"
    store, camera, day, name = parts
    if not is_id(store):
        return f"store id {store!r} must match {ID_PATTERN}"
    if not is_id(camera):
        return f"camera id {camera!r} must match {ID_PATTERN}"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        return f"date segment {day!r} must be YYYY-MM-DD"
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in VIDEO_EXTENSIONS:
        return f"extension {ext or '(none)'!r} is not one of {', '.join(VIDEO_EXTENSIONS)}"
    return f"file name {name!r} must be HHMMSS[_suffix].<ext>"
