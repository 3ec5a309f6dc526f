#!/bin/sh
# One-shot, idempotent: the pipeline's buckets, and the pipeline's own MinIO user limited by
# pipeline-policy.json. The root credentials stay here and in MinIO; everything else uses the
# pipeline user. Re-running it with a new RVA_PIPELINE_SECRET_KEY rotates that secret.
# Secrets are never echoed: mc is given them as arguments only inside this container.
set -eu
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is empty (make secrets writes .env)}"
: "${RVA_PIPELINE_SECRET_KEY:?RVA_PIPELINE_SECRET_KEY is empty (make secrets writes .env)}"
if [ "$RVA_PIPELINE_ACCESS_KEY" = "$MINIO_ROOT_USER" ]; then
  echo "RVA_PIPELINE_ACCESS_KEY must differ from MINIO_ROOT_USER" >&2
  exit 1
fi

mc alias set rva "http://minio:9000" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in "$RVA_VIDEOS_BUCKET" "$RVA_DETECTIONS_BUCKET" "$RVA_WAREHOUSE_BUCKET"; do
  mc mb --ignore-existing "rva/$bucket"
done

# The policy names the buckets through ${...} placeholders; expand them with the shell alone (the
# mc image has no sed). The template is a file of this repository, not user input.
template=$(cat /init/pipeline-policy.json)
eval "cat > /tmp/pipeline-policy.json <<POLICY
$template
POLICY"

# `user add` on an existing user sets its secret: this is also how the secret is rotated.
mc admin user add rva "$RVA_PIPELINE_ACCESS_KEY" "$RVA_PIPELINE_SECRET_KEY" >/dev/null
mc admin policy create rva rva-pipeline /tmp/pipeline-policy.json
if ! out=$(mc admin policy attach rva rva-pipeline --user "$RVA_PIPELINE_ACCESS_KEY" 2>&1); then
  case "$out" in
    *"already in effect"*) echo "policy rva-pipeline already attached to $RVA_PIPELINE_ACCESS_KEY" ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi
mc ls rva
