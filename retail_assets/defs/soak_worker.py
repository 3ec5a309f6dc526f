"""The soak's run worker: one run of the store-day graph in a process of its own, so that the soak
(`retail_assets/benchmarks/soak.py`) can SIGKILL it at any moment, as a run container dies.

`python -m retail_assets.defs.soak_worker <partition key> <max frames>`; settings from the
environment (the soak's embedded stack). Exits 0 when the run succeeded, 1 when it failed.
"""

import sys

import dagster as dg

from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.assets import STORE_DAY_ASSETS
from retail_assets.defs.names import DETECTIONS_OP
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.defs.resources import resources_from_env


def main(argv: list[str]) -> int:
    partition, max_frames = argv
    store_day = StoreDay.parse(partition)
    instance = dg.DagsterInstance.get()
    _fail_dead_runs(instance)
    if store_day.store_id not in instance.get_dynamic_partitions(STORES_PARTITIONS_NAME):
        instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [store_day.store_id])
    result = dg.materialize(
        STORE_DAY_ASSETS,
        partition_key=store_day.key,
        instance=instance,
        resources=resources_from_env(),
        run_config={
            "ops": {DETECTIONS_OP: {"config": {"max_frames": int(max_frames)}}},
            "loggers": {"console": {"config": {"log_level": "ERROR"}}},
        },
        raise_on_error=False,
        tags={"rva/trigger": "soak"},
    )
    print(f"run {result.run_id} {'succeeded' if result.success else 'failed'}", flush=True)
    return 0 if result.success else 1


def _fail_dead_runs(instance: dg.DagsterInstance) -> None:
    """The soak runs one run at a time, so a soak run still marked as started belongs to a worker
    that was killed: mark it failed and free the pool slots it held (`inference`, `bronze`), as
    the daemon's run monitoring does in production (`free_slots_after_run_end_seconds`)."""
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={"rva/trigger": "soak"},
        )
    )
    for run in unfinished:
        instance.report_run_failed(run)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
