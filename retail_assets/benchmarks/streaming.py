"""Streaming benchmark: NDJSON -> Pulsar and Pulsar -> bronze, each beside a naive baseline.

    python -m retail_assets.benchmarks.streaming --messages 200000

Uses the stack named by the environment (`eval "$(retail-assets stack env)"`) or, when none is
set, starts a throw-away embedded stack. Figures (messages or rows per second, wall clock):
- publish: this project's publisher (checked lines, batching, async sends, bounded queue)
  against a synchronous producer that parses each line and sends it alone, waiting for the
  acknowledgement (the one-message-at-a-time way);
- bronze: `write_bronze_partition` (Arrow batches, one commit) against reading message by
  message, `json.loads` per payload and one `pa.Table.from_pylist` overwrite.
Prints a table and, last, one JSON line. "cpu us/item" is this process's CPU time per message or
row (all its threads); "services cpu s" is what the broker and object store used meanwhile
(known only for a stack the benchmark started). The load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pulsar
import pyarrow as pa

from retail_assets.benchmarks.synthetic import DAY, STORE_DAY, environment_stack, make_lines, video_key
from retail_assets.lakehouse.bronze import ARROW_SCHEMA, partition_filter, write_bronze_partition
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.settings import Settings
from retail_assets.streaming.connection import open_client
from retail_assets.streaming.dead_letters import LocalDeadLetterSink
from retail_assets.streaming.publisher import publish_ndjson
from retail_assets.streaming.reader import RECEIVER_QUEUE_SIZE
from retail_assets.streaming.receipts import PublishReceipt
from retail_assets.streaming.schema import detection_event_schema


def bench_publish(client: pulsar.Client, topic: str, lines: list[bytes], workdir: Path) -> PublishReceipt:
    receipt = publish_ndjson(
        client,
        topic,
        lines,
        source="benchmark",
        store_day=STORE_DAY,
        run_id="bench",
        video_key=video_key(),
        dead_letters=LocalDeadLetterSink(workdir / "dead-letters.ndjson"),
    )
    if receipt.messages_sent != len(lines):
        raise RuntimeError(f"benchmark publish sent {receipt.messages_sent} of {len(lines)} lines")
    return receipt


def bench_publish_naive(client: pulsar.Client, topic: str, lines: list[bytes]) -> None:
    """One message at a time: parse, send, wait for the broker's acknowledgement, next."""
    producer = client.create_producer(topic, schema=detection_event_schema(), batching_enabled=False)
    for line in lines:
        event = json.loads(line)
        moment = datetime.fromisoformat(event["ts"])
        producer.send(
            line,
            properties={"rva.partition": STORE_DAY.key, "rva.run_id": "naive"},
            partition_key=f"{event['store_id']}/{event['camera_id']}",
            event_timestamp=int(moment.timestamp() * 1000),
        )
    producer.close()


def bench_bronze(catalog, client: pulsar.Client, receipt: PublishReceipt, table_id: str) -> int:
    commit = write_bronze_partition(
        catalog,
        client,
        [receipt],
        store_day=STORE_DAY,
        run_id="bench",
        identifier=table_id,
    )
    return commit.rows


NAIVE_READER_STALLS: list[int] = []  # rows read when the naive reader had to be reopened


def bench_bronze_naive(
    catalog, client: pulsar.Client, receipt: PublishReceipt, table_id: str, limit: int
) -> None:
    """Message by message with json.loads, all rows in one Python list, one overwrite."""
    table = catalog.load_table(table_id)

    def open_reader(start, inclusive: bool):
        return client.create_reader(
            receipt.topic,
            start,
            start_message_id_inclusive=inclusive,
            receiver_queue_size=RECEIVER_QUEUE_SIZE,
        )

    reader = open_reader(pulsar.MessageId.deserialize(bytes.fromhex(receipt.first_message_id or "")), True)
    now = datetime.now(UTC)
    rows = []
    last_id = None
    while len(rows) < limit:
        try:
            msg = reader.read_next(1_000)
        except pulsar.Timeout:
            # Pulsar Lite 0.2.0 sometimes stops delivering to a reader; resume after the last one.
            NAIVE_READER_STALLS.append(len(rows))
            reader.close()
            reader = open_reader(last_id, False)
            continue
        last_id = msg.message_id()
        event = json.loads(msg.data())
        rows.append(
            {
                "event_id": event["event_id"],
                "store_id": event["store_id"],
                "camera_id": event["camera_id"],
                "event_ts": datetime.fromisoformat(event["ts"]),
                "event_date": DAY,
                "payload": msg.data().decode(),
                "pulsar_message_id": msg.message_id().serialize().hex(),
                "pulsar_publish_ts": datetime.fromtimestamp(msg.publish_timestamp() / 1000, UTC),
                "producer_name": msg.producer_name(),
                "video_key": receipt.video_key,
                "ingested_at": now,
                "dagster_run_id": "naive",
                "source_partition": STORE_DAY.key,
            }
        )
    reader.close()
    table.overwrite(
        pa.Table.from_pylist(rows, schema=ARROW_SCHEMA), overwrite_filter=partition_filter(STORE_DAY)
    )


