"""`detections`: one NDJSON object per video (YOLOv8 + DeepSort), skipped while it is current."""

import base64
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import dagster as dg
import numpy as np
from botocore.exceptions import ClientError
from pydantic import Field

from retail_assets.assets import KEY_PREFIX, PER_PARTITION_BACKFILL
from retail_assets.checks import (
    NDJSON_SCHEMA_CHECK,
    VIDEOS_COVERED_CHECK,
    check_ndjson_schema,
    check_videos_covered,
)
from retail_assets.contracts.layout import parse_video_key
from retail_assets.objectstore import split_s3_uri
from retail_assets.partitions import parse_partition_key, store_day_partitions
from retail_assets.resources import ObjectStoreResource
from retail_assets.vision.pipeline import PipelineConfig, VideoContext, VideoPipeline

PREVIEW_WIDTH = 480


_PIPELINE_DEFAULTS = PipelineConfig()


class DetectionsConfig(dg.Config):
    """Run configuration of the `detections` step; defaults are the vision library's (as `ingest`)."""

    force: bool = Field(default=False, description="re-infer even videos whose NDJSON is current")
    model: str = Field(
        default=_PIPELINE_DEFAULTS.model, description="'default' (bundled person model) or weights/export"
    )
    conf: float = Field(default=_PIPELINE_DEFAULTS.conf, description="minimum detection confidence")
    imgsz: int = Field(default=_PIPELINE_DEFAULTS.imgsz, description="inference image size")
    device: str = Field(default=_PIPELINE_DEFAULTS.device, description="'cpu', 'cuda:0', ...")
    sample_fps: float | None = Field(default=None, description="frames per second to process; None = all")
    max_frames: int | None = Field(default=None, description="stop each video after this many frames")
    tracker: str = Field(default=_PIPELINE_DEFAULTS.tracker, description="'deepsort' or 'none'")
    video_keys: list[str] = Field(
        default_factory=list,
        description="infer only these video keys (the sensor sets its video); empty = every video of the partition",
    )

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(
            model=self.model,
            conf=self.conf,
            imgsz=self.imgsz,
            device=self.device,
            sample_fps=self.sample_fps,
            max_frames=self.max_frames,
            tracker=self.tracker,
        )


