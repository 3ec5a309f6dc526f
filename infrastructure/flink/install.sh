#!/usr/bin/env bash
# Assembles the local stack's Flink 1.18.1 (FLINK_HOME) from the package registries, no Docker:
#   install.sh <dest>                 build <dest>, verify, write <dest>/.installed
#   install.sh <dest> --update-pins   same, then rewrite jars.sha256 from the resolved connectors
# The distribution comes from PyPI's two Flink source archives (hash-pinned in
# distribution-requirements.txt); the connector jars of pom.xml come from Maven Central
# (--strict-checksums against its published checksums), then each is checked against the
# SHA-256 pins in jars.sha256, the same pins the compose image's build checks.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:?usage: install.sh <dest> [--update-pins]}"
pins="$here/jars.sha256"
stamp() { cat "$here/distribution-requirements.txt" "$pins" "$here/opt-jars.sha256"; }
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
if [ "${2:-}" != "--update-pins" ] && [ -f "$dest/.installed" ] && cmp -s <(stamp) "$dest/.installed"; then
  exit 0
fi
command -v mvn >/dev/null || { echo "install.sh: Maven (mvn) is needed to resolve Flink's connectors" >&2; exit 1; }
command -v java >/dev/null || { echo "install.sh: a Java 11 or 17 runtime is needed to run Flink" >&2; exit 1; }
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$dest/.installed" "$dest/home"

echo "downloading Flink 1.18.1 from PyPI (two source archives, hash-pinned)"
"$python" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
  -r "$here/distribution-requirements.txt" -d "$work/archives"
mkdir -p "$work/home"
for archive in "$work"/archives/*.tar.gz; do
  # Each archive's deps/ is one half of the distribution (scripts and conf; jars).
  tar -xzf "$archive" -C "$work" --wildcards '*/deps/*'
done
for deps in "$work"/apache-flink*/deps; do
  cp -a "$deps"/. "$work/home/"
done
# PyFlink's Python examples are not used (the SQL client still loads opt/flink-python).
rm -rf "$work/home/examples" "$work/home/pyflink"
for needed in bin/start-cluster.sh bin/sql-client.sh lib/flink-dist-1.18.1.jar conf/flink-conf.yaml; do
  [ -e "$work/home/$needed" ] || { echo "install.sh: the Flink archives lack $needed" >&2; exit 1; }
done
chmod +x "$work/home"/bin/*.sh "$work/home/bin/flink"

echo "resolving Flink's connector jars from Maven Central"
mvn -B -q --strict-checksums -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$work/connectors"
if [ "${2:-}" = "--update-pins" ]; then
  {
    grep '^#' "$pins"
    (cd "$work/connectors" && sha256sum -- *.jar | LC_ALL=C sort -k2)
  } > "$work/pins" && cp "$work/pins" "$pins"
  echo "wrote $(grep -vc '^#' "$pins") pins to $pins"
fi
grep -v '^#' "$pins" | grep . > "$work/pinned"
(cd "$work/connectors" && ls -- *.jar | LC_ALL=C sort) > "$work/resolved"
if ! diff <(awk '{print $2}' "$work/pinned") "$work/resolved" >/dev/null; then
  echo "install.sh: the resolved connector jars differ from the pinned list in $pins:" >&2
  diff <(awk '{print $2}' "$work/pinned") "$work/resolved" >&2 || true
  exit 1
fi
(cd "$work/connectors" && sha256sum --quiet -c "$work/pinned") \
  || { echo "install.sh: a connector jar does not match its pin in $pins" >&2; exit 1; }
cp "$work"/connectors/*.jar "$work/home/lib/"

echo "resolving the SQL gateway jar (the SQL client needs it) from Maven Central"
mvn -B -q --strict-checksums dependency:copy -Dartifact=org.apache.flink:flink-sql-gateway:1.18.1 \
  -DoutputDirectory="$work/home/opt"
(cd "$work/home/opt" && grep -v '^#' "$here/opt-jars.sha256" | grep . | sha256sum --quiet -c -) \
  || { echo "install.sh: a jar of opt/ does not match its pin in $here/opt-jars.sha256" >&2; exit 1; }
mv "$work/home" "$dest/home"
stamp > "$dest/.installed"
echo "Flink 1.18.1: $dest/home, $(wc -l < "$work/pinned") connector jars verified"
