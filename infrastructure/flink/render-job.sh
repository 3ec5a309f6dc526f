#!/usr/bin/env bash
# Prints infrastructure/flink/bronze_ingest.sql (or the file given) with its placeholders (names between @ signs)
# filled in from the environment. Flink SQL cannot read the environment, so the compose
# containers and the local stack (retail_assets/stack/flink_cluster.py) both run this and hand
# the result to `sql-client.sh -f`; write it to a file only its owner can read (it holds a token).
#   PULSAR_SERVICE_URL, PULSAR_AUTH_TOKEN                     the broker and the pipeline's token
#   ICEBERG_REST_URI, ICEBERG_WAREHOUSE, S3_ENDPOINT          the Iceberg REST catalog and its S3
#   ICEBERG_CREDENTIAL (optional)   OAuth2 client credentials `<id>:<secret>` for the catalog
#   CHECKPOINT_INTERVAL (optional)  Flink's checkpoint interval, default 30s
set -euo pipefail
template="${1:-$(dirname "$0")/bronze_ingest.sql}"
sql="$(<"$template")"
: "${CHECKPOINT_INTERVAL:=30s}"
for name in PULSAR_SERVICE_URL PULSAR_AUTH_TOKEN ICEBERG_REST_URI ICEBERG_WAREHOUSE \
  S3_ENDPOINT CHECKPOINT_INTERVAL; do
  value="${!name:-}"
  [ -n "$value" ] || { echo "render-job.sh: $name is not set (the job needs it)" >&2; exit 1; }
  # Quoted replacement: an & or \ in a value (a token, a URL) stays as it is.
  sql="${sql//@${name}@/"$value"}"
done
if [ -n "${ICEBERG_CREDENTIAL:-}" ]; then
  auth="'credential' = '${ICEBERG_CREDENTIAL}',"
else
  auth=""
fi
sql="${sql//@ICEBERG_AUTH@/"$auth"}"
if [[ "$sql" =~ @[A-Z_]+@ ]]; then
  echo "render-job.sh: $template has a placeholder this script does not fill: ${BASH_REMATCH[0]}" >&2
  exit 1
fi
printf '%s\n' "$sql"
