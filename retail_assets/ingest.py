"""`retail-assets ingest` / `python -m retail_assets.ingest`: one video -> NDJSON detection events.

Keeps the first version's flags and meanings (`--backend cv --src V --yolo 1 --track 1
--display 1 --emit detection --out F`) and adds the store/camera/time and model settings.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from retail_assets.contracts.ids import check_id
from retail_assets.contracts.layout import START_TIME_METADATA, parse_start_time, parse_video_key
from retail_assets.errors import InputError, RetailAssetsError

DEFAULT_OUT = "detections_output.ndjson"
DEFAULT_STORE = "local"


def _switch(value: str) -> bool:
    if value not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got {value!r}")
    return value == "1"


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from retail_assets.vision.cli_options import add_model_arguments, positive_int

    parser.add_argument(
        "--src",
        required=True,
        help="video file path, or s3://bucket/<store>/<camera>/<YYYY-MM-DD>/<HHMMSS>.mp4",
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"NDJSON file to write (default {DEFAULT_OUT})")
    parser.add_argument(
        "--backend", choices=["cv"], default="cv", help="video decoding backend: cv = OpenCV (default)"
    )
    parser.add_argument(
        "--yolo",
        type=_switch,
        default=True,
        metavar="{0,1}",
        help="YOLOv8 detection on (1, default) or off (0)",
    )
    parser.add_argument(
        "--track",
        type=_switch,
        default=True,
        metavar="{0,1}",
        help="DeepSort tracking on (1, default) or off (0)",
    )
    parser.add_argument(
        "--display",
        type=_switch,
        default=False,
        metavar="{0,1}",
        help="show the video with boxes in a window (1) or not (0, default)",
    )
    parser.add_argument(
        "--emit", choices=["detection"], default="detection", help="event type to write (detection)"
    )
    parser.add_argument("--store-id", help="store id (default: from an S3 layout key, else 'local')")
    parser.add_argument("--camera-id", help="camera id (default: from an S3 layout key, else the file name)")
    parser.add_argument(
        "--start-time",
        help="ISO 8601 start of the video (default: from an S3 layout key, else the file's modification time)",
    )
    parser.add_argument(
        "--sample-fps",
        type=_positive_float,
        default=None,
        help="process this many frames per second of video (default: every frame)",
    )
    parser.add_argument(
        "--max-frames", type=positive_int, default=None, help="stop after this many decoded frames"
    )
    add_model_arguments(parser)
    parser.add_argument("--progress", choices=["auto", "0", "1"], default="auto", help="progress bar on stderr: auto = when stderr is a terminal")  # fmt: skip


def resolve_context(args: argparse.Namespace) -> tuple[str, object]:
    """(source, VideoContext) from --src and the id/time flags; S3 layout keys supply their own."""
    from retail_assets.vision.pipeline import VideoContext
    from retail_assets.vision.video_source import VideoSource, file_sha256, s3_video_info

    src = str(args.src)
    if src.startswith("s3://"):
        info = s3_video_info(src)
        try:
            key = parse_video_key(info.key, start_time_override=info.metadata.get(START_TIME_METADATA))
        except InputError as exc:
            if not (args.store_id and args.camera_id and args.start_time):
                raise InputError(
                    f"{exc}; pass --store-id, --camera-id and --start-time for such a key"
                ) from exc
            key = None
        if key is not None:
            _agree("--store-id", args.store_id, key.store_id, src)
            _agree("--camera-id", args.camera_id, key.camera_id, src)
            if args.start_time and parse_start_time(args.start_time, what="--start-time") != key.start_time:
                raise InputError(f"--start-time {args.start_time} disagrees with the start time of {src}")
            store, camera, start = key.store_id, key.camera_id, key.start_time
        else:
            store, camera = args.store_id, args.camera_id
            start = parse_start_time(args.start_time, what="--start-time")
        return src, VideoContext(
            check_id(store, "--store-id"), check_id(camera, "--camera-id"), start, src, info.etag
        )
    path = Path(src)
    # Open it once before the model loads, so a missing, empty or non-video file fails at once.
    VideoSource(path, display_name=src).close()
    store = args.store_id or DEFAULT_STORE
    camera = args.camera_id or (re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-")[:64] or "camera")
    if args.start_time:
        start = parse_start_time(args.start_time, what="--start-time")
    else:
        start = datetime.fromtimestamp(int(path.stat().st_mtime), tz=UTC)
    # A local file's identity is its bytes, so a copy elsewhere keeps the same event ids.
    etag = "sha256:" + file_sha256(path)[:32]
    uri = path.resolve().as_uri()
    return src, VideoContext(check_id(store, "--store-id"), check_id(camera, "--camera-id"), start, uri, etag)


def _agree(flag: str, given: str | None, from_key: str, src: str) -> None:
    if given and given != from_key:
        raise InputError(f"{flag} {given!r} disagrees with {from_key!r} in the key of {src}")


def run(args: argparse.Namespace) -> int:
    from retail_assets.vision.cli_options import model_settings
    from retail_assets.vision.detector import NoDetector
    from retail_assets.vision.display import LiveDisplay
    from retail_assets.vision.pipeline import PipelineConfig, VideoPipeline

    if args.track and not args.yolo:
        raise InputError("--track 1 needs detections: use --yolo 1, or --track 0 to only decode/display")
    config = PipelineConfig(
        sample_fps=args.sample_fps, max_frames=args.max_frames, **model_settings(args, args.track)
    )
    source, context = resolve_context(args)
    # --yolo 0 decodes (and displays) without detecting: the file gets no events.
    pipeline = VideoPipeline(config, detector=None if args.yolo else NoDetector())
    display = LiveDisplay() if args.display else None
    progress = sys.stderr.isatty() if args.progress == "auto" else args.progress == "1"
    try:
        stats = pipeline.process(
            source, context, Path(args.out), progress=progress, on_frame=display.show if display else None
        )
    finally:
        if display is not None:
            display.close()
    if stats.frames_skipped_corrupt:
        stretches = ", ".join(f"{a}-{b}" for a, b in stats.damaged_stretches)
        print(
            f"warning: video {source}: {stats.frames_skipped_corrupt} damaged frame(s) skipped (frames {stretches}); "
            "the rest was processed",
            file=sys.stderr,
        )
    print(
        f"{args.out}: {stats.detections} events, {stats.tracks} tracks, {stats.frames_processed}/{stats.frames_decoded} "
        f"frames processed, {stats.frames_skipped_corrupt} skipped as corrupt, {stats.seconds:.1f}s ({stats.fps:.2f} fps), "
        f"model {stats.model}, config {stats.config_fingerprint}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_assets.ingest", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RetailAssetsError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
