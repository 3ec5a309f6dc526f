"""The Dagster layer, and only it: assets, checks, jobs, sensors, schedules, resources and
partitions that wire the plain libraries (`inventory`, `vision`, `detections`, `streaming`,
`lakehouse`) into the store-day graph. `retail_assets.definitions` builds the code location."""
