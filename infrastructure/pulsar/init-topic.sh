#!/usr/bin/env bash
# One-shot: tenant `retail`, namespace `metadata` with retention and deduplication, and the events
# topic. Every step is idempotent so the job can run on every `up`. The topic's JSON schema is
# registered by the first producer (`retail-assets publish`), so it always matches the code.
set -euo pipefail
admin=(bin/pulsar-admin --admin-url "http://pulsar:8080")
topic="${PULSAR_TOPIC:-persistent://retail/metadata/events}"

"${admin[@]}" tenants create retail --allowed-clusters standalone 2>/dev/null || echo "tenant retail exists"
"${admin[@]}" namespaces create retail/metadata 2>/dev/null || echo "namespace retail/metadata exists"
# Bronze partitions are rebuilt by reading back from Pulsar, so messages must outlive their ack.
"${admin[@]}" namespaces set-retention retail/metadata \
  --size "${PULSAR_RETENTION_SIZE:--1}" --time "${PULSAR_RETENTION_TIME:--1}"
"${admin[@]}" namespaces set-deduplication retail/metadata --enable
"${admin[@]}" topics create "$topic" 2>/dev/null || echo "topic $topic exists"
"${admin[@]}" namespaces get-retention retail/metadata
