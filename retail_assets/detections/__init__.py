"""NDJSON detection objects in the detections bucket: one per video and model, made by the vision
pipeline, kept while current. Dagster-free; the `detections` asset wires it."""
