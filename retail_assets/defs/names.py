"""Names more than one module of the Dagster layer refers to, defined once."""

from __future__ import annotations

import dagster as dg

KEY_PREFIX = "rva"
RAW_VIDEOS = dg.AssetKey([KEY_PREFIX, "raw_videos"])
DETECTIONS = dg.AssetKey([KEY_PREFIX, "detections"])
PULSAR_EVENTS = dg.AssetKey([KEY_PREFIX, "pulsar_events"])
BRONZE_RAW = dg.AssetKey([KEY_PREFIX, "bronze_raw"])
# The op of an asset is named after its key path; run config addresses a step by it.
RAW_VIDEOS_OP = "__".join(RAW_VIDEOS.path)
DETECTIONS_OP = "__".join(DETECTIONS.path)
