"""`retail-assets geometry check FILE [--video V] [--out PNG]` and `retail-assets geometry put FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path

from retail_assets.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate a store's geometry YAML and draw it as a PNG")
    check.add_argument("file", help="the store's geometry document (YAML)")
    check.add_argument(
        "--video", help="draw over the first frame of this camera video (default: a blank frame)"
    )
    check.add_argument("--camera", help="the camera to draw (default: every camera of the latest version)")
    check.add_argument("--date", help="draw the version valid on this day YYYY-MM-DD (default: the latest)")
    check.add_argument("--out", help="PNG to write (default: <file>.png, or <file>-<camera>.png per camera)")
    put = sub.add_parser("put", help="validate a store's geometry YAML, then upload it to RVA_GEOMETRY_URI")
    put.add_argument("file", help="the store's geometry document (YAML)")


def run(args: argparse.Namespace) -> int:
    from retail_assets.analytics.geometry import read_geometry_file

    document = read_geometry_file(args.file)
    if args.action == "put":
        return _put(args, document)
    return _check(args, document)


def _check(args: argparse.Namespace, document) -> int:
    from datetime import date

    from retail_assets.analytics.render import blank_frame, draw_geometry, video_frame, write_png

    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"--date {args.date!r} is not a YYYY-MM-DD date") from None
        version = document.for_day(day)
        if version is None:
            raise InputError(
                f"geometry {args.file}: no version is valid on {day} (the first is {document.versions[0].valid_from})"
            )
    else:
        version = document.versions[-1]
    print(
        f"geometry {args.file}: valid; store {document.store_id}, {len(document.versions)} version(s): "
        + ", ".join(
            f"{v.valid_from} ({len(v.cameras)} camera(s), fingerprint {v.fingerprint()})"
            for v in document.versions
        )
    )
    cameras = [version.camera(args.camera)] if args.camera else list(version.cameras.values())
    if args.camera and cameras[0] is None:
        raise InputError(
            f"geometry {args.file}: no camera {args.camera!r} in the version of {version.valid_from}"
        )
    if args.video and len(cameras) != 1:
        raise InputError("--video shows one camera: choose it with --camera")
    base = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    for camera in cameras:
        lines = ", ".join(
            f"{line.name} {line.start}->{line.end} in={line.in_side}{' entrance' if line.entrance else ''}"
            for line in camera.lines
        )
        zones = ", ".join(f"{zone.name} ({len(zone.polygon)} points)" for zone in camera.zones)
        print(f"  camera {camera.camera_id} {camera.width}x{camera.height} (version {version.valid_from})")
        print(f"    lines: {lines or 'none'}")
        print(f"    zones: {zones or 'none'}")
        frame = video_frame(args.video, camera) if args.video else blank_frame(camera)
        out = (
            base
            if len(cameras) == 1
            else base.with_name(f"{base.stem}-{camera.camera_id}{base.suffix or '.png'}")
        )
        path = write_png(draw_geometry(frame, camera), out)
        print(
            f"    drawn over {'the first frame of ' + args.video if args.video else 'a blank frame'}: {path}"
        )
    return 0


def _put(args: argparse.Namespace, document) -> int:
    from retail_assets.analytics.geometry import put_geometry
    from retail_assets.settings import Settings

    settings = Settings.from_env()
    text = Path(args.file).read_text(encoding="utf-8")
    uri = put_geometry(settings.geometry_location, document, text)
    print(f"geometry of store {document.store_id} ({len(document.versions)} version(s)) stored at {uri}")
    return 0
