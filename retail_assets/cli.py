"""The `retail-assets` command line. Subcommands load lazily so `stack` never imports torch."""

from __future__ import annotations

import argparse
import importlib
import sys

from retail_assets.errors import RetailAssetsError

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "stack": ("retail_assets.stack.cli", "manage the embedded SeaweedFS + Apache Pulsar + Iceberg stack"),
    "ingest": ("retail_assets.ingest", "video -> tracked detections as NDJSON (YOLOv8 + DeepSort)"),
    "models": (
        "retail_assets.vision.models_cli",
        "make the OpenVINO exports runs use (needs the export extra)",
    ),
    "eval": ("retail_assets.vision.evaluation_cli", "score tracking against MOTChallenge ground truth"),
    "publish": ("retail_assets.streaming.cli", "publish NDJSON detection events to Pulsar"),
    "bench": ("retail_assets.benchmarks.cli", "benchmark the pipelines side by side"),
    "geometry": ("retail_assets.analytics.cli", "check, draw and store a store's camera lines and zones"),
    "query": ("retail_assets.lakehouse.query", "SQL (DuckDB) over the bronze, silver and gold tables"),
    "demo": ("retail_assets.defs.demo", "run the pipeline end to end on the embedded stack"),
    "secrets": ("retail_assets.secrets_cli", "write the production stack's .env with random secrets"),
    "maintain": ("retail_assets.lakehouse.maintenance_cli", "table maintenance and raw-data retention"),
    "soak": ("retail_assets.benchmarks.soak", "backfill store-days under injected faults; check every row"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(prog="retail-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)  # type: ignore[union-attr]
    except RetailAssetsError as exc:
        print(f"retail-assets {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
