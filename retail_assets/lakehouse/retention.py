"""Retention of raw data: videos, NDJSON (with the previews and fall frames beside it), publish
receipts and dead letters are deleted once older than their kind's retention.

Every retention is off unless set (`MaintenanceSettings`: RVA_RETAIN_*_DAYS). An object's age is
the object store's own last-modified time (when it was uploaded or written), the clock S3
lifecycle rules use too.

Nothing a store-day still needs is deleted. Each object belongs to one video (the videos bucket's
key, or the video key inside a detections-bucket key). A video is *pending* while its store-day's
bronze partition does not hold it yet: it has no publish receipt, or its receipt names messages
and bronze has no row of that video from the receipt's producer. Every object of a pending video
is kept whatever its age (and counted, so an operator sees footage that never got through), and
deleted by the first run after the video reaches bronze. An object whose key fits no layout is
never deleted either (it is counted as unrecognised).

Deleting a video leaves a marker (`layout.footage_expired_key`) beside its receipt, so a later
run of its store-day keeps the receipt and the rows built from it: the footage goes, the answers
stay. (A video deleted by hand has no marker: the store-day then follows the bucket.)
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from retail_assets.contracts.falls import FALL_FRAMES_PREFIX
from retail_assets.contracts.layout import (
    DEAD_LETTERS_PREFIX,
    FOOTAGE_EXPIRED_PREFIX,
    RECEIPTS_PREFIX,
    VIDEO_EXTENSIONS,
    footage_expired_key,
    parse_video_key,
)
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError, SetupError
from retail_assets.lakehouse.bronze import partition_filter
from retail_assets.objectstore import describe_endpoint, iter_objects
from retail_assets.settings import MaintenanceSettings
from retail_assets.streaming.receipts import ReceiptStore

VIDEOS, NDJSON, RECEIPTS, DEAD_LETTERS = "videos", "ndjson", "receipts", "dead_letters"
KINDS = (VIDEOS, NDJSON, RECEIPTS, DEAD_LETTERS)
# `<video key>.<model fingerprint>.ndjson`, optionally `.preview.jpg` after it.
_DETECTIONS = re.compile(
    rf"(?P<video>.+\.(?i:{'|'.join(VIDEO_EXTENSIONS)}))\.[^/]+\.ndjson(?:\.preview\.jpg)?"
)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of raw object is kept; None keeps it for ever."""

    videos: timedelta | None = None
    ndjson: timedelta | None = None  # NDJSON, previews and fall frames
    receipts: timedelta | None = None
    dead_letters: timedelta | None = None

    @classmethod
    def from_days(
        cls,
        videos: float | None = None,
        ndjson: float | None = None,
        receipts: float | None = None,
        dead_letters: float | None = None,
    ) -> RetentionPolicy:
        def days(value: float | None, name: str) -> timedelta | None:
            if value is None:
                return None
            if value < 0:
                raise InputError(f"retention of {name} must not be negative, got {value} days")
            return timedelta(days=value)

        return cls(
            days(videos, VIDEOS),
            days(ndjson, NDJSON),
            days(receipts, RECEIPTS),
            days(dead_letters, DEAD_LETTERS),
        )

    @classmethod
    def from_settings(cls, settings: MaintenanceSettings) -> RetentionPolicy:
        """The retentions the environment sets (RVA_RETAIN_*_DAYS); all off when none is set."""
        return cls.from_days(
            videos=settings.retain_videos_days,
            ndjson=settings.retain_ndjson_days,
            receipts=settings.retain_receipts_days,
            dead_letters=settings.retain_dead_letters_days,
        )

    def of(self, kind: str) -> timedelta | None:
        return getattr(self, kind)

    @property
    def enabled(self) -> bool:
        return any(self.of(kind) is not None for kind in KINDS)


@dataclass(frozen=True)
class KindReport:
    kind: str
    bucket: str
    retention_days: float | None
    objects_listed: int
    older_than_retention: int
    deleted: int
    bytes_deleted: int
    kept_pending: int  # older than the retention but their store-day does not hold them in bronze yet


