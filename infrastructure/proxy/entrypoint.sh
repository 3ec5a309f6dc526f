#!/bin/sh
# Hashes PROXY_PASSWORD with bcrypt (caddy hash-password), drops the plain password from the
# environment, then starts Caddy with infrastructure/proxy/Caddyfile. Hashing here means .env
# holds only the password operators type, and nothing has to produce bcrypt on the host.
set -eu
: "${PROXY_USER:?PROXY_USER is empty}"
: "${PROXY_PASSWORD:?PROXY_PASSWORD is empty (make secrets writes .env)}"
: "${PROXY_HOSTNAME:?PROXY_HOSTNAME is empty}"
PROXY_PASSWORD_HASH=$(caddy hash-password --plaintext "$PROXY_PASSWORD")
export PROXY_PASSWORD_HASH
unset PROXY_PASSWORD
exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile
