"""`retail-assets demo`: the real pipeline on the embedded stack, with a summary.

Uploads OpenCV's sample video (PETS 2009, people walking) as `<store>/<camera>/<date>/090000.avi`
and the shipped camera geometry of that video (`analytics/geometries/store-001.yaml`: two counting
lines across the walkway, one zone) as the store's geometry, registers the store as a `stores`
partition, materializes the store-day's assets in process (the same definitions `dagster dev`
serves, recorded in DAGSTER_HOME so `make ui` shows the run) and prints videos, frames,
detections, tracks, messages, bronze rows and the Iceberg snapshot, then the store-day's answers:
visitors in/out per line, peak occupancy, median dwell per zone, falls, and where the pictures
are. Exits 1 when bronze does not hold exactly the NDJSON lines.

Runs against the stack in the state directory (`retail-assets stack up` first; `make demo` does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

SAMPLE_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# The store whose geometry (lines and zones drawn for the sample video's camera) the package ships.
SAMPLE_GEOMETRY_STORE = "store-001"
DEFAULT_MAX_FRAMES = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help="stack state directory (default: ./.retail)")
    parser.add_argument(
        "--video", type=Path, default=SAMPLE_VIDEO, help="video to upload (default: %(default)s)"
    )
    parser.add_argument("--store", default="store-001", help="store id (default: %(default)s)")
    parser.add_argument("--camera", default="cam-1", help="camera id (default: %(default)s)")
    parser.add_argument("--date", default=None, help="store-day YYYY-MM-DD (default: today, UTC)")
    parser.add_argument(
        "--max-frames",
        type=int,
        default=DEFAULT_MAX_FRAMES,
        help="frames to infer per video; 0 = the whole video (default: %(default)s, two to three minutes on 2 CPU cores)",
    )
    parser.add_argument("--force", action="store_true", help="re-infer even when the NDJSON is current")
    parser.add_argument("--verbose", action="store_true", help="show Dagster's step logs")


def run(args: argparse.Namespace) -> int:
    from retail_assets.errors import InputError
    from retail_assets.stack import EmbeddedStack

    if not args.video.exists():
        print(
            f"retail-assets demo: sample video {args.video} not found. Install it with "
            "`sudo apt-get install opencv-doc` (Debian/Ubuntu ship vtest.avi in it), or pass --video PATH.",
            file=sys.stderr,
        )
        return 2
    day = date.fromisoformat(args.date) if args.date else datetime.now(UTC).date()
    if args.max_frames < 0:
        raise InputError(f"--max-frames must be 0 (whole video) or positive, got {args.max_frames}")
    os.environ.update(EmbeddedStack(args.dir).env())
    return _run_pipeline(args, day)


def _run_pipeline(args: argparse.Namespace, day: date) -> int:
    import dagster as dg

    from retail_assets.contracts.ids import check_id
    from retail_assets.contracts.store_day import StoreDay
    from retail_assets.defs.assets import STORE_DAY_ASSETS
    from retail_assets.defs.assets.detections import NIGHTLY_SAMPLE_FPS
    from retail_assets.defs.names import DETECTIONS_OP
    from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
    from retail_assets.defs.resources import resources_from_env
    from retail_assets.detections.ndjson_store import StoreDayDetections
    from retail_assets.lakehouse.bronze import bronze_table_identifier, partition_filter
    from retail_assets.lakehouse.catalog import open_catalog
    from retail_assets.objectstore import make_s3_client
    from retail_assets.settings import Settings

    settings = Settings.from_env()
    store, camera = check_id(args.store, "--store"), check_id(args.camera, "--camera")
    store_day = StoreDay(day, store)
    partition = store_day.key
    key = f"{store}/{camera}/{day.isoformat()}/090000{args.video.suffix.lower() or '.avi'}"
    resources = resources_from_env()
    s3 = make_s3_client(settings.s3_endpoint_url, settings.s3_region)
    # The pipeline's identity may only read the videos bucket: the demo plays the camera and
    # uploads with the stack's admin identity; everything after the upload runs as the pipeline.
    uploader = make_s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        os.environ.get("RVA_STACK_ADMIN_ACCESS_KEY"),
        os.environ.get("RVA_STACK_ADMIN_SECRET_KEY"),
    )
    videos_bucket = settings.videos_bucket
    started = time.perf_counter()
    uploader.upload_file(str(args.video), videos_bucket, key)
    print(f"uploaded   {args.video} -> s3://{videos_bucket}/{key}")
    geometry_uri = _upload_geometry(settings.geometry_location, store, camera, uploader)
    print(f"uploaded   the sample camera's lines and zones -> {geometry_uri}")

    instance = dg.DagsterInstance.get()
    if store not in instance.get_dynamic_partitions(STORES_PARTITIONS_NAME):
        instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store])
        print(f"registered store {store} as a `stores` partition")
    detections_config: dict[str, Any] = {"force": args.force}
    if args.max_frames:
        detections_config["max_frames"] = args.max_frames
    run_config: dict[str, Any] = {"ops": {DETECTIONS_OP: {"config": detections_config}}}
    if not args.verbose:
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    frames_note = f"{NIGHTLY_SAMPLE_FPS:g} frames a second"
    if args.max_frames:
        frames_note += f" of the first {args.max_frames} frames"
    print(f"materializing partition {partition} ({frames_note} of each video) ...", flush=True)
    result = dg.materialize(
        STORE_DAY_ASSETS,
        partition_key=partition,
        instance=instance,
        resources=resources,
        run_config=run_config,
        raise_on_error=False,
    )
    if not result.success:
        print(f"run {result.run_id} failed; `make ui` shows its logs", file=sys.stderr)
        return 1

    detected: StoreDayDetections = result.output_for_node(DETECTIONS_OP)
    ndjson_lines = frames = tracks = 0
    for entry in detected.current:
        head = s3.head_object(Bucket=entry.bucket, Key=entry.ndjson_key)["Metadata"]
        frames += int(head.get("frames-processed", 0))
        tracks += int(head.get("tracks", 0))
        body = s3.get_object(Bucket=entry.bucket, Key=entry.ndjson_key)["Body"]
        ndjson_lines += sum(1 for _ in body.iter_lines())
    meta = {key.path[-1]: _metadata(result, key) for asset in STORE_DAY_ASSETS for key in asset.keys}
    table = open_catalog(settings.catalog_name).load_table(bronze_table_identifier(settings.namespace))
    bronze_rows = (
        table.scan(row_filter=partition_filter(store_day), selected_fields=("event_id",)).to_arrow().num_rows
    )
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    det = meta["detections"]

    print()
    print(f"partition          {partition}   (run {result.run_id})")
    print(f"videos             {meta['raw_videos']['videos']} ({det['videos_inferred']} inferred now, "
          f"{det['videos_skipped_current']} already current, {det['videos_failed']} failed)")  # fmt: skip
    print(f"frames             {frames} processed ({frames_note} of each video)")
    print(f"detections         {ndjson_lines} NDJSON lines")
    print(f"tracks             {tracks} distinct tracks")
    if det["videos_inferred"]:
        print(f"speed              {det['achieved_fps']} frames/s with {det['model']}")
    for entry in detected.current:
        print(f"ndjson             {entry.ndjson_uri}")
    print(f"messages           {meta['pulsar_events']['messages']} on {meta['pulsar_events']['topic']} "
          f"({meta['pulsar_events']['messages_published_this_run']} published by this run)")  # fmt: skip
    print(f"bronze rows        {bronze_rows} in {meta['bronze_raw']['table']}")
    print(f"iceberg snapshot   {meta['bronze_raw']['snapshot_id']}")
    print(f"checks             {sum(checks.values())}/{len(checks)} passed"
          + "".join(f"\n  FAILED {name}" for name, ok in checks.items() if not ok))  # fmt: skip
    _print_answers(store_day, meta)
    print(f"elapsed            {time.perf_counter() - started:.1f} s")
    if bronze_rows != ndjson_lines:
        print(
            f"MISMATCH: bronze holds {bronze_rows} rows but the NDJSON has {ndjson_lines} lines",
            file=sys.stderr,
        )
        return 1
    print(f"OK: bronze rows == NDJSON lines ({bronze_rows})")
    return 0


def _upload_geometry(location: str, store: str, camera: str, client: Any) -> str:
    """The shipped geometry of the sample camera, named for the demo's store and camera."""
    from retail_assets.analytics.geometry import parse_geometry, put_geometry, shipped_geometry_text

    shipped = shipped_geometry_text(SAMPLE_GEOMETRY_STORE)
    assert shipped is not None, "the package ships the demo store's geometry"
    # The document describes vtest.avi's camera; the demo may call the store and camera otherwise.
    text = shipped.replace(f"store_id: {SAMPLE_GEOMETRY_STORE}", f"store_id: {store}")
    text = text.replace("\n      cam-1:\n", f"\n      {camera}:\n")
    return put_geometry(
        location, parse_geometry(text, f"shipped geometry of {SAMPLE_GEOMETRY_STORE}"), text, client
    )