def ndjson_state(client: Any, bucket: str, key: str) -> dict[str, str] | None:
    """The NDJSON object's S3 metadata (video etag, config fingerprint, lines) or None if absent."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return {**head.get("Metadata", {}), "etag": head["ETag"].strip('"')}


def is_current(state: dict[str, str] | None, video_etag: str, config_fingerprint: str) -> bool:
    """Invariant 3: same video bytes and same settings (the weights' sha is in the fingerprint)."""
    return (
        state is not None
        and state.get("video-etag") == video_etag
        and state.get("config-fingerprint") == config_fingerprint
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


def stored_previews(client: Any, entries: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """(video URI, JPEG) of the previews saved next to these NDJSON objects, where one exists."""
    found = []
    for entry in entries:
        bucket, key = split_s3_uri(entry["ndjson_uri"])
        try:
            body = client.get_object(Bucket=bucket, Key=f"{key}.preview.jpg")["Body"].read()
        except ClientError:
            continue
        found.append((entry["video_key"], body))
    return found


def infer_one(
    client: Any,
    pipeline: VideoPipeline,
    video: dict[str, Any],
    detections_bucket: str,
    ndjson_key: str,
    workdir: Path,
) -> tuple[dict[str, Any], Any]:
    """Download one video, run the pipeline, upload its NDJSON (and preview) with provenance metadata."""
    parsed = parse_video_key(video["key"])
    local_video = workdir / Path(video["key"]).name
    bucket = video["uri"][len("s3://") :].split("/", 1)[0]
    client.download_file(bucket, video["key"], str(local_video))
    out = workdir / (Path(video["key"]).name + ".ndjson")
    try:
        stats = pipeline.process(
            local_video,
            VideoContext(
                store_id=parsed.store_id,
                camera_id=parsed.camera_id,
                start_time=datetime.fromisoformat(video["start_time"]),
                video_uri=video["uri"],
                video_etag=video["etag"],
            ),
            out,
        )
        metadata = {
            "video-etag": video["etag"],
            "video-key": video["key"],
            "config-fingerprint": pipeline.config_fingerprint,
            "model": pipeline.model_fingerprint,
            "lines": str(stats.detections),
            "frames-processed": str(stats.frames_processed),
            "tracks": str(stats.tracks),
        }
        client.upload_file(
            str(out),
            detections_bucket,
            ndjson_key,
            ExtraArgs={"Metadata": metadata, "ContentType": "application/x-ndjson"},
        )
        if stats.preview_jpeg:
            client.put_object(
                Bucket=detections_bucket,
                Key=f"{ndjson_key}.preview.jpg",
                Body=stats.preview_jpeg,
                ContentType="image/jpeg",
            )
    finally:
        local_video.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    head = client.head_object(Bucket=detections_bucket, Key=ndjson_key)
    entry = {
        "video_key": video["key"],
        "video_etag": video["etag"],
        "ndjson_key": ndjson_key,
        "ndjson_uri": f"s3://{detections_bucket}/{ndjson_key}",
        "ndjson_etag": head["ETag"].strip('"'),
        "lines": stats.detections,
        "model": pipeline.model_fingerprint,
        "config_fingerprint": pipeline.config_fingerprint,
        "inferred_in_run": True,
    }
    return entry, stats


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
            asset=[KEY_PREFIX, "detections"],
            blocking=True,
            description="every NDJSON line written by this run is a valid schema v1 event",
        ),
        dg.AssetCheckSpec(
            VIDEOS_COVERED_CHECK,
            asset=[KEY_PREFIX, "detections"],
            description="every video this run was asked to process has current NDJSON (lists the failures)",
        ),
    ],
    description=(
        "One NDJSON object of schema v1 detection events per video (YOLOv8 + DeepSort), at "
        "`s3://<detections bucket>/<video key>.<model fingerprint>.ndjson`. A video whose NDJSON is "
        "current (same video etag and settings fingerprint in the object's metadata) is skipped "
        "unless `force`. A video that fails is reported and the others proceed."
    ),
)
def detections(
    context: dg.AssetExecutionContext,
    config: DetectionsConfig,
    object_store: ObjectStoreResource,
    raw_videos: list[dict],
):
    day = parse_partition_key(context.partition_key)
    client = object_store.client()
    bucket = object_store.detections_bucket
    readable = [v for v in raw_videos if v["readable"]]
    wanted = set(config.video_keys)
    listed = {v["key"] for v in raw_videos}
    failures: list[dict[str, str]] = [
        {"video": v["uri"], "error": v["error"] or "unreadable"}
        for v in raw_videos
        if not v["readable"] and (not wanted or v["key"] in wanted)
    ]
    for key in sorted(wanted - listed):
        context.log.warning(f"video key {key!r} from run config is not in partition {day.key} (deleted?)")

    pipeline = VideoPipeline(config.pipeline_config()) if readable else None
    current: list[dict[str, Any]] = []
    pending: list[str] = []
    inferred_stats: list[Any] = []
    previews: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory(prefix="rva-detections-") as tmp:
        for video in readable:
            assert pipeline is not None
            parsed = parse_video_key(video["key"])
            ndjson_key = parsed.detections_key(pipeline.model_fingerprint)
            state = ndjson_state(client, bucket, ndjson_key)
            if is_current(state, video["etag"], pipeline.config_fingerprint) and not config.force:
                assert state is not None
                current.append(
                    {
                        "video_key": video["key"],
                        "video_etag": video["etag"],
                        "ndjson_key": ndjson_key,
                        "ndjson_uri": f"s3://{bucket}/{ndjson_key}",
                        "ndjson_etag": state["etag"],
                        "lines": int(state.get("lines", "0")),
                        "model": pipeline.model_fingerprint,
                        "config_fingerprint": pipeline.config_fingerprint,
                        "inferred_in_run": False,
                    }
                )
                context.log.info(f"{video['uri']}: NDJSON is current, skipped")
                continue
            if wanted and video["key"] not in wanted:
                pending.append(video["key"])
                continue
            context.log.info(f"{video['uri']}: inferring with {pipeline.model_fingerprint}")
            try:
                entry, stats = infer_one(client, pipeline, video, bucket, ndjson_key, Path(tmp))
            except Exception as exc:  # one broken video never stops the others
                context.log.error(f"{video['uri']}: inference failed: {type(exc).__name__}: {exc}")
                failures.append({"video": video["uri"], "error": f"{type(exc).__name__}: {exc}"})
                continue
            current.append(entry)
            inferred_stats.append(stats)
            if stats.preview_jpeg:
                previews.append((video["uri"], stats.preview_jpeg))
            context.log.info(
                f"{video['uri']}: {stats.frames_processed} frames, {stats.detections} detections, "
                f"{stats.tracks} tracks at {stats.fps} fps -> {entry['ndjson_uri']}"
            )

    frames = sum(s.frames_processed for s in inferred_stats)
    seconds = sum(s.seconds for s in inferred_stats)
    metadata: dict[str, Any] = {
        "dagster/row_count": sum(e["lines"] for e in current),
        "videos": len(raw_videos),
        "videos_current": len(current),
        "videos_inferred": len(inferred_stats),
        "videos_skipped_current": len(current) - len(inferred_stats),
        "videos_pending": len(pending),
        "videos_failed": len(failures),
        "frames_processed": frames,
        "detections": sum(s.detections for s in inferred_stats),
        "distinct_tracks": sum(s.tracks for s in inferred_stats),
        "achieved_fps": round(frames / seconds, 3) if seconds > 0 else 0.0,
        "model": pipeline.model_fingerprint if pipeline else config.model,
        "config_fingerprint": pipeline.config_fingerprint if pipeline else "",
        "ndjson_objects": dg.MetadataValue.json({e["video_key"]: e["ndjson_uri"] for e in current}),
    }
    if failures:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(
                ["| video | error |", "|---|---|"] + [f"| `{f['video']}` | {f['error']} |" for f in failures]
            )
        )
    if not previews:  # nothing inferred now: show the stored preview of a current video
        previews = stored_previews(client, current[:1])
    if previews:
        uri, jpeg = previews[0]
        metadata["preview"] = dg.MetadataValue.md(preview_markdown(jpeg, f"busiest frame of {uri}"))
    value = {"partition": day.key, "current": current, "pending": pending, "failures": failures}
    yield dg.Output(value, metadata=metadata)
    yield check_ndjson_schema(client, [e for e in current if e["inferred_in_run"]])
    yield check_videos_covered(value)
