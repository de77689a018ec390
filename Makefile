# `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev install-ops system-packages translations messages run test test-ha lint bench profile flower clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-ops.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(VENV)/.ops: requirements.txt requirements-ops.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-ops.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev
install-ops: $(VENV)/.ops

# The answers' texts: .po files are in the repository, .mo files are built here.
CATALOGS := $(wildcard project/translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGS:.po=.mo)
%.mo: %.po | $(VENV)/.runtime
	$(BIN)/pybabel -q compile -i $< -o $@

# After changing a text in project/messages.py: refresh the template and the catalogues.
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output \
		-o project/translations/messages.pot project
	$(BIN)/pybabel -q update -i project/translations/messages.pot -d project/translations \
		--no-fuzzy-matching

run: install translations
	$(BIN)/python -m tools.run

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

system-packages:
	@tools/system_packages.sh

test: lint system-packages translations
	$(BIN)/python -m pytest

# The heavy failover runs (a 3-node RabbitMQ cluster, network namespaces as
# hosts), left out of `make test`; see docs/scaling.md.
test-ha: install-dev system-packages translations
	$(BIN)/python -m pytest -m ha -rA

bench: install-dev system-packages
	$(BIN)/python -m bench

profile: install-dev
	$(BIN)/python -m bench.profile

# Flower on 127.0.0.1:$(FLOWER_PORT), against the broker in CELERY_BROKER_URL or
# REDIS_URL; workers show their tasks once started with -E (docs/operations.md).
FLOWER_PORT ?= 5555
flower: install-ops
	$(BIN)/celery -A celery_worker.celery flower --address=127.0.0.1 --port=$(FLOWER_PORT)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
