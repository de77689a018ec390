# `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev system-packages run test test-ha lint bench profile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-ops.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(BIN)/python -m tools.run

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

system-packages:
	@tools/system_packages.sh

test: lint system-packages
	$(BIN)/python -m pytest

# The heavy failover runs (a 3-node RabbitMQ cluster, network namespaces as
# hosts), left out of `make test`; see docs/scaling.md.
test-ha: install-dev system-packages
	$(BIN)/python -m pytest -m ha -rA

bench: install-dev system-packages
	$(BIN)/python -m bench

profile: install-dev
	$(BIN)/python -m bench.profile

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
