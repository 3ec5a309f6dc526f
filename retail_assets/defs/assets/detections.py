"""`detections`: one NDJSON object per video (YOLOv8 + DeepSort), skipped while it is current."""

import base64
import tempfile
from pathlib import Path
from typing import Any

import cv2
import dagster as dg
import numpy as np
from pydantic import Field

from retail_assets.defs.checks import (
    NDJSON_SCHEMA_CHECK,
    VIDEOS_COVERED_CHECK,
    check_ndjson_schema,
    check_videos_covered,
)
from retail_assets.defs.jobs import PER_PARTITION_BACKFILL
from retail_assets.defs.names import DETECTIONS, KEY_PREFIX
from retail_assets.defs.partitions import store_day_partitions
from retail_assets.defs.resources import ObjectStoreResource
from retail_assets.detections.ndjson_store import (
    StoreDayDetections,
    VideoDetections,
    VideoFailure,
    current_detections,
    infer_video,
    stored_preview,
)
from retail_assets.inventory.manifest import VideoManifest
from retail_assets.settings import Settings
from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.pipeline import PipelineStats, VideoPipeline
from retail_assets.vision.trackers import TRACKERS

PREVIEW_WIDTH = 480


_PIPELINE_DEFAULTS = PipelineConfig()
NIGHTLY_SAMPLE_FPS = 5.0


class DetectionsConfig(dg.Config):
    """Run configuration of the `detections` step; defaults are the vision library's (as `ingest`),
    except the sampling."""

    force: bool = Field(default=False, description="re-infer even videos whose NDJSON is current")
    model: str = Field(
        default=_PIPELINE_DEFAULTS.model, description="'default' (bundled person model) or weights/export"
    )
    conf: float = Field(default=_PIPELINE_DEFAULTS.conf, description="minimum detection confidence")
    imgsz: int = Field(default=_PIPELINE_DEFAULTS.imgsz, description="inference image size")
    device: str = Field(default=_PIPELINE_DEFAULTS.device, description="'cpu', 'cuda:0', ...")
    # 5 processed frames a second: footfall and occupancy within their targets at twice the speed
    # of every frame (docs/performance.md, "The Dagster asset's sampling"); `ingest` keeps every frame.
    sample_fps: float | None = Field(
        default=NIGHTLY_SAMPLE_FPS,
        description="frames per second to process (every k-th frame of the video); None = every frame",
    )
    max_frames: int | None = Field(default=None, description="stop each video after this many frames")
    tracker: str = Field(
        default=_PIPELINE_DEFAULTS.tracker,
        description="tracker: " + ", ".join(TRACKERS) + " ('none' = no track ids)",
    )

    def pipeline_config(self, *, blur_people: bool) -> PipelineConfig:
        """The vision settings of this run; `blur_people` is the deployment's, not the run's (below)."""
        return PipelineConfig(
            model=self.model,
            conf=self.conf,
            imgsz=self.imgsz,
            device=self.device,
            sample_fps=self.sample_fps,
            max_frames=self.max_frames,
            tracker=self.tracker,
            blur_people=blur_people,
        )


