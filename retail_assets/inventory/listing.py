"""Listing the videos bucket: counted list requests, and the videos of one store-day.

The bucket layout is `<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>[_suffix].<ext>`
(`contracts.layout`), so a store-day is listed camera by camera: one delimiter listing of the
store's prefix, then one listing of `<store>/<camera>/<YYYY-MM-DD>/` per camera.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from retail_assets.contracts.layout import VideoKey, parse_video_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import InputError


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


@dataclass
class StoreDayListing:
    videos: list[VideoKey] = field(default_factory=list)
    malformed: list[MalformedKey] = field(default_factory=list)


def list_store_day(client: Any, bucket: str, store_day: StoreDay, timezone: str) -> StoreDayListing:
    """The videos of one store-day, camera by camera, in key order."""
    lister = Lister(client, bucket)
    cameras, _ = lister.prefixes(f"{store_day.store_id}/")
    listing = StoreDayListing()
    for camera_prefix in cameras:
        for page in lister.pages(f"{camera_prefix}{store_day.day.isoformat()}/"):
            for obj in page.get("Contents", []):
                try:
                    video = parse_video_key(obj["Key"], timezone)
                except InputError as exc:
                    listing.malformed.append(MalformedKey(obj["Key"], str(exc)))
                    continue
                if video.store_day == store_day:
                    listing.videos.append(video)
    return listing
