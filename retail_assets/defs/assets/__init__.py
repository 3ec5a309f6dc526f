"""The store-day asset graph: raw_videos -> detections -> pulsar_events -> bronze_raw -> silver
(silver_tracks, silver_occupancy_minutely; camera_geometry feeds it) -> gold (five tables).

Every asset key lives under the `rva` prefix; groups follow the data's home: `videos` (S3),
`events` (Pulsar), `lakehouse` (Iceberg bronze), `analytics` (Iceberg silver and gold).
"""

from retail_assets.defs.assets.analytics import camera_geometry, gold, silver
from retail_assets.defs.assets.bronze import bronze_raw
from retail_assets.defs.assets.detections import detections
from retail_assets.defs.assets.events import pulsar_events
from retail_assets.defs.assets.videos import raw_videos

STORE_DAY_ASSETS = (raw_videos, detections, pulsar_events, bronze_raw, silver, gold)
# Observed, not materialized: outside the store-day job, read by silver.
SOURCE_ASSETS = (camera_geometry,)
