# The two commands of the quick start: `make up` runs the whole system,
# `make test` runs the whole test suite. Both create the virtualenv on first use,
# installing the exact versions (and hashes) of requirements-dev.lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
           --no-emit-index-url --no-emit-find-links

.PHONY: up test lint unit e2e bench lock clean compose-test broker-config

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/mercato up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/deptry .

test: lint
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/service tests/contract

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

bench: $(STAMP)
	$(BIN)/python -m bench

# After changing the dependencies in pyproject.toml: pin them again, with hashes.
lock: $(STAMP)
	$(COMPILE) --extra dev -o requirements-dev.lock pyproject.toml
	$(COMPILE) -o requirements.lock pyproject.toml

# After adding a service or an event type: the production brokers' users and rights
# (deploy/nats/nats.conf, the Kubernetes ConfigMap) generated again from the code.
broker-config: $(STAMP)
	$(BIN)/python -c 'import pathlib, mercato.launcher.broker_config as b; \
	[p.write_text(b.replace_generated_block(p.read_text(), b.production_nats_authorization())) \
	 for p in map(pathlib.Path, ("deploy/nats/nats.conf", "deploy/k8s/components/nats/nats.yaml"))]'

clean:
	rm -rf $(VENV) .mercato .mypy_cache .ruff_cache .pytest_cache

# deploy/compose.yaml under podman (tests/container): builds the images (from Debian's
# packages, cached), runs the stack on a free 127.0.0.1 port, the journey and the
# fault tests, and takes it down. Needs root, podman, runc and debootstrap.
compose-test: $(STAMP)
	MERCATO_CONTAINER_TESTS=1 $(BIN)/python -m pytest tests/container -p no:cacheprovider
