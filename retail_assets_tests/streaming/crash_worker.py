"""A publish, bronze or silver write in its own process, so that tests can kill it with SIGKILL mid-run.

Run as `python -m retail_assets_tests.streaming.crash_worker publish|bronze|silver ...`; settings come from the
environment the test exports (the test run's stack). After each chunk/batch it prints
`progress <n>` and then pauses briefly: the pause is a test-only hook that keeps the process
inside the run long enough for the test to kill it at a known point.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_S = float(os.environ.get("RVA_CRASH_WORKER_PAUSE_S", "0.5"))


def _progress(n: int) -> None:
    print(f"progress {n}", flush=True)
    time.sleep(PAUSE_S)


def main(argv: list[str]) -> int:
    from retail_assets.contracts.store_day import StoreDay
    from retail_assets.objectstore import make_s3_client
    from retail_assets.settings import Settings
    from retail_assets.streaming.connection import open_client
    from retail_assets.streaming.receipts import ReceiptStore

    settings = Settings.from_env()
    s3 = make_s3_client(settings.s3_endpoint_url, settings.s3_region)
    client = open_client(settings.pulsar_service_url)
    command, *rest = argv
    if command == "publish":
        from retail_assets.streaming.publish_video import publish_video

        topic, uri, partition, video, run_id, prefix = rest
        publish_video(
            client,
            s3,
            topic,
            uri,
            store_day=StoreDay.parse(partition),
            run_id=run_id,
            video_key=video,
            receipts=ReceiptStore(s3, "detections", prefix),
            max_pending=500,  # a small queue: the process is killed with messages in flight
            on_progress=_progress,
        )
    elif command == "bronze":
        from retail_assets.lakehouse.bronze import write_bronze_partition
        from retail_assets.lakehouse.catalog import open_catalog

        catalog_name, table_id, partition, run_id, prefix, batch_size = rest
        store_day = StoreDay.parse(partition)
        write_bronze_partition(
            open_catalog(catalog_name),
            client,
            ReceiptStore(s3, "detections", prefix).list_partition(store_day),
            store_day=store_day,
            run_id=run_id,
            identifier=table_id,
            batch_size=int(batch_size),
            on_batch=_progress,
        )
    elif command == "bronze-videos":
        from retail_assets.lakehouse.bronze import write_bronze_videos
        from retail_assets.lakehouse.catalog import open_catalog

        catalog_name, table_id, partition, run_id, prefix, batch_size, videos = rest
        store_day = StoreDay.parse(partition)
        store = ReceiptStore(s3, "detections", prefix)
        write_bronze_videos(
            open_catalog(catalog_name),
            client,
            [store.get(store_day, video) for video in videos.split(",")],
            store_day=store_day,
            run_id=run_id,
            identifier=table_id,
            batch_size=int(batch_size),
            on_batch=_progress,
        )
    elif command == "silver":
        from retail_assets.lakehouse.analytics import write_silver
        from retail_assets.lakehouse.catalog import open_catalog
        from retail_assets_tests.lakehouse.walkers import silver_of_videos

        catalog_name, namespace, partition, run_id, videos = rest
        store_day = StoreDay.parse(partition)
        write_silver(
            open_catalog(catalog_name),
            silver_of_videos(store_day, int(videos)),
            store_day=store_day,
            scope=None,
            run_id=run_id,
            namespace=namespace,
            on_batch=_progress,
        )
    else:
        raise SystemExit(f"unknown command {command!r}")
    print("done", flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
