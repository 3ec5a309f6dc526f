"""Analytics: camera geometry, the counting rules, and the silver/gold transformations (SQL)."""