def _print_answers(store_day: Any, meta: dict[str, dict[str, Any]]) -> None:
    """The store-day's answers, read back from the gold tables."""
    import pyarrow.compute as pc

    from retail_assets.lakehouse.analytics import read_rows
    from retail_assets.lakehouse.catalog import open_catalog
    from retail_assets.settings import Settings

    settings = Settings.from_env()
    catalog = open_catalog(settings.catalog_name)

    def rows(name: str) -> Any:
        return read_rows(catalog, name, store_day, namespace=settings.namespace)

    footfall = (
        rows("gold_footfall_hourly")
        .group_by(["camera_id", "line"])
        .aggregate([("people_in", "sum"), ("people_out", "sum")])
    )
    daily = rows("gold_store_daily").to_pylist()
    alerts = rows("gold_fall_alerts").sort_by("start_ts").to_pylist()
    print()
    print(f"answers for {store_day.key} (gold tables, `retail-assets query` reads them too)")
    for line in footfall.sort_by([("camera_id", "ascending"), ("line", "ascending")]).to_pylist():
        print(
            f"  line {line['camera_id']}/{line['line']:<12} in {line['people_in_sum']:>4}   out {line['people_out_sum']:>4}"
        )
    if not footfall.num_rows:
        print("  lines              no crossings")
    if daily:
        day = daily[0]
        peak_at = day["peak_minute"].strftime("%H:%M UTC") if day["peak_minute"] else "-"
        print(f"  visitors           {day['visitors_in']} in, {day['visitors_out']} out (entrance lines)")
        print(f"  peak occupancy     {day['peak_occupancy']} people at {peak_at}")
        for zone in day["median_dwell"] or []:
            print(f"  median dwell       {zone['camera_id']}/{zone['zone']}: {zone['median_seconds']:.1f} s "
                  f"over {zone['visits']} visits")  # fmt: skip
        print(f"  tracks             {day['tracks']}")
    print(f"  falls              {len(alerts)}")
    for alert in alerts:
        print(
            f"    {alert['start_ts']:%H:%M:%S} {alert['track_uid']} {alert['seconds']:.1f} s -> {alert['frame_uri']}"
        )
    pictures = meta.get("gold_store_daily", {}).get("pictures") or []
    for uri in pictures:
        print(f"  picture            {uri}")
    tracks = rows("silver_tracks")
    print(
        f"  silver tracks      {tracks.num_rows} rows, {int(pc.sum(pc.list_value_length(tracks['crossings'])).as_py() or 0)} line crossings"
    )


def _metadata(result: Any, asset_key: Any) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        if event.asset_key == asset_key:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}
