"""The fault soak, short: two store-days of real video through the Dagster graph while the run
worker, the broker and the object store are each SIGKILLed once at a random moment."""

from __future__ import annotations

from retail_assets.benchmarks.soak import FAULT_KINDS, SoakConfig, format_result, run_soak


def test_a_short_soak_injects_every_kind_of_fault_and_loses_or_duplicates_nothing(tmp_path) -> None:
    import os

    # What points a process at a stack: the soak must give the caller's back.
    names = ("AWS_ENDPOINT_URL_S3", "PULSAR_SERVICE_URL", "DAGSTER_HOME", "PYICEBERG_CATALOG__LAKEHOUSE__URI")
    environment = {name: os.environ.get(name) for name in names}
    config = SoakConfig(days=2, videos_per_day=1, faults=3, seed=11, fault_gap_s=(2.0, 6.0))
    result = run_soak(config, tmp_path, log=lambda line: None)
    report = format_result(result)
    assert result.faults == dict.fromkeys(FAULT_KINDS, 1), report
    assert result.reruns >= 1, report  # the killed run worker's run was launched again
    assert len(result.partitions) == 2
    for partition in result.partitions:
        assert partition.ndjson_lines > 0 and partition.bronze_rows == partition.ndjson_lines, report
        assert partition.distinct_event_ids == partition.bronze_rows, report
        assert partition.receipts >= 1 and partition.receipts_incomplete == 0, report
    assert (result.lost, result.duplicated) == (0, 0), report
    assert result.maintenance_rows_unchanged and result.ok, report
    assert "lost                0" in report and "duplicated          0" in report
    assert {name: os.environ.get(name) for name in names} == environment