@dataclass(frozen=True)
class RetentionReport:
    kinds: tuple[KindReport, ...]
    unrecognised: int  # objects whose key fits no layout: never deleted
    pending_videos: tuple[str, ...] = field(repr=False)  # videos whose objects are kept, not in bronze
    deleted_keys: tuple[str, ...] = field(default=(), repr=False)  # `bucket/key`
    dry_run: bool = False

    def of(self, kind: str) -> KindReport:
        return next(k for k in self.kinds if k.kind == kind)

    def metadata(self) -> dict[str, Any]:
        flat: dict[str, Any] = {
            "unrecognised_objects": self.unrecognised,
            "pending_videos": len(self.pending_videos),
        }
        for k in self.kinds:
            flat[f"{k.kind}_deleted"] = k.deleted
            flat[f"{k.kind}_bytes_deleted"] = k.bytes_deleted
            flat[f"{k.kind}_kept_pending"] = k.kept_pending
        return flat


@dataclass(frozen=True)
class _Object:
    kind: str
    bucket: str
    key: str
    size: int
    modified: datetime
    store_day: StoreDay
    video: str


def apply_retention(
    *,
    videos_s3: Any,
    detections_s3: Any,
    videos_bucket: str,
    detections_bucket: str,
    catalog: Catalog,
    bronze_table: str,
    policy: RetentionPolicy,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete every object older than its kind's retention whose video is not pending.

    `videos_s3` must be allowed to delete in the videos bucket (the pipeline's own identity only
    reads it); `detections_s3` in the detections bucket.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError(f"now={now.isoformat()} must carry a timezone")
    listed: dict[str, list[_Object]] = defaultdict(list)
    unrecognised = 0
    if policy.videos is not None:
        for obj in _list(videos_s3, videos_bucket):
            parsed = _video_object(videos_bucket, obj)
            if parsed is None:
                unrecognised += 1
            else:
                listed[VIDEOS].append(parsed)
    if any(policy.of(kind) is not None for kind in (NDJSON, RECEIPTS, DEAD_LETTERS)):
        for obj in _list(detections_s3, detections_bucket):
            if obj["Key"].startswith(f"{FOOTAGE_EXPIRED_PREFIX}/"):
                continue  # retention's own markers: kept as long as the receipts they explain
            parsed = _detections_object(detections_bucket, obj)
            if parsed is None:
                unrecognised += 1
            elif policy.of(parsed.kind) is not None:
                listed[parsed.kind].append(parsed)
    expired = {
        kind: [o for o in objects if o.modified < now - policy.of(kind)]  # type: ignore[operator]
        for kind, objects in listed.items()
    }
    # Decided before anything is deleted: deleting a receipt must not make its video look pending.
    pending = _pending_videos(
        detections_s3,
        detections_bucket,
        catalog,
        bronze_table,
        [o for objs in expired.values() for o in objs],
    )
    reports = []
    deleted_keys: list[str] = []
    for kind in KINDS:
        retention = policy.of(kind)
        if retention is None:
            continue
        bucket = videos_bucket if kind == VIDEOS else detections_bucket
        client = videos_s3 if kind == VIDEOS else detections_s3
        old = expired.get(kind, [])
        to_delete = [o for o in old if (o.store_day, o.video) not in pending]
        if not dry_run:
            if kind == VIDEOS:  # first, so a crash in between never looks like a deletion by hand
                _mark_expired(detections_s3, detections_bucket, to_delete, now)
            _delete(client, bucket, [o.key for o in to_delete])
        deleted_keys += [f"{bucket}/{o.key}" for o in to_delete]
        reports.append(
            KindReport(
                kind=kind,
                bucket=bucket,
                retention_days=retention / timedelta(days=1),
                objects_listed=len(listed.get(kind, [])),
                older_than_retention=len(old),
                deleted=len(to_delete),
                bytes_deleted=sum(o.size for o in to_delete),
                kept_pending=len(old) - len(to_delete),
            )
        )
    return RetentionReport(
        kinds=tuple(reports),
        unrecognised=unrecognised,
        pending_videos=tuple(sorted(video for _, video in pending)),
        deleted_keys=tuple(deleted_keys),
        dry_run=dry_run,
    )


def _list(client: Any, bucket: str) -> Iterable[dict]:
    try:
        yield from (o for o in iter_objects(client, bucket) if not o["Key"].endswith("/"))
    except (BotoCoreError, ClientError) as exc:
        raise SetupError(
            f"cannot list s3://{bucket} at {describe_endpoint(client)} for retention ({type(exc).__name__}: {exc})"
        ) from exc


def _video_object(bucket: str, obj: dict) -> _Object | None:
    try:
        video = parse_video_key(obj["Key"])
    except InputError:
        return None
    return _Object(
        VIDEOS, bucket, obj["Key"], obj["Size"], _aware(obj["LastModified"]), video.store_day, video.key
    )


def _detections_object(bucket: str, obj: dict) -> _Object | None:
    key: str = obj["Key"]
    first, _, rest = key.partition("/")
    if first in (RECEIPTS_PREFIX, DEAD_LETTERS_PREFIX):
        kind = RECEIPTS if first == RECEIPTS_PREFIX else DEAD_LETTERS
        suffix = ".json" if kind == RECEIPTS else ".ndjson"
        parts = rest.split("/", 2)  # <date>/<store>/<video key><suffix>
        if len(parts) != 3 or not parts[2].endswith(suffix):
            return None
        video = parts[2][: -len(suffix)]
    elif first == FALL_FRAMES_PREFIX:  # _fall_frames/<video key>/<event id>.jpg
        kind, video = NDJSON, rest.rsplit("/", 1)[0]
    else:
        match = _DETECTIONS.fullmatch(key)
        if match is None:
            return None
        kind, video = NDJSON, match["video"]
    try:
        store_day = parse_video_key(video).store_day
    except InputError:
        return None
    return _Object(kind, bucket, key, obj["Size"], _aware(obj["LastModified"]), store_day, video)


def _pending_videos(
    s3: Any, bucket: str, catalog: Catalog, bronze_table: str, objects: list[_Object]
) -> set[tuple[StoreDay, str]]:
    """The (store-day, video) pairs among `objects` whose rows are not in bronze yet."""
    videos_by_day: dict[StoreDay, set[str]] = defaultdict(set)
    for o in objects:
        videos_by_day[o.store_day].add(o.video)
    if not videos_by_day:
        return set()
    try:
        table = catalog.load_table(bronze_table)
    except NoSuchTableError:
        table = None
    receipts = ReceiptStore(s3, bucket)
    pending: set[tuple[StoreDay, str]] = set()
    for store_day, videos in videos_by_day.items():
        in_bronze: set[tuple[str, str]] = set()
        if table is not None:
            rows = table.scan(
                row_filter=partition_filter(store_day), selected_fields=("video_key", "producer_name")
            ).to_arrow()
            in_bronze = set(
                zip(rows["video_key"].to_pylist(), rows["producer_name"].to_pylist(), strict=True)
            )
        for video in videos:
            receipt = receipts.get(store_day, video)
            done = receipt is not None and (
                receipt.messages_sent == 0 or (video, receipt.producer_name) in in_bronze
            )
            if not done:
                pending.add((store_day, video))
    return pending


def _mark_expired(client: Any, bucket: str, videos: list[_Object], now: datetime) -> None:
    for video in videos:
        key = footage_expired_key(video.store_day, video.video)
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"", Metadata={"expired-at": now.isoformat()})
        except (BotoCoreError, ClientError) as exc:
            raise SetupError(
                f"retention cannot write s3://{bucket}/{key} at {describe_endpoint(client)} "
                f"({type(exc).__name__}: {exc}); no video was deleted"
            ) from exc


def _delete(client: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):  # the S3 limit of one DeleteObjects request
        chunk = keys[start : start + 1000]
        try:
            answer = client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        except (BotoCoreError, ClientError) as exc:
            raise SetupError(
                f"retention cannot delete from s3://{bucket} at {describe_endpoint(client)} "
                f"({type(exc).__name__}: {exc}); the identity needs delete rights on that bucket"
            ) from exc
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise SetupError(
                f"retention could not delete {len(errors)} object(s) of s3://{bucket}, e.g. {first.get('Key')} "
                f"({first.get('Code')}: {first.get('Message')}); the identity needs delete rights on that bucket"
            )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
