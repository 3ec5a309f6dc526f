#!/usr/bin/env bash
# Resolves the embedded stack's Apache Pulsar broker from Maven Central into one classpath folder
# and checks every jar against the SHA-256 pins in jars.sha256 (next to this script).
#   install.sh <dest>                 resolve into <dest>/lib, verify, write <dest>/.installed
#   install.sh <dest> --update-pins   resolve, then rewrite jars.sha256 from what was resolved
# Maven checks each download against the checksum Maven Central publishes beside it
# (--strict-checksums); the pins then fix the exact bytes, so a changed artifact fails the install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:?usage: install.sh <dest> [--update-pins]}"
pins="$here/jars.sha256"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
if [ "${2:-}" != "--update-pins" ] && [ -f "$dest/.installed" ] && cmp -s "$pins" "$dest/.installed"; then
  exit 0
fi
command -v mvn >/dev/null || { echo "install.sh: Maven (mvn) is needed to resolve the Pulsar broker" >&2; exit 1; }
command -v java >/dev/null || { echo "install.sh: a Java 17+ runtime is needed to run the Pulsar broker" >&2; exit 1; }
rm -rf "$dest/lib" "$dest/.installed"
echo "resolving Apache Pulsar broker $(grep -o '<pulsar.version>[^<]*' "$here/pom.xml" | cut -d'>' -f2) from Maven Central into $dest/lib"
mvn -B -q --strict-checksums -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$dest/lib"
if [ "${2:-}" = "--update-pins" ]; then
  (cd "$dest/lib" && sha256sum -- *.jar | LC_ALL=C sort -k2) > "$pins"
  echo "wrote $(wc -l < "$pins") pins to $pins"
fi
(cd "$dest/lib" && ls -- *.jar | LC_ALL=C sort) > "$dest/resolved.txt"
if ! diff <(awk '{print $2}' "$pins") "$dest/resolved.txt" >/dev/null; then
  echo "install.sh: the resolved jars differ from the pinned list in $pins:" >&2
  diff <(awk '{print $2}' "$pins") "$dest/resolved.txt" >&2 || true
  exit 1
fi
(cd "$dest/lib" && sha256sum --quiet -c "$pins") || { echo "install.sh: a jar does not match its pin in $pins" >&2; exit 1; }
cp "$pins" "$dest/.installed"
echo "Apache Pulsar broker: $(wc -l < "$pins") jars verified in $dest/lib"
