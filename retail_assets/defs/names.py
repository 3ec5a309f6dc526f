"""Names more than one module of the Dagster layer refers to, defined once."""

from __future__ import annotations

import dagster as dg

KEY_PREFIX = "rva"
RAW_VIDEOS = dg.AssetKey([KEY_PREFIX, "raw_videos"])
DETECTIONS = dg.AssetKey([KEY_PREFIX, "detections"])
PULSAR_EVENTS = dg.AssetKey([KEY_PREFIX, "pulsar_events"])
BRONZE_RAW = dg.AssetKey([KEY_PREFIX, "bronze_raw"])
CAMERA_GEOMETRY = dg.AssetKey([KEY_PREFIX, "camera_geometry"])
SILVER_TRACKS = dg.AssetKey([KEY_PREFIX, "silver_tracks"])
SILVER_OCCUPANCY = dg.AssetKey([KEY_PREFIX, "silver_occupancy_minutely"])
GOLD_FOOTFALL = dg.AssetKey([KEY_PREFIX, "gold_footfall_hourly"])
GOLD_OCCUPANCY = dg.AssetKey([KEY_PREFIX, "gold_occupancy_minutely"])
GOLD_DWELL = dg.AssetKey([KEY_PREFIX, "gold_dwell_hourly"])
GOLD_FALL_ALERTS = dg.AssetKey([KEY_PREFIX, "gold_fall_alerts"])
GOLD_STORE_DAILY = dg.AssetKey([KEY_PREFIX, "gold_store_daily"])
# Metadata of a bronze materialization: the videos it rewrote (null = the whole store-day).
BRONZE_VIDEOS_METADATA = "videos"
# The op of an asset is named after its key path; run config addresses a step by it.
RAW_VIDEOS_OP = "__".join(RAW_VIDEOS.path)
DETECTIONS_OP = "__".join(DETECTIONS.path)
