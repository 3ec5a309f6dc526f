"""`retail-assets models export`: make every OpenVINO export the default pipeline runs from.

Run on an install with the `export` extra (torch, ultralytics, nncf). A runtime install, which
has none of them, runs `ingest` and the Dagster graph from the cache this fills: the production
image's first stage runs it and its second stage copies the cache (`RVA_MODEL_CACHE`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retail_assets.vision.config import PipelineConfig
from retail_assets.vision.exported_models import CACHE_ENV, model_cache_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from retail_assets.vision.cli_options import add_weights_arguments

    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="export the detector and the embedder to OpenVINO (needs the export extra)",
        description="Export the detector and the embedder to OpenVINO into the model cache, "
        "unless it has them already. Needs the export extra; runs without it use the cache.",
    )
    add_weights_arguments(export)
    export.add_argument(
        "--cache",
        type=Path,
        help=f"model cache directory to fill (default ${CACHE_ENV}, else {model_cache_dir()})",
    )


def run(args: argparse.Namespace) -> int:
    from retail_assets.vision.backends import make_exports

    config = PipelineConfig(model=args.model, imgsz=args.imgsz, precision=args.precision)
    cache = args.cache.expanduser() if args.cache else None
    for role, export in make_exports(config, cache).items():
        state = "exported now" if export.exported_now else "already in the cache"
        print(f"{role}: {export.directory} ({state})")
    if cache is not None:
        print(f"runs use these exports with {CACHE_ENV}={cache.resolve()}")
    return 0
