#!/usr/bin/env bash
# One-shot: tenant `retail`, namespace `metadata` with retention and deduplication, the events
# topic, and the pipeline role's permissions: produce and consume on retail/metadata, nothing
# else. Every step is idempotent so the job can run on every `up`. The topic's JSON schema is
# registered by the first producer (`retail-assets publish`), so it always matches the code.
set -euo pipefail
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

"${admin[@]}" tenants create retail --allowed-clusters standalone 2>/dev/null || echo "tenant retail exists"
"${admin[@]}" namespaces create retail/metadata 2>/dev/null || echo "namespace retail/metadata exists"
# Bronze partitions are rebuilt by reading back from Pulsar, so messages must outlive their ack.
"${admin[@]}" namespaces set-retention retail/metadata \
  --size "${PULSAR_RETENTION_SIZE:--1}" --time "${PULSAR_RETENTION_TIME:--1}"
"${admin[@]}" namespaces set-deduplication retail/metadata --enable
"${admin[@]}" topics create "$topic" 2>/dev/null || echo "topic $topic exists"
# Granting again replaces the role's actions with the same set, so this is idempotent.
"${admin[@]}" namespaces grant-permission retail/metadata \
  --role "$PULSAR_PIPELINE_ROLE" --actions produce,consume
"${admin[@]}" namespaces get-retention retail/metadata
"${admin[@]}" namespaces permissions retail/metadata
