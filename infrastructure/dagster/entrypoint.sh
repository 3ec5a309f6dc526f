#!/bin/sh
# Renders $DAGSTER_HOME/dagster.yaml from its template (integer settings Dagster cannot take from
# `{env: ...}`), then runs the container's command.
set -eu
python - <<'PY'
import os
home = os.environ["DAGSTER_HOME"]
with open(os.path.join(home, "dagster.yaml.template")) as src:
    rendered = os.path.expandvars(src.read())
with open(os.path.join(home, "dagster.yaml"), "w") as dst:
    dst.write(rendered)
PY
exec "$@"
