"""`retail-assets eval`: run the pipeline on a video and score it against MOTChallenge ground truth."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from retail_assets.errors import InputError
from retail_assets.vision.evaluation import (
    TrackingScores,
    evaluate,
    load_mot_ground_truth,
    predictions_from_ndjson,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from retail_assets.vision.cli_options import add_model_arguments

    parser.add_argument("--video", help="video to run the pipeline on")
    parser.add_argument(
        "--gt", required=True, help="MOTChallenge gt.txt (frame f = video frame f-1; conf 0 rows ignored)"
    )
    parser.add_argument("--detections", help="score this NDJSON file instead of running the pipeline")
    parser.add_argument("--save", help="keep the NDJSON the pipeline wrote at this path")
    parser.add_argument(
        "--iou", type=float, default=0.5, help="IoU a prediction needs to match a gt box (default 0.5)"
    )
    parser.add_argument(
        "--track", choices=["0", "1"], default="1", help="DeepSort tracking on (1, default) or off (0)"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--max-frames", type=int, default=None, help="only the first N frames (gt beyond them is not scored)"
    )
    parser.add_argument(
        "--geometry",
        help="camera geometry YAML: also compare line crossings and zone occupancy with the ground truth's",
    )
    parser.add_argument(
        "--camera", help="camera of --geometry to use (default: its only camera); its latest version is used"
    )
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    parser.add_argument("--progress", choices=["auto", "0", "1"], default="auto", help="progress bar on stderr")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if not 0 < args.iou <= 1:
        raise InputError(f"--iou must be in (0, 1], got {args.iou}")
    if bool(args.video) == bool(args.detections):
        raise InputError("give exactly one of --video (run the pipeline) or --detections (score a file)")
    gt = load_mot_ground_truth(args.gt)
    if args.detections:
        ndjson = Path(args.detections)
        if not ndjson.is_file():
            raise InputError(f"detections {ndjson}: file does not exist")
        frames = _frames(gt, args.max_frames)
        scores = evaluate(gt, predictions_from_ndjson(ndjson), frames, args.iou)
        counts = _counts(args, gt, ndjson) if args.geometry else None
        _report(scores, args, f"detections {ndjson}", counts)
        return 0
    with tempfile.TemporaryDirectory(prefix="rva-eval-") as scratch:
        out = Path(args.save) if args.save else Path(scratch) / "eval.ndjson"
        stats = _run_pipeline(args, out)
        frames = _frames(gt, stats.frames_decoded)
        scores = evaluate(gt, predictions_from_ndjson(out), frames, args.iou)
        counts = _counts(args, gt, out) if args.geometry else None
    _report(
        scores, args, f"model {stats.model}, config {stats.config_fingerprint}, {stats.fps:.2f} fps", counts
    )
    return 0


def _frames(gt: object, limit: int | None) -> list[int] | None:
    frames = sorted(gt.frames)  # type: ignore[attr-defined]
    return frames if limit is None else [f for f in frames if f < limit]


def _run_pipeline(args: argparse.Namespace, out: Path):  # -> PipelineStats
    from retail_assets.vision.cli_options import model_settings
    from retail_assets.vision.pipeline import PipelineConfig, VideoContext, VideoPipeline
    from retail_assets.vision.video_source import file_sha256

    video = Path(args.video)
    if not video.is_file():
        raise InputError(f"video {video}: file does not exist")
    config = PipelineConfig(max_frames=args.max_frames, **model_settings(args, args.track == "1"))
    context = VideoContext(
        store_id="eval",
        camera_id="eval",
        start_time=datetime(1970, 1, 1, tzinfo=UTC),  # scoring uses frame indices, not wall time
        video_uri=video.resolve().as_uri(),
        video_etag="sha256:" + file_sha256(video)[:32],
    )
    progress = sys.stderr.isatty() if args.progress == "auto" else args.progress == "1"
    return VideoPipeline(config).process(video, context, out, progress=progress)


def _counts(args: argparse.Namespace, gt: object, ndjson: Path):  # -> CountComparison
    """Crossings per line and occupancy per zone, the pipeline's next to the ground truth's."""
    from retail_assets.analytics.ground_truth import compare_counts, ground_truth_detections
    from retail_assets.analytics.ndjson import detections_from_ndjson_file, seconds_per_frame

    version, camera = _geometry_camera(args.geometry, args.camera)
    pipeline = detections_from_ndjson_file(ndjson)
    truth = ground_truth_detections(
        gt,  # type: ignore[arg-type]
        version.store_id,
        camera.camera_id,
        camera.width,
        camera.height,
        seconds_per_frame(pipeline),
    )
    # both sides are described by the same camera: the pipeline's ids name the eval run, not the store
    pipeline = _as_camera(pipeline, version.store_id, camera.camera_id)
    return compare_counts(pipeline, truth, version, camera, version.valid_from)


def _geometry_camera(path: str, camera_id: str | None):  # -> (StoreGeometry, CameraGeometry)
    from retail_assets.analytics.geometry import read_geometry_file

    document = read_geometry_file(path)
    version = document.versions[-1]
    if camera_id is None:
        if len(version.cameras) != 1:
            raise InputError(
                f"geometry {path} describes cameras {', '.join(sorted(version.cameras))}: choose one with --camera"
            )
        camera_id = next(iter(version.cameras))
    camera = version.camera(camera_id)
    if camera is None:
        raise InputError(f"geometry {path}: no camera {camera_id!r} in its version of {version.valid_from}")
    return version, camera


def _as_camera(table, store_id: str, camera_id: str):
    import pyarrow as pa

    n = table.num_rows
    table = table.set_column(table.schema.get_field_index("store_id"), "store_id", pa.array([store_id] * n))
    return table.set_column(table.schema.get_field_index("camera_id"), "camera_id", pa.array([camera_id] * n))


def _report(scores: TrackingScores, args: argparse.Namespace, what: str, counts: object = None) -> None:
    if args.json:
        result: dict[str, object] = {
            k: round(v, 4) if isinstance(v, float) else v for k, v in scores.as_dict().items()
        }
        if counts is not None:
            result["counts"] = counts.as_dict()  # type: ignore[attr-defined]
        print(json.dumps(result))
        return
    print(f"{what}; IoU >= {args.iou}, {scores.frames} frames, {scores.gt} gt boxes, {scores.gt_ids} gt ids")
    print(f"  MOTA       {100 * scores.mota:6.1f}")
    print(f"  IDF1       {100 * scores.idf1:6.1f}   (IDP {100 * scores.idp:.1f}, IDR {100 * scores.idr:.1f})")
    print(f"  ID switch  {scores.id_switches:6d}")
    print(f"  precision  {100 * scores.precision:6.1f}")
    print(f"  recall     {100 * scores.recall:6.1f}")
    print(f"  TP {scores.tp}, FP {scores.fp}, FN {scores.fn}, predicted ids {scores.predicted_ids}")
    if counts is not None:
        _report_counts(counts, args.geometry)


def _report_counts(counts: object, geometry: str) -> None:
    def diff(ours: float, truth: float) -> str:
        return f"{100 * (ours - truth) / truth:+.0f}%" if truth else "n/a"

    print(f"counts with geometry {geometry} (pipeline vs ground truth, same rules):")
    for line in counts.lines:  # type: ignore[attr-defined]
        total, truth_total = line.pipeline_in + line.pipeline_out, line.truth_in + line.truth_out
        print(
            f"  line {line.line:<14} in {line.pipeline_in:3d} vs {line.truth_in:3d} ({diff(line.pipeline_in, line.truth_in)})"
            f"  out {line.pipeline_out:3d} vs {line.truth_out:3d} ({diff(line.pipeline_out, line.truth_out)})"
            f"  total {total:3d} vs {truth_total:3d} ({diff(total, truth_total)})"
            + ("  [entrance]" if line.entrance else "")
        )
    for zone in counts.zones:  # type: ignore[attr-defined]
        name = "whole frame" if zone.zone == "*" else zone.zone
        print(
            f"  zone {name:<14} mean {zone.pipeline_mean:5.2f} vs {zone.truth_mean:5.2f} "
            f"({diff(zone.pipeline_mean, zone.truth_mean)})  peak {zone.pipeline_peak} vs {zone.truth_peak}"
        )