class _Clock:
    """Wall time and CPU seconds (this process; and the broker + object store when known)."""

    def __init__(self, service_pids: list[int]) -> None:
        self._procs = [psutil.Process()] + [psutil.Process(pid) for pid in service_pids]

    def _cpu(self) -> tuple[float, float]:
        own = self._procs[0].cpu_times()
        services = sum(p.cpu_times().user + p.cpu_times().system for p in self._procs[1:])
        return own.user + own.system, services

    def measure(self, fn, *args):
        wall, (own, services) = time.perf_counter(), self._cpu()
        result = fn(*args)
        own_after, services_after = self._cpu()
        return result, time.perf_counter() - wall, own_after - own, services_after - services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000, help="NDJSON lines to publish and write")
    parser.add_argument(
        "--baseline-messages",
        type=int,
        default=20_000,
        help="lines for the naive publisher and the naive bronze write (they are slow; rates are comparable)",
    )
    parser.add_argument("--catalog", default="lakehouse", help="Iceberg catalog name (pyiceberg settings)")
    args = parser.parse_args(argv)

    lines = make_lines(args.messages)
    baseline_lines = lines[: args.baseline_messages]
    run = uuid.uuid4().hex[:8]
    with environment_stack() as (where, service_pids), tempfile.TemporaryDirectory() as tmp:
        clock = _Clock(service_pids)
        client = open_client(Settings.from_env().pulsar_service_url)
        catalog = open_catalog(args.catalog)
        topic = f"persistent://retail/metadata/bench-{run}"
        table_id = f"rva.bench_bronze_{run}"
        try:
            _, naive_publish_s, *naive_publish_cpu = clock.measure(
                bench_publish_naive, client, f"{topic}-naive", baseline_lines
            )
            receipt, publish_s, *publish_cpu = clock.measure(bench_publish, client, topic, lines, Path(tmp))
            rows, bronze_s, *bronze_cpu = clock.measure(bench_bronze, catalog, client, receipt, table_id)
            _, naive_bronze_s, *naive_bronze_cpu = clock.measure(
                bench_bronze_naive, catalog, client, receipt, table_id, len(baseline_lines)
            )
            catalog.drop_table(table_id)
        finally:
            client.close()
        load = os.getloadavg()[0]

    def rate(items: int, seconds: float) -> int:
        return round(items / seconds) if seconds > 0 else 0

    phases = [
        ("NDJSON -> Pulsar", "batched async publisher", len(lines), publish_s, publish_cpu),
        ("", "naive: sync, one at a time", len(baseline_lines), naive_publish_s, naive_publish_cpu),
        ("Pulsar -> bronze", "write_bronze_partition", rows, bronze_s, bronze_cpu),
        ("", "naive: per message, one overwrite", len(baseline_lines), naive_bronze_s, naive_bronze_cpu),
    ]
    results = {
        "messages": len(lines),
        "baseline_messages": len(baseline_lines),
        "publish_msgs_per_s": rate(len(lines), publish_s),
        "publish_naive_msgs_per_s": rate(len(baseline_lines), naive_publish_s),
        "bronze_rows_per_s": rate(rows, bronze_s),
        "bronze_naive_rows_per_s": rate(len(baseline_lines), naive_bronze_s),
        "publish_cpu_us_per_msg": round(publish_cpu[0] / len(lines) * 1e6, 1),
        "publish_naive_cpu_us_per_msg": round(naive_publish_cpu[0] / len(baseline_lines) * 1e6, 1),
        "bronze_cpu_us_per_row": round(bronze_cpu[0] / rows * 1e6, 1),
        "bronze_naive_cpu_us_per_row": round(naive_bronze_cpu[0] / len(baseline_lines) * 1e6, 1),
        "line_bytes": round(sum(map(len, lines)) / len(lines)),
        "catalog": args.catalog,
        "stack": where,
        "cpus": os.cpu_count(),
        "load_average_1m": round(load, 2),
        "naive_reader_stalls": len(NAIVE_READER_STALLS),
        "python": platform.python_version(),
    }
    results["publish_speedup"] = round(
        results["publish_msgs_per_s"] / max(results["publish_naive_msgs_per_s"], 1), 1
    )
    results["bronze_speedup"] = round(
        results["bronze_rows_per_s"] / max(results["bronze_naive_rows_per_s"], 1), 1
    )
    print(
        f"{'step':17} {'implementation':34} {'items':>8} {'seconds':>8} {'per second':>11} "
        f"{'cpu us/item':>11} {'services cpu s':>14}"
    )
    for step, name, items, seconds, (own_cpu, services_cpu) in phases:
        services = f"{services_cpu:.2f}" if service_pids else "-"
        print(
            f"{step:17} {name:34} {items:>8} {seconds:>8.2f} {rate(items, seconds):>11,} "
            f"{own_cpu / items * 1e6:>11.1f} {services:>14}"
        )
    if NAIVE_READER_STALLS:
        print(f"the naive reader stalled {len(NAIVE_READER_STALLS)} time(s); each cost it a 1 s wait")
    print(
        f"speed-up: publish x{results['publish_speedup']}, bronze x{results['bronze_speedup']}; "
        f"{where}, {os.cpu_count()} CPUs, load average {load:.1f}"
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
