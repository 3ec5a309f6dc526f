"""The Dagster code location: `dagster dev -m retail_assets.definitions` or workspace.yaml."""

import dagster as dg

from retail_assets.assets import store_day_job
from retail_assets.assets.bronze import bronze_raw
from retail_assets.assets.detections import detections
from retail_assets.assets.events import pulsar_events
from retail_assets.assets.videos import raw_videos
from retail_assets.resources import resources_from_env
from retail_assets.schedules import nightly_store_rerun
from retail_assets.sensors import new_video_sensor

defs = dg.Definitions(
    assets=[raw_videos, detections, pulsar_events, bronze_raw],
    jobs=[store_day_job],
    sensors=[new_video_sensor],
    schedules=[nightly_store_rerun],
    resources=resources_from_env(),
)
