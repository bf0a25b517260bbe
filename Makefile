# Developer entry points; the README documents `make run` and `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the dependencies change, not on every `make run`.
STAMP := $(VENV)/.installed

.PHONY: install run test lint

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/cpt-lti init
	$(BIN)/cpt-lti serve --host 127.0.0.1 --port 5000 --local-lrs

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
