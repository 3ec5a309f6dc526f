#!/bin/sh
# One-shot: create the pipeline's buckets in MinIO (idempotent).
set -eu
mc alias set rva "http://minio:9000" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
for bucket in "$RVA_VIDEOS_BUCKET" "$RVA_DETECTIONS_BUCKET" "$RVA_WAREHOUSE_BUCKET"; do
  mc mb --ignore-existing "rva/$bucket"
done
mc ls rva