def preview_markdown(jpeg: bytes, caption: str) -> str:
    """A small inline JPEG the Dagster UI renders in the materialization's metadata."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is not None and image.shape[1] > PREVIEW_WIDTH:
        scale = PREVIEW_WIDTH / image.shape[1]
        image = cv2.resize(image, (PREVIEW_WIDTH, int(image.shape[0] * scale)))
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            jpeg = buf.tobytes()
    return f"![{caption}](data:image/jpeg;base64,{base64.b64encode(jpeg).decode()})\n\n{caption}"


@dg.asset(
    key_prefix=KEY_PREFIX,
    ins={"raw_videos": dg.AssetIn(key_prefix=KEY_PREFIX)},
    group_name="videos",
    partitions_def=store_day_partitions,
    backfill_policy=PER_PARTITION_BACKFILL,
    pool="inference",
    kinds={"pytorch", "s3"},
    check_specs=[
        dg.AssetCheckSpec(
            NDJSON_SCHEMA_CHECK,
            asset=DETECTIONS,
            blocking=True,
            description="every NDJSON line written by this run is a valid schema v1 event",
        ),
        dg.AssetCheckSpec(
            VIDEOS_COVERED_CHECK,
            asset=DETECTIONS,
            description="every video this run was asked to process has current NDJSON (lists the failures)",
        ),
    ],
    description=(
        "One NDJSON object of schema v1 detection events per video (YOLOv8 + DeepSort), at "
        "`s3://<detections bucket>/<video key>.<model fingerprint>.ndjson`. A video whose NDJSON is "
        "current (same video etag and settings fingerprint in the object's metadata) is skipped "
        "unless `force`. A video that fails is reported and the others proceed. With RVA_BLUR_PEOPLE "
        "on (the default) every detected person is pixelated in the preview frame."
    ),
)
def detections(
    context: dg.AssetExecutionContext,
    config: DetectionsConfig,
    object_store: ObjectStoreResource,
    raw_videos: VideoManifest,
):
    store_day = raw_videos.store_day
    client = object_store.client()
    bucket = object_store.detections_bucket
    readable = raw_videos.readable
    failures = [VideoFailure(v.uri, v.error or "unreadable") for v in raw_videos.entries if not v.readable]
    # Blurring is read from the deployment's environment, never from the run config: whoever may
    # launch a run in the UI could otherwise switch it off and see the faces.
    blur_people = Settings.from_env().blur_people
    pipeline = VideoPipeline(config.pipeline_config(blur_people=blur_people)) if readable else None
    current: list[VideoDetections] = []
    inferred_stats: list[PipelineStats] = []
    previews: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory(prefix="rva-detections-") as tmp:
        for video in readable:
            assert pipeline is not None
            existing = current_detections(client, bucket, video, pipeline)
            if existing is not None and not config.force:
                current.append(existing)
                context.log.info(f"{video.uri}: NDJSON is current, skipped")
                continue
            context.log.info(f"{video.uri}: inferring with {pipeline.model_fingerprint}")
            try:
                made, stats = infer_video(client, pipeline, video, bucket, Path(tmp))
            except Exception as exc:  # one broken video never stops the others
                context.log.error(f"{video.uri}: inference failed: {type(exc).__name__}: {exc}")
                failures.append(VideoFailure(video.uri, f"{type(exc).__name__}: {exc}"))
                continue
            current.append(made)
            inferred_stats.append(stats)
            if stats.preview_jpeg:
                previews.append((video.uri, stats.preview_jpeg))
            context.log.info(
                f"{video.uri}: {stats.frames_processed} frames, {stats.detections} detections, "
                f"{stats.tracks} tracks at {stats.fps} fps -> {made.ndjson_uri}"
            )

    value = StoreDayDetections(store_day, raw_videos.scope, tuple(current), tuple(failures))
    frames = sum(s.frames_processed for s in inferred_stats)
    seconds = sum(s.seconds for s in inferred_stats)
    metadata: dict[str, Any] = {
        "dagster/row_count": value.lines,
        "videos": len(raw_videos.entries),
        "videos_current": len(current),
        "videos_inferred": len(inferred_stats),
        "videos_skipped_current": len(current) - len(inferred_stats),
        "videos_failed": len(failures),
        "frames_processed": frames,
        "detections": sum(s.detections for s in inferred_stats),
        "distinct_tracks": sum(s.tracks for s in inferred_stats),
        "achieved_fps": round(frames / seconds, 3) if seconds > 0 else 0.0,
        "model": pipeline.model_fingerprint if pipeline else config.model,
        "config_fingerprint": pipeline.config_fingerprint if pipeline else "",
        "people_blurred": blur_people,
        "ndjson_objects": dg.MetadataValue.json({e.video.key: e.ndjson_uri for e in current}),
    }
    if failures:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(["| video | error |", "|---|---|"] + [f"| `{f.uri}` | {f.error} |" for f in failures])
        )
    if not previews and current:  # nothing inferred now: show the stored preview of a current video
        jpeg = stored_preview(client, current[0], blurred_only=blur_people)
        if jpeg:
            previews.append((current[0].video.key, jpeg))
    if previews:
        uri, jpeg = previews[0]
        metadata["preview"] = dg.MetadataValue.md(preview_markdown(jpeg, f"busiest frame of {uri}"))
    yield dg.Output(value, metadata=metadata)
    yield check_ndjson_schema(client, [e for e in current if e.inferred_in_run])
    yield check_videos_covered(value)
