"""The pictures of one store-day's answers, and where they are stored.

For every camera with silver tracks or geometry: a heatmap of the day's foot positions over the
camera's frame (a preview JPEG of one of its videos that day, when one exists, else blank) with
its lines and zones; for the store: the hourly footfall chart. Stored in the detections bucket
under `contracts/layout.py`'s report keys, rewritten by each gold run of the store-day.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retail_assets.analytics.geometry import StoreGeometry
from retail_assets.contracts.layout import footfall_chart_key, heatmap_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.detections.ndjson_store import META_PREVIEW_BLURRED
from retail_assets.objectstore import iter_objects
from retail_assets.reports.pictures import footfall_chart_png, heatmap_png, path_points

PREVIEW_SUFFIX = ".preview.jpg"
DEFAULT_FRAME = (1280, 720)  # frame size of a camera without geometry, preview or points


@dataclass(frozen=True)
class Picture:
    name: str  # "heatmap cam-1", "footfall per hour"
    key: str  # in the detections bucket
    png: bytes
    caption: str

    def markdown(self, bucket: str) -> str:
        """The picture inline (Dagster's UI renders data: images in markdown metadata), then where
        it is stored."""
        data = base64.b64encode(self.png).decode()
        return f"![{self.name}](data:image/png;base64,{data})\n\n{self.caption} `s3://{bucket}/{self.key}`"


def camera_preview(
    client: Any, bucket: str, store_day: StoreDay, camera_id: str, *, blurred_only: bool
) -> bytes | None:
    """A preview JPEG of one of the camera's videos of the store-day (the first in key order);
    with `blurred_only`, only one whose people are pixelated."""
    prefix = f"{store_day.store_id}/{camera_id}/{store_day.day.isoformat()}/"
    for item in iter_objects(client, bucket, prefix):
        if not item["Key"].endswith(PREVIEW_SUFFIX):
            continue
        stored = client.get_object(Bucket=bucket, Key=item["Key"])
        if blurred_only and stored.get("Metadata", {}).get(META_PREVIEW_BLURRED) != "true":
            stored["Body"].close()
            continue
        return stored["Body"].read()
    return None


def _frame_size(
    geometry: StoreGeometry | None, camera_id: str, preview: bytes | None, points: np.ndarray
) -> tuple[int, int]:
    camera = geometry.camera(camera_id) if geometry else None
    if camera is not None:
        return camera.width, camera.height
    if preview:
        import cv2

        image = cv2.imdecode(np.frombuffer(preview, np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            return image.shape[1], image.shape[0]
    if len(points):
        return max(int(points[:, 0].max()) + 1, 16), max(int(points[:, 1].max()) + 1, 16)
    return DEFAULT_FRAME


def store_day_pictures(
    store_day: StoreDay,
    tracks: pa.Table,
    footfall_hourly: pa.Table,
    geometry: StoreGeometry | None,
    previews: dict[str, bytes | None],
) -> list[Picture]:
    """Heatmaps (one per camera of `previews`) and the footfall chart of the store-day."""
    pictures = []
    for camera_id in sorted(previews):
        points = path_points(tracks, camera_id)
        width, height = _frame_size(geometry, camera_id, previews[camera_id], points)
        tracks_seen = tracks.filter(pc.equal(tracks["camera_id"], camera_id)).num_rows
        png = heatmap_png(
            points,
            width=width,
            height=height,
            geometry=geometry.camera(camera_id) if geometry else None,
            background_jpeg=previews[camera_id],
            title=f"{store_day.store_id} {camera_id} {store_day.day}: {tracks_seen} tracks, {len(points)} foot positions",
        )
        version = f"geometry valid from {geometry.version}" if geometry else "no geometry"
        pictures.append(
            Picture(
                f"heatmap {camera_id}",
                heatmap_key(store_day, camera_id),
                png,
                f"Foot positions of {camera_id} over the day ({version}).",
            )
        )
    hourly = footfall_hourly.group_by("hour").aggregate([("people_in", "sum"), ("people_out", "sum")])
    hourly = hourly.sort_by("hour")
    chart = footfall_chart_png(
        hourly["hour"].to_pylist(),
        hourly["people_in_sum"].to_pylist(),
        hourly["people_out_sum"].to_pylist(),
        f"{store_day.store_id} {store_day.day}: people crossing counting lines per hour (all lines)",
    )
    pictures.append(
        Picture(
            "footfall per hour", footfall_chart_key(store_day), chart, "Line crossings per hour, in and out."
        )
    )
    return pictures


def store_pictures(client: Any, bucket: str, pictures: list[Picture]) -> list[str]:
    """Upload the pictures; their s3:// URIs."""
    for picture in pictures:
        client.put_object(Bucket=bucket, Key=picture.key, Body=picture.png, ContentType="image/png")
    return [f"s3://{bucket}/{picture.key}" for picture in pictures]
