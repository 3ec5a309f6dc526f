#!/usr/bin/env bash
# Debian packages the tests and the demo use: the sample video (opencv-doc), headless Chromium
# for the UI test, PostgreSQL for the production-configuration tests, docker-compose to validate
# docker-compose.yml offline.
set -euo pipefail

packages=(opencv-doc chromium chromium-driver postgresql docker-compose)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "note: missing Debian packages: ${missing[*]} (install them as root; tests that need them fail without)" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
