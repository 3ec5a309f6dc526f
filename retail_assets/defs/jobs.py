"""The store-day job and the backfill policy every asset of it shares."""

from __future__ import annotations

import dagster as dg

from retail_assets.defs.names import KEY_PREFIX

# Each store-day is an independent unit of work (its own NDJSON objects, Pulsar receipts and
# Iceberg partition overwrite), so a backfill runs one partition per run: a broken store-day
# fails alone, runs retry alone, and the `inference` pool spreads runs over the workers.
PER_PARTITION_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

store_day_job = dg.define_asset_job(
    "store_day_job",
    # Every materializable asset (the geometry source is observed, not part of a store-day run);
    # the job takes their store-day partitions.
    selection=dg.AssetSelection.key_prefixes([KEY_PREFIX]).materializable(),
    description="Everything for one store-day: video manifest, inference, publishing, bronze, silver, gold.",
    # Every run of this job may run inference: the production run queue bounds these runs by tag.
    tags={"retail/stage": "inference"},
)
