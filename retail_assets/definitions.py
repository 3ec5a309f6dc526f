"""The Dagster code location: `dagster dev -m retail_assets.definitions` or workspace.yaml.

Everything it holds lives in `retail_assets/defs/`; this module only gathers it.
"""

import dagster as dg

from retail_assets.defs.assets import SOURCE_ASSETS, STORE_DAY_ASSETS
from retail_assets.defs.jobs import store_day_job
from retail_assets.defs.maintenance import (
    lakehouse_maintenance,
    maintenance_resources,
    weekly_lakehouse_maintenance,
)
from retail_assets.defs.resources import resources_from_env
from retail_assets.defs.schedules import nightly_store_rerun
from retail_assets.defs.sensors import automation_sensor, new_video_sensor

defs = dg.Definitions(
    assets=[*STORE_DAY_ASSETS, *SOURCE_ASSETS],
    jobs=[store_day_job, lakehouse_maintenance],
    sensors=[new_video_sensor, automation_sensor],
    schedules=[nightly_store_rerun, weekly_lakehouse_maintenance],
    resources={**resources_from_env(), **maintenance_resources()},
)
