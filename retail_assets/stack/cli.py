"""`retail-assets stack up|down|status|env`."""

from __future__ import annotations

import argparse
import shlex
import sys

from retail_assets.stack.services import EmbeddedStack, StackError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help="state directory (default: $RVA_STACK_DIR or ./.retail)")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser(
        "up", help="start SeaweedFS and Apache Pulsar, create buckets, catalog, tenant and namespace"
    )
    up.add_argument(
        "--with",
        dest="with_services",
        action="append",
        choices=["flink"],
        default=[],
        help="also start a local Flink and submit infrastructure/flink/bronze_ingest.sql",
    )
    down = sub.add_parser("down", help="stop the processes this stack started; data is kept")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    sub.add_parser("status", help="each service, its endpoint, pid and health")
    env = sub.add_parser(
        "env", help="print `export NAME=value` lines for a shell, dagster dev or other tools"
    )
    env.add_argument(
        "--redact", action="store_true", help="print secret values as *** (to paste into a report or a chat)"
    )


def is_secret_setting(name: str) -> bool:
    """Whether the variable `name` holds a secret (a secret key, a REST credential, a token)."""
    return any(word in name.upper() for word in ("SECRET", "CREDENTIAL", "TOKEN", "PASSWORD"))


def run(args: argparse.Namespace) -> int:
    stack = EmbeddedStack(args.dir)
    try:
        if args.action == "up":
            for line in stack.up(with_flink="flink" in args.with_services):
                print(line)
            print(f'state in {stack.root}; load settings with: eval "$(retail-assets stack env)"')
        elif args.action == "down":
            for line in stack.down(purge=args.purge):
                print(line)
        elif args.action == "status":
            rows = stack.status()
            for row in rows:
                health = "healthy" if row.healthy else "DOWN"
                pid = row.pid if row.pid is not None else "-"
                print(f"{row.name:36} {health:8} pid {pid!s:8} {row.endpoint}  {row.detail}")
            return 0 if all(r.healthy for r in rows) else 1
        elif args.action == "env":
            for name, value in stack.env().items():
                if args.redact and is_secret_setting(name):
                    value = "***"
                print(f"export {name}={shlex.quote(value)}")
    except StackError as exc:
        print(f"retail-assets stack {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
