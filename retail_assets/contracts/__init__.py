"""Data contracts shared by every stage: the NDJSON v1 detection event and the S3 key layout."""
