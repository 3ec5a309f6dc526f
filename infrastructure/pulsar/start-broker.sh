#!/usr/bin/env bash
# Starts the standalone broker with token authentication and authorization on.
# The settings are appended to the config files here rather than passed through the image's
# apply-config-from-env.py, because that script logs every value it applies (the signing key
# and the admin token would end up in `docker compose logs`). Java properties files keep the
# last value of a repeated key, so the appended lines win over the defaults. The pristine files
# are kept aside, so a restart with rotated secrets starts from them, not from old appends.
set -euo pipefail
: "${PULSAR_TOKEN_SECRET_KEY:?PULSAR_TOKEN_SECRET_KEY is empty (make secrets writes .env)}"
: "${PULSAR_ADMIN_TOKEN:?PULSAR_ADMIN_TOKEN is empty (make secrets writes .env)}"
: "${PULSAR_ADMIN_ROLE:?PULSAR_ADMIN_ROLE is empty}"

for conf in conf/standalone.conf conf/client.conf; do
  [ -f "$conf.orig" ] || cp "$conf" "$conf.orig"
  cp "$conf.orig" "$conf"
done

cat >> conf/standalone.conf <<CONF

# --- retail-video-analytics: token authentication and authorization ---
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=data:;base64,${PULSAR_TOKEN_SECRET_KEY}
authorizationEnabled=true
superUserRoles=${PULSAR_ADMIN_ROLE}
# The broker's own clients (standalone's internal admin calls) authenticate as the superuser.
brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
brokerClientAuthenticationParameters=token:${PULSAR_ADMIN_TOKEN}
CONF

# bin/pulsar-admin in this container (the health check) authenticates as the superuser.
cat >> conf/client.conf <<CONF

authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
authParams=token:${PULSAR_ADMIN_TOKEN}
CONF

exec bin/pulsar standalone --no-functions-worker --no-stream-storage
