"""The Dagster code location: `dagster dev -m retail_assets.definitions` or workspace.yaml."""

import dagster as dg

from retail_assets.resources import resources_from_env

defs = dg.Definitions(resources=resources_from_env())
