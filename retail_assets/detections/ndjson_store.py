"""One video's NDJSON object in the detections bucket: whether it is current, and making it.

An object is current (invariant 3: never re-inferred) while its S3 metadata names the video's
etag and the pipeline's settings fingerprint (which includes the weights' sha256). Inference
downloads the video, runs the vision pipeline into a local file and uploads the NDJSON with that
metadata, plus the annotated preview frame beside it (its metadata says which frame it shows and
whether the people in it are pixelated), and the annotated frame of every fall episode start under
`fall_frame_key(video key, event id)` (`contracts/falls.py`), where the gold fall alerts point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from retail_assets.contracts.falls import fall_frame_key
from retail_assets.contracts.layout import VideoKey, preview_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.inventory.listing import strip_etag
from retail_assets.inventory.manifest import VideoManifestEntry
from retail_assets.objectstore import head_object_or_none
from retail_assets.vision.pipeline import PipelineStats, VideoContext, VideoPipeline

# S3 user metadata of an NDJSON object (boto3 sends them as x-amz-meta-<name>).
META_VIDEO_ETAG = "video-etag"
META_CONFIG = "config-fingerprint"
META_LINES = "lines"
# S3 user metadata of a preview JPEG.
META_PREVIEW_BLURRED = "blurred"  # "true" when the people in it are pixelated
META_PREVIEW_FRAME = "frame-index"  # the video frame it shows
# S3 user metadata of a fall frame JPEG (also `blurred` and `frame-index`).
META_FALL_TRACK = "track-id"


@dataclass(frozen=True)
class VideoDetections:
    """A current NDJSON object: where it is, what it was made from, how many lines it holds."""

    video: VideoKey
    video_etag: str
    bucket: str
    ndjson_key: str
    ndjson_etag: str
    lines: int
    model: str
    config_fingerprint: str
    inferred_in_run: bool

    @property
    def ndjson_uri(self) -> str:
        return f"s3://{self.bucket}/{self.ndjson_key}"


@dataclass(frozen=True)
class VideoFailure:
    uri: str
    error: str


@dataclass(frozen=True)
class StoreDayDetections:
    """What the detections step leaves for the publisher: the current objects of a store-day."""

    store_day: StoreDay
    scope: tuple[str, ...] | None  # the videos the run was asked for; None = the whole store-day
    current: tuple[VideoDetections, ...]
    failures: tuple[VideoFailure, ...]

    @property
    def lines(self) -> int:
        return sum(d.lines for d in self.current)


def current_detections(
    client: Any, bucket: str, entry: VideoManifestEntry, pipeline: VideoPipeline
) -> VideoDetections | None:
    """The video's NDJSON object if it is current for these settings, else None."""
    key = entry.video.detections_key(pipeline.model_fingerprint)
    head = head_object_or_none(client, bucket, key)
    if head is None:
        return None
    metadata = head.get("Metadata", {})
    if (
        metadata.get(META_VIDEO_ETAG) != entry.etag
        or metadata.get(META_CONFIG) != pipeline.config_fingerprint
    ):
        return None
    return _detections(entry, pipeline, bucket, key, head, int(metadata.get(META_LINES, "0")), inferred=False)


def infer_video(
    client: Any, pipeline: VideoPipeline, entry: VideoManifestEntry, bucket: str, workdir: Path
) -> tuple[VideoDetections, PipelineStats]:
    """Download one video, run the pipeline, upload its NDJSON (and preview) with provenance metadata."""
    video = entry.video
    key = video.detections_key(pipeline.model_fingerprint)
    local_video = workdir / video.name
    out = workdir / f"{video.name}.ndjson"
    client.download_file(entry.bucket, video.key, str(local_video))
    try:
        stats = pipeline.process(
            local_video,
            VideoContext(
                store_id=video.store_id,
                camera_id=video.camera_id,
                start_time=video.start_time,
                video_uri=entry.uri,
                video_etag=entry.etag,
            ),
            out,
        )
        metadata = {
            META_VIDEO_ETAG: entry.etag,
            "video-key": video.key,
            META_CONFIG: pipeline.config_fingerprint,
            "model": pipeline.model_fingerprint,
            META_LINES: str(stats.detections),
            "frames-processed": str(stats.frames_processed),
            "tracks": str(stats.tracks),
            "fall-episodes": str(len(stats.fall_frames)),
        }
        # The fall frames first: once the NDJSON is in place, its events' alerts may be read.
        for fall in stats.fall_frames:
            client.put_object(
                Bucket=bucket,
                Key=fall_frame_key(video.key, fall.event_id),
                Body=fall.jpeg,
                ContentType="image/jpeg",
                Metadata={
                    META_PREVIEW_BLURRED: "true" if pipeline.config.blur_people else "false",
                    META_PREVIEW_FRAME: str(fall.frame_index),
                    META_FALL_TRACK: str(fall.track_id),
                },
            )
        client.upload_file(
            str(out), bucket, key, ExtraArgs={"Metadata": metadata, "ContentType": "application/x-ndjson"}
        )
        if stats.preview_jpeg:
            client.put_object(
                Bucket=bucket,
                Key=preview_key(key),
                Body=stats.preview_jpeg,
                ContentType="image/jpeg",
                Metadata={
                    META_PREVIEW_BLURRED: "true" if stats.preview_blurred else "false",
                    META_PREVIEW_FRAME: str(stats.preview_frame_index),
                },
            )
        else:
            # A preview left from earlier bytes or settings would show a picture these events do
            # not describe (and possibly one made before people were blurred).
            client.delete_object(Bucket=bucket, Key=preview_key(key))
    finally:
        local_video.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    head = client.head_object(Bucket=bucket, Key=key)
    return _detections(entry, pipeline, bucket, key, head, stats.detections, inferred=True), stats


def stored_preview(client: Any, detections: VideoDetections, *, blurred_only: bool = False) -> bytes | None:
    """The preview JPEG saved beside an NDJSON object, if there is one.

    With `blurred_only`, a preview whose people are not pixelated (made with blurring off, or
    before the setting existed: no `blurred` metadata) counts as none, so turning blurring on
    never shows an older picture of faces.
    """
    try:
        stored = client.get_object(Bucket=detections.bucket, Key=preview_key(detections.ndjson_key))
    except ClientError:
        return None
    if blurred_only and stored.get("Metadata", {}).get(META_PREVIEW_BLURRED) != "true":
        stored["Body"].close()
        return None
    return stored["Body"].read()


def _detections(
    entry: VideoManifestEntry,
    pipeline: VideoPipeline,
    bucket: str,
    key: str,
    head: dict[str, Any],
    lines: int,
    *,
    inferred: bool,
) -> VideoDetections:
    return VideoDetections(
        video=entry.video,
        video_etag=entry.etag,
        bucket=bucket,
        ndjson_key=key,
        ndjson_etag=strip_etag(head["ETag"]),
        lines=lines,
        model=pipeline.model_fingerprint,
        config_fingerprint=pipeline.config_fingerprint,
        inferred_in_run=inferred,
    )
