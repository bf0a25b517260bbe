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

# The tool defaults to production (which refuses to start without its secrets); the demo
# asks for development explicitly: the sandbox LMS, the development secret and a sealing
# key generated into var/sealing.key. `cpt-lti serve` says so when it starts.
# The sandbox LMS and the local Ralph LRS listen on loopback, which the outbound policy
# refuses unless it is allowed by name.
DEV_ENV := CPT_LTI_ENVIRONMENT=development CPT_LTI_OUTBOUND_ALLOW_NETWORKS="127.0.0.0/8 ::1/128"

# `make run PORT=5001` (or CPT_LTI_PORT=5001 in the environment) moves the tool, its base
# URL and the sandbox LMS's registered tool URLs together: `cpt-lti init` moves the sandbox
# platforms' rows to the new port instead of adding copies. The local Ralph LRS takes 8100,
# or a free port when that is taken (`serve` prints which).
PORT ?= $(or $(CPT_LTI_PORT),5000)

run: install
	$(DEV_ENV) CPT_LTI_PORT=$(PORT) $(BIN)/cpt-lti init
	$(DEV_ENV) CPT_LTI_PORT=$(PORT) $(BIN)/cpt-lti serve --host 127.0.0.1 --local-lrs

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
