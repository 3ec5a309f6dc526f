"""Pictures of a store-day's answers (heatmaps of foot positions, hourly footfall), as PNG bytes."""
