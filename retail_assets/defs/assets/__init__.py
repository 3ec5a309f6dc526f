"""The store-day asset graph: raw_videos -> detections -> pulsar_events -> bronze_raw.

Every asset key lives under the `rva` prefix; groups follow the data's home: `videos` (S3),
`events` (Pulsar), `lakehouse` (Iceberg).
"""

from retail_assets.defs.assets.bronze import bronze_raw
from retail_assets.defs.assets.detections import detections
from retail_assets.defs.assets.events import pulsar_events
from retail_assets.defs.assets.videos import raw_videos

STORE_DAY_ASSETS = (raw_videos, detections, pulsar_events, bronze_raw)
