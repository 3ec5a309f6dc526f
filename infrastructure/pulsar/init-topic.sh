#!/usr/bin/env bash
# One-shot: tenant `retail`, namespace `metadata` with retention and deduplication, the events
# topic, and the pipeline role's permissions: produce and consume on retail/metadata, nothing
# else. Every step is idempotent so the job can run on every `up`. The topic's JSON schema is
# registered by the first producer (`retail-assets publish`), so it always matches the code.
set -euo pipefail
# The namespace's policies: one definition shared with the embedded stack (TENANT, NAMESPACE,
# RETENTION_SIZE_MB, RETENTION_TIME_MINUTES, DEDUPLICATION, PIPELINE_ACTIONS).
# shellcheck source=../../retail_assets/stack/pulsar_namespace.env
source /init/pulsar_namespace.env
: "${PULSAR_ADMIN_TOKEN:?PULSAR_ADMIN_TOKEN is empty (make secrets writes .env)}"
: "${PULSAR_PIPELINE_ROLE:?PULSAR_PIPELINE_ROLE is empty}"
if [ "$PULSAR_PIPELINE_ROLE" = "${PULSAR_ADMIN_ROLE:-}" ]; then
  echo "PULSAR_PIPELINE_ROLE must differ from PULSAR_ADMIN_ROLE (the superuser)" >&2
  exit 1
fi

# The admin token goes into this container's client.conf, not onto a command line (where `ps`
# would show it) and not into the log.
cat >> conf/client.conf <<CONF

webServiceUrl=http://pulsar:8080
authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
authParams=token:${PULSAR_ADMIN_TOKEN}
CONF
admin=(bin/pulsar-admin)
topic="${PULSAR_TOPIC:-persistent://retail/metadata/events}"

# pulsar-admin reads a bare number of minutes / megabytes with a unit; -1 (no limit) without one.
with_unit() { if [ "$1" = "-1" ]; then echo -1; else echo "$1$2"; fi; }
retention_size="${PULSAR_RETENTION_SIZE:-$(with_unit "$RETENTION_SIZE_MB" M)}"
retention_time="${PULSAR_RETENTION_TIME:-$(with_unit "$RETENTION_TIME_MINUTES" m)}"

"${admin[@]}" tenants create "$TENANT" --allowed-clusters standalone 2>/dev/null || echo "tenant $TENANT exists"
"${admin[@]}" namespaces create "$NAMESPACE" 2>/dev/null || echo "namespace $NAMESPACE exists"
# Bronze partitions are rebuilt by reading back from Pulsar, so messages must outlive their ack.
"${admin[@]}" namespaces set-retention "$NAMESPACE" --size "$retention_size" --time "$retention_time"
if [ "$DEDUPLICATION" = "true" ]; then
  "${admin[@]}" namespaces set-deduplication "$NAMESPACE" --enable
else
  "${admin[@]}" namespaces set-deduplication "$NAMESPACE" --disable
fi
"${admin[@]}" topics create "$topic" 2>/dev/null || echo "topic $topic exists"
# Granting again replaces the role's actions with the same set, so this is idempotent.
"${admin[@]}" namespaces grant-permission "$NAMESPACE" \
  --role "$PULSAR_PIPELINE_ROLE" --actions "$PIPELINE_ACTIONS"
"${admin[@]}" namespaces get-retention "$NAMESPACE"
"${admin[@]}" namespaces permissions "$NAMESPACE"
